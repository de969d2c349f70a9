#!/bin/bash
# flannel2calico host cleanup: removes what flannel (or Canal's flannel) leaves on a node, so that
# calico-node can take the node over. Runs in a privileged pod with hostNetwork and the host's /
# mounted at HOST_ROOT, after the node is drained and flannel's pod has left it. Needs bash and
# the commands lib.sh lists (all in the calico/node image); it checks them before changing anything.
#
# Environment:
#   HOST_ROOT        where the host's / is mounted (default /host; empty for / itself)
#   VNI              flannel's VXLAN VNI (default 1): devices flannel.<VNI>, flannel-v6.<VNI>
#   FLAVOUR          flannel | canal (default flannel); Canal has no cni0 bridge
#   CNI_CONFIG_DIR   the kubelet's CNI config directory on the host (default /etc/cni/net.d)
#   CALICO_CNI_CONF  Calico's CNI config file name, never removed (default 10-calico.conflist)
#   MODE             run (default) | check: check the inputs and the image's commands, change nothing
#   NODE_NAME        only used in messages
#
# Exit status: 0 the node is clean of flannel (check: the script can run here); 1 something could
# not be removed or checked (an "error:" line says what); 2 bad input or a missing command, nothing
# changed. Running it again is safe: every step checks before it acts.
set -u

if [ -z "${F2C_LIB_LOADED:-}" ]; then
  case $0 in */*) f2c_dir=${0%/*} ;; *) f2c_dir=. ;; esac
  . "$f2c_dir/lib.sh"
fi

F2C_SCRIPT=cleanup.sh
f2c_read_common_env
f2c_start

# Marks Calico's config slot until calico-node's install-cni writes the real file, so that the
# runtime neither falls back to another leftover config nor networks pods in the meantime: every
# pod sandbox fails with this plugin name until Calico is installed.
f2c_placeholder_type=flannel2calico-migration-in-progress
f2c_placeholder='{"name":"flannel2calico-placeholder","cniVersion":"0.3.1","plugins":[{"type":"'$f2c_placeholder_type'"}]}'

cni_dir="$HOST_ROOT$CNI_CONFIG_DIR"

# 1. CNI config first, so that no new pod gets flannel networking while the rest goes away.
if [ ! -d "$cni_dir" ]; then
  f2c_say "already absent: CNI config directory $CNI_CONFIG_DIR"
else
  calico_conf="$CNI_CONFIG_DIR/$CALICO_CNI_CONF"
  if [ -e "$HOST_ROOT$calico_conf" ]; then
    calico_text=
    read -r -d '' calico_text 2>/dev/null <"$HOST_ROOT$calico_conf" || true
    if [[ $calico_text == *"$f2c_placeholder_type"* ]]; then
      f2c_say "kept: file $calico_conf (placeholder until calico-node installs its CNI config)"
    else
      f2c_say "kept: file $calico_conf (Calico's CNI config)"
    fi
  elif f2c_err=$(printf '%s\n' "$f2c_placeholder" 2>&1 >"$HOST_ROOT$calico_conf"); then
    f2c_say "wrote file $calico_conf (placeholder until calico-node installs its CNI config)"
  else
    f2c_fail "could not write placeholder $calico_conf: $f2c_err"
  fi

  if [ "$FLAVOUR" = canal ]; then own_conf=10-canal.conflist; else own_conf=10-flannel.conflist; fi
  removed_by_name=
  if [ "$own_conf" != "$CALICO_CNI_CONF" ]; then
    f2c_remove_file "$CNI_CONFIG_DIR/$own_conf"
    removed_by_name=$own_conf
  fi
  f2c_list_cni_config_files "$cni_dir"
  for name in "${f2c_cni_files[@]}"; do
    [ "$name" = "$CALICO_CNI_CONF" ] && continue
    [ "$name" = "$removed_by_name" ] && continue
    if ! plugin=$(f2c_cni_first_plugin_type "$cni_dir/$name" 2>&1); then
      f2c_fail "could not read $CNI_CONFIG_DIR/$name to check whether it is flannel's: $plugin"
    elif [ "$plugin" = flannel ]; then
      f2c_remove_file "$CNI_CONFIG_DIR/$name"
    fi
  done
  # The runtime uses the first file in byte order; one that sorts before Calico's wins over it.
  f2c_list_cni_config_files "$cni_dir"
  for name in "${f2c_cni_files[@]}"; do
    [ "$name" = "$CALICO_CNI_CONF" ] && continue
    if [[ $name < $CALICO_CNI_CONF ]]; then
      f2c_say "warning: $CNI_CONFIG_DIR/$name sorts before $CALICO_CNI_CONF, so the container runtime would use it instead of Calico; remove or rename it"
    fi
  done
fi

# 2. flannel's lease file: flannel's CNI plugin reads it for every pod it networks.
f2c_remove_file /run/flannel/subnet.env

# 3. Devices. Their routes, neighbour and FDB entries go with them.
f2c_remove_link "flannel.$VNI"
f2c_remove_link "flannel-v6.$VNI"
if [ "$FLAVOUR" = flannel ]; then
  f2c_remove_link cni0
else
  f2c_say "skipped: link cni0 (Canal does not use a bridge)"
fi

# 4. flanneld's iptables chains (FLANNEL-POSTRTG, FLANNEL-FWD) in every backend, and its
#    nftables tables when it ran with EnableNFTables.
f2c_remove_xtables_chains FLANNEL- "FLANNEL-* chains"
f2c_remove_nft_tables "ip flannel-ipv4" "ip6 flannel-ipv6"

# 5. host-local IPAM ledgers stay: pods that are still on the node hold those addresses, and a
#    revert hands the node back to flannel, whose bridge plugin reads them again.
for network in cbr0 k8s-pod-network; do
  ledger=/var/lib/cni/networks/$network
  if [ -d "$HOST_ROOT$ledger" ]; then
    count=0
    for entry in "$HOST_ROOT$ledger"/* "$HOST_ROOT$ledger"/.[!.]*; do
      [ -f "$entry" ] && [ ! -L "$entry" ] || continue
      case ${entry##*/} in last_reserved_ip* | lock) continue ;; esac
      count=$((count + 1))
    done
    f2c_say "kept: dir $ledger (host-local IPAM ledger, $count address(es) recorded)"
  fi
done

# Whatever the lines above said, the node is clean only if nothing of flannel is left now
# (a flanneld that is still running would have recreated it).
f2c_verify_links_gone "is flanneld still running on this node?" "flannel.$VNI" "flannel-v6.$VNI"
if [ "$FLAVOUR" = flannel ]; then
  f2c_verify_links_gone "" cni0
fi
if [ -e "$HOST_ROOT/run/flannel/subnet.env" ]; then
  f2c_fail "still present: file /run/flannel/subnet.env (is flanneld still running on this node?)"
fi
f2c_verify_xtables_chains_gone FLANNEL-
f2c_verify_nft_tables_gone "ip flannel-ipv4" "ip6 flannel-ipv6"

f2c_finish "done: ${NODE_NAME:-this node} is clean of flannel"
