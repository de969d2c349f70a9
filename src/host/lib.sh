# shellcheck shell=sh
# Shared functions of cleanup.sh and revert.sh. loadHostScript() puts this file in front of the
# script text that the Job runs; run as a file, each script sources it from its own directory.
#
# Every function prints one line per item:
#   removed <what>            the item existed and is gone now
#   already absent: <what>    nothing to do
#   kept: <what> (<why>)      found and deliberately left in place
#   wrote <what>              a file was written
#   skipped: <what> (<why>)   a check that this host or image cannot do
#   warning: <text>           left in place, but needs a person's attention
#   error: <text>             could not be done; the script exits 1 at the end

F2C_LIB_LOADED=1
f2c_problems=0
f2c_tab=$(printf '\t')

f2c_say() {
  printf '%s\n' "$*"
}

f2c_fail() {
  printf 'error: %s\n' "$*"
  f2c_problems=$((f2c_problems + 1))
}

f2c_usage_error() {
  printf 'error: %s\n' "$*" >&2
  exit 2
}

f2c_have() {
  command -v "$1" >/dev/null 2>&1
}

# Common inputs. HOST_ROOT may be empty to work on / directly.
f2c_read_common_env() {
  HOST_ROOT=${HOST_ROOT-/host}
  HOST_ROOT=${HOST_ROOT%/}
  CNI_CONFIG_DIR=${CNI_CONFIG_DIR:-/etc/cni/net.d}
  CNI_CONFIG_DIR=${CNI_CONFIG_DIR%/}
  FLAVOUR=${FLAVOUR:-flannel}
  VNI=${VNI:-1}
  CALICO_CNI_CONF=${CALICO_CNI_CONF:-10-calico.conflist}

  case $FLAVOUR in
    flannel | canal) ;;
    *) f2c_usage_error "FLAVOUR must be flannel or canal, not '$FLAVOUR'" ;;
  esac
  case $VNI in
    '' | *[!0-9]*) f2c_usage_error "VNI must be a number from 0 to 16777215, not '$VNI'" ;;
  esac
  if [ "${#VNI}" -gt 8 ] || [ "$VNI" -gt 16777215 ]; then
    f2c_usage_error "VNI must be a number from 0 to 16777215, not '$VNI'"
  fi
  case $CNI_CONFIG_DIR in
    /*) ;;
    *) f2c_usage_error "CNI_CONFIG_DIR must be an absolute path, not '$CNI_CONFIG_DIR'" ;;
  esac
  case $CALICO_CNI_CONF in
    '' | */* | . | ..) f2c_usage_error "CALICO_CNI_CONF must be a file name, not '$CALICO_CNI_CONF'" ;;
  esac
  if [ -n "$HOST_ROOT" ] && [ ! -d "$HOST_ROOT" ]; then
    f2c_usage_error "HOST_ROOT '$HOST_ROOT' is not a directory (is the host's / mounted there?)"
  fi
  if ! f2c_have ip; then
    f2c_usage_error "the 'ip' command (iproute2) is missing from this image"
  fi
}

# --- network devices -------------------------------------------------------------------------

# Names of all links in this network namespace, one a line ("cali1234@if2" -> "cali1234").
f2c_link_names() {
  ip -o link show | awk -F': ' '{ name = $2; sub(/@.*/, "", name); print name }'
}

f2c_link_exists() {
  f2c_link_names | grep -qxF -- "$1"
}

f2c_remove_link() {
  if ! f2c_links=$(f2c_link_names); then
    f2c_fail "could not list network devices"
    return
  fi
  if ! printf '%s\n' "$f2c_links" | grep -qxF -- "$1"; then
    f2c_say "already absent: link $1"
    return
  fi
  if f2c_err=$(ip link delete dev "$1" 2>&1); then
    f2c_say "removed link $1"
  else
    f2c_fail "could not remove link $1: $f2c_err"
  fi
}

# --- files under HOST_ROOT (paths given as the host sees them) --------------------------------

f2c_remove_file() {
  f2c_path="$HOST_ROOT$1"
  if [ ! -e "$f2c_path" ] && [ ! -L "$f2c_path" ]; then
    f2c_say "already absent: file $1"
    return
  fi
  if f2c_err=$(rm -f -- "$f2c_path" 2>&1) && [ ! -e "$f2c_path" ] && [ ! -L "$f2c_path" ]; then
    f2c_say "removed file $1"
  else
    f2c_fail "could not remove file $1: ${f2c_err:-it is still there}"
  fi
}

