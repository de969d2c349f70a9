#!/bin/bash
# flannel2calico host revert: removes what Calico set up on a node, so that flannel (or Canal)
# can take it back. Runs like cleanup.sh: a privileged pod with hostNetwork and the host's / at
# HOST_ROOT, after the node is drained and calico-node has left it. flannel's pod recreates
# flannel.<VNI>, cni0, subnet.env and its CNI config when it returns; nothing of flannel is
# restored here.
#
# Environment:
#   HOST_ROOT        where the host's / is mounted (default /host; empty for / itself)
#   CNI_CONFIG_DIR   the kubelet's CNI config directory on the host (default /etc/cni/net.d)
#   CALICO_CNI_CONF  Calico's CNI config file name, removed (default 10-calico.conflist)
#   POD_NETWORKS     optional: the IP pools' CIDRs (space- or comma-separated). Felix's routes
#                    (protocol 80) inside them are removed; without it, only its blackhole routes
#   FLAVOUR, VNI     accepted as for cleanup.sh (checked, otherwise unused)
#   MODE             run (default) | check: check the inputs and the image's commands, change nothing
#   NODE_NAME        only used in messages
#
# Needs bash and the commands lib.sh lists (all in the calico/node image); it checks them before
# changing anything. Exit status: 0 the node is clean of Calico's networking (check: the script
# can run here); 1 something could not be removed or checked; 2 bad input or a missing command,
# nothing changed. Running it again is safe.
set -u

if [ -z "${F2C_LIB_LOADED:-}" ]; then
  case $0 in */*) f2c_dir=${0%/*} ;; *) f2c_dir=. ;; esac
  . "$f2c_dir/lib.sh"
fi

F2C_SCRIPT=revert.sh
f2c_read_common_env
POD_NETWORKS=${POD_NETWORKS:-}
POD_NETWORKS=${POD_NETWORKS//,/ }
for network in $POD_NETWORKS; do
  case $network in
    *[!0-9A-Fa-f.:/]*) f2c_usage_error "POD_NETWORKS must hold CIDRs such as 10.244.0.0/16, not '$network'" ;;
    */*) ;;
    *) f2c_usage_error "POD_NETWORKS must hold CIDRs such as 10.244.0.0/16, not '$network'" ;;
  esac
done
f2c_start

# Felix's routes carry this protocol number (its VXLAN route manager's default).
felix_route_protocol=80

# 1. Calico's CNI config (or the placeholder cleanup.sh wrote in its slot) and its kubeconfig.
f2c_remove_file "$CNI_CONFIG_DIR/$CALICO_CNI_CONF"
f2c_remove_file "$CNI_CONFIG_DIR/calico-kubeconfig"

# 2. Calico's VXLAN devices; the routes to other nodes' blocks go with them.
f2c_remove_link vxlan.calico
f2c_remove_link vxlan-v6.calico
if f2c_list_links; then
  for link in "${f2c_links[@]}"; do
    [[ $link == cali* ]] && f2c_say "kept: link $link (a pod's interface; it goes when its pod is deleted)"
  done
fi

# 3. Felix's other routes: blackholes for this node's blocks (and, inside POD_NETWORKS, any
#    route it left, e.g. same-subnet routes through eth0).
# Prints them as "<family> <route>" lines; fails (printing ip's error) when they cannot be listed.
felix_routes() {
  local network family out line query
  local -a queries=()
  if [ -n "$POD_NETWORKS" ]; then
    for network in $POD_NETWORKS; do
      case $network in *:*) family=-6 ;; *) family=-4 ;; esac
      queries+=("$family route show proto $felix_route_protocol root $network")
    done
  else
    queries=("-4 route show type blackhole proto $felix_route_protocol" "-6 route show type blackhole proto $felix_route_protocol")
  fi
  for query in "${queries[@]}"; do
    # shellcheck disable=SC2086 # the words of one query
    out=$(ip $query 2>&1) || { printf '%s\n' "ip $query: $out"; return 1; }
    [ -n "$out" ] || continue
    while IFS= read -r line; do
      printf '%s %s\n' "${query%% *}" "$line"
    done <<<"$out"
  done
}
remove_felix_routes() {
  if ! routes=$(felix_routes); then
    f2c_fail "could not list routes, so Felix's were not checked: $routes"
    return
  fi
  removed_any=
  old_ifs=$IFS
  IFS='
'
  for route in $routes; do
    IFS=$old_ifs
    # shellcheck disable=SC2086 # the fields of one route line
    set -- $route
    family=$1
    shift
    case $1 in
      blackhole | unreachable | prohibit | throw) type=$1 prefix=$2 ;;
      *) type= prefix=$1 ;;
    esac
    [ "$prefix" = default ] && continue
    # shellcheck disable=SC2086 # an empty type must vanish
    if err=$(ip "$family" route del $type "$prefix" proto "$felix_route_protocol" 2>&1); then
      f2c_say "removed route ${type:+$type }$prefix proto $felix_route_protocol"
    else
      f2c_fail "could not remove route ${type:+$type }$prefix proto $felix_route_protocol: $err"
    fi
    removed_any=1
  done
  IFS=$old_ifs
  if [ -z "$removed_any" ]; then
    if [ -n "$POD_NETWORKS" ]; then
      f2c_say "already absent: routes of protocol $felix_route_protocol in $POD_NETWORKS"
    else
      f2c_say "already absent: blackhole routes of protocol $felix_route_protocol"
    fi
  fi
}
remove_felix_routes

# 4. Felix's iptables chains (cali-*) in every backend, and its nftables tables (nftables mode).
f2c_remove_xtables_chains cali- "cali-* chains"
f2c_remove_nft_tables "ip calico" "ip6 calico"

# Whatever the lines above said, check what is left.
f2c_verify_links_gone "is calico-node still running on this node?" vxlan.calico vxlan-v6.calico
for file in "$CALICO_CNI_CONF" calico-kubeconfig; do
  if [ -e "$HOST_ROOT$CNI_CONFIG_DIR/$file" ]; then
    f2c_fail "still present: file $CNI_CONFIG_DIR/$file (is calico-node still running on this node?)"
  fi
done
if ! left=$(felix_routes); then
  f2c_fail "could not list routes to check that Felix's are gone: $left"
elif [ -n "$left" ]; then
  f2c_fail "still present: routes of protocol $felix_route_protocol: ${left//$'\n'/;}"
fi
f2c_verify_xtables_chains_gone cali-
f2c_verify_nft_tables_gone "ip calico" "ip6 calico"

f2c_finish "done: ${NODE_NAME:-this node} is clean of Calico's networking"