# Prints the CNI plugin type a config file selects: the first plugin's "type" of a .conflist, or
# the top-level "type" of a .conf. A small JSON scanner, because the image has no JSON tool and
# the keys may come in any order.
f2c_cni_first_plugin_type() {
  awk '
    { text = text $0 "\n" }
    END {
      n = length(text); d = 0; i = 1; top = ""
      while (i <= n) {
        c = substr(text, i, 1)
        if (c == "\"") {
          s = ""; j = i + 1
          while (j <= n) {
            ch = substr(text, j, 1)
            if (ch == "\\") { s = s substr(text, j, 2); j += 2; continue }
            if (ch == "\"") break
            s = s ch; j++
          }
          i = j + 1
          if (kind[d] == "{" && expectKey[d]) { key[d] = s; expectKey[d] = 0; continue }
          if (kind[d] == "{" && key[d] == "type") {
            if (d == 1) top = s
            if (d == 3 && kind[1] == "{" && kind[2] == "[" && arrayKey[2] == "plugins" && element[2] == 0) { print s; found = 1; exit }
          }
          continue
        }
        if (c == "{" || c == "[") {
          d++; kind[d] = c; expectKey[d] = (c == "{"); element[d] = 0; key[d] = ""
          arrayKey[d] = (kind[d - 1] == "{") ? key[d - 1] : ""
        } else if (c == "}" || c == "]") {
          d--
        } else if (c == ",") {
          if (kind[d] == "{") expectKey[d] = 1; else element[d]++
        }
        i++
      }
      if (!found && top != "") print top
    }
  ' "$1"
}

# CNI config files in the directory, sorted as the container runtime sorts them (byte order).
f2c_cni_config_files() {
  for f2c_file in "$1"/*.conf "$1"/*.conflist "$1"/*.json; do
    [ -f "$f2c_file" ] && printf '%s\n' "${f2c_file##*/}"
  done | LC_ALL=C sort
}

# --- iptables (every backend this image has: nft and legacy, IPv4 and IPv6) -------------------

# Prints "label<TAB>save-command<TAB>restore-command" for each backend to inspect, and
# "skip<TAB>reason" for each one that cannot be inspected here.
f2c_xtables_backends() {
  for f2c_family in iptables ip6tables; do
    f2c_found=
    for f2c_mode in nft legacy; do
      if f2c_have "$f2c_family-$f2c_mode-save" && f2c_have "$f2c_family-$f2c_mode-restore"; then
        f2c_found=1
        if [ "$f2c_mode" = legacy ]; then
          # Without the kernel's legacy tables there is nothing to read, and reading must not load them.
          if [ "$f2c_family" = iptables ]; then f2c_names=/proc/net/ip_tables_names; else f2c_names=/proc/net/ip6_tables_names; fi
          if [ ! -e "$f2c_names" ]; then
            printf 'skip%s%s-legacy (the kernel has no legacy tables)\n' "$f2c_tab" "$f2c_family"
            continue
          fi
        fi
        printf '%s-%s%s%s-%s-save%s%s-%s-restore\n' "$f2c_family" "$f2c_mode" "$f2c_tab" "$f2c_family" "$f2c_mode" "$f2c_tab" "$f2c_family" "$f2c_mode"
      fi
    done
    if [ -z "$f2c_found" ]; then
      if f2c_have "$f2c_family-save" && f2c_have "$f2c_family-restore"; then
        printf '%s%s%s-save%s%s-restore\n' "$f2c_family" "$f2c_tab" "$f2c_family" "$f2c_tab" "$f2c_family"
      else
        printf 'skip%s%s (not installed in this image)\n' "$f2c_tab" "$f2c_family"
      fi
    fi
  done
}

# From an iptables-save dump on stdin, prints "table<TAB>R<TAB>restore line" and
# "table<TAB>M<TAB>message" lines that delete every chain whose name starts with PREFIX, and
# every rule of another chain that jumps to one of them.
f2c_xtables_removal_plan() {
  awk -v prefix="$1" -v label="$2" -v tab="$f2c_tab" '
    /^\*/ { table = substr($0, 2); chains = ""; next }
    /^:/ {
      name = substr($1, 2)
      if (index(name, prefix) == 1) chains = chains " " name
      next
    }
    /^-A / {
      if (index($2, prefix) == 1) next
      target = ""
      for (i = NF - 1; i > 2; i--) if ($i == "-j" || $i == "-g") { target = $(i + 1); break }
      if (index(target, prefix) == 1) {
        line = $0; sub(/^-A /, "-D ", line)
        print table tab "R" tab line
        print table tab "M" tab "removed rule " label " " table " " $2 " -> " target
      }
      next
    }
    /^COMMIT/ {
      count = split(chains, list, " ")
      for (i = 1; i <= count; i++) print table tab "R" tab "-F " list[i]
      for (i = 1; i <= count; i++) {
        print table tab "R" tab "-X " list[i]
        print table tab "M" tab "removed chain " label " " table " " list[i]
      }
    }
  '
}

# Removes the chains starting with PREFIX (and the jumps to them) from every backend, one
# iptables-restore transaction per table. DESCRIPTION names them in "already absent" lines.
f2c_remove_xtables_chains() {
  f2c_prefix=$1
  f2c_description=$2
  f2c_backends=$(f2c_xtables_backends)
  f2c_oldifs=$IFS
  # Split the list on newlines only; it is split once, before the first iteration.
  IFS='
'
  for f2c_backend in $f2c_backends; do
    IFS=$f2c_oldifs
    f2c_label=${f2c_backend%%"$f2c_tab"*}
    f2c_rest=${f2c_backend#*"$f2c_tab"}
    if [ "$f2c_label" = skip ]; then
      f2c_say "skipped: $f2c_rest"
      continue
    fi
    f2c_save=${f2c_rest%%"$f2c_tab"*}
    f2c_restore=${f2c_rest#*"$f2c_tab"}
    if ! f2c_dump=$("$f2c_save" 2>&1); then
      f2c_fail "could not read $f2c_label rules ($f2c_save): $f2c_dump"
      continue
    fi
    f2c_plan=$(printf '%s\n' "$f2c_dump" | f2c_xtables_removal_plan "$f2c_prefix" "$f2c_label")
    if [ -z "$f2c_plan" ]; then
      f2c_say "already absent: $f2c_label $f2c_description"
      continue
    fi
    for f2c_table in $(printf '%s\n' "$f2c_plan" | cut -f1 | sort -u); do
      f2c_input=$(
        printf '*%s\n' "$f2c_table"
        printf '%s\n' "$f2c_plan" | awk -F "$f2c_tab" -v t="$f2c_table" '$1 == t && $2 == "R" { sub(/^[^\t]*\t[^\t]*\t/, ""); print }'
        printf 'COMMIT\n'
      )
      if f2c_err=$(printf '%s\n' "$f2c_input" | "$f2c_restore" -w -n 2>&1); then
        printf '%s\n' "$f2c_plan" | awk -F "$f2c_tab" -v t="$f2c_table" '$1 == t && $2 == "M" { print $3 }'
      else
        f2c_fail "could not remove $f2c_description from $f2c_label table $f2c_table: $f2c_err"
      fi
    done
  done
  IFS=$f2c_oldifs
}

# Fails for every backend that still has a chain starting with PREFIX.
f2c_verify_xtables_chains_gone() {
  f2c_backends=$(f2c_xtables_backends)
  f2c_oldifs=$IFS
  IFS='
'
  for f2c_backend in $f2c_backends; do
    IFS=$f2c_oldifs
    f2c_label=${f2c_backend%%"$f2c_tab"*}
    [ "$f2c_label" = skip ] && continue
    f2c_rest=${f2c_backend#*"$f2c_tab"}
    f2c_save=${f2c_rest%%"$f2c_tab"*}
    f2c_left=$("$f2c_save" 2>/dev/null | awk -v prefix="$1" '/^:/ && index(substr($1, 2), prefix) == 1 { printf "%s ", substr($1, 2) }')
    if [ -n "$f2c_left" ]; then
      f2c_fail "still present in $f2c_label: chains ${f2c_left% }"
    fi
  done
  IFS=$f2c_oldifs
}

# --- nftables tables (flannel's and Felix's nftables modes) ----------------------------------

# Arguments: "family name" pairs, e.g. "ip flannel-ipv4" "ip6 flannel-ipv6".
f2c_remove_nft_tables() {
  if ! f2c_have nft; then
    f2c_say "skipped: nftables tables $* (nft is not installed in this image)"
    return
  fi
  if ! f2c_tables=$(nft list tables 2>&1); then
    f2c_fail "could not list nftables tables: $f2c_tables"
    return
  fi
  for f2c_table in "$@"; do
    if ! printf '%s\n' "$f2c_tables" | grep -qxF -- "table $f2c_table"; then
      f2c_say "already absent: nftables table $f2c_table"
      continue
    fi
    # shellcheck disable=SC2086 # "family name" splits into two words on purpose
    if f2c_err=$(nft delete table $f2c_table 2>&1); then
      f2c_say "removed nftables table $f2c_table"
    else
      f2c_fail "could not remove nftables table $f2c_table: $f2c_err"
    fi
  done
}

f2c_verify_nft_tables_gone() {
  f2c_have nft || return 0
  f2c_tables=$(nft list tables 2>/dev/null) || return 0
  for f2c_table in "$@"; do
    if printf '%s\n' "$f2c_tables" | grep -qxF -- "table $f2c_table"; then
      f2c_fail "still present: nftables table $f2c_table"
    fi
  done
}

# --- result ----------------------------------------------------------------------------------

f2c_finish() {
  if [ "$f2c_problems" -gt 0 ]; then
    printf 'error: %s item(s) could not be removed from node %s; see the lines above\n' "$f2c_problems" "${NODE_NAME:-this node}"
    exit 1
  fi
  f2c_say "$1"
  exit 0
}
