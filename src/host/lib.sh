# shellcheck shell=bash
# Shared functions of cleanup.sh and revert.sh. loadHostScript() puts this file in front of the
# script text that the Job runs; run as a file, each script sources it from its own directory.
#
# The scripts run in the helper image (calico/node by default), whose build deletes most tools:
# no awk, head, wc, tr, cut, dirname, mktemp, xargs. They use bash (the image's /bin/sh) and
# only the external commands listed in F2C_NEEDED_COMMANDS; everything else is a bash builtin.
#
# Every function prints one line per item:
#   removed <what>            the item existed and is gone now
#   already absent: <what>    checked: nothing to do
#   kept: <what> (<why>)      found and deliberately left in place
#   wrote <what>              a file was written
#   skipped: <what> (<why>)   nothing to check there (e.g. the kernel has no legacy tables)
#   warning: <text>           left in place, but needs a person's attention
#   error: <text>             could not be done, or could not be checked; the script exits 1 at the end

# Written for sh as well, so that a shell other than bash reaches this line and says why it stops.
if [ -z "${BASH_VERSION:-}" ]; then
  echo "error: missing commands: bash (/bin/sh of this image is not bash); nothing was changed. Pass --helper-image with an image that has them, e.g. quay.io/calico/node:v3.32.1 (the calico/node image of the Calico manifest)" >&2
  exit 2
fi

F2C_LIB_LOADED=1
# Byte order for globs and [[ < ]], as the container runtime sorts CNI config files.
LC_ALL=C
f2c_problems=0
F2C_DEFAULT_IMAGE=quay.io/calico/node:v3.32.1
# Every external command either script runs. The iptables tools of both backends and nft are
# needed even where a backend is empty: without them the node could not be checked at all.
F2C_NEEDED_COMMANDS=(
  ip rm nft
  iptables-nft-save iptables-nft-restore ip6tables-nft-save ip6tables-nft-restore
  iptables-legacy-save iptables-legacy-restore ip6tables-legacy-save ip6tables-legacy-restore
)

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

# Exits 2, before anything is changed, naming every needed command this image lacks.
f2c_require_commands() {
  local cmd
  local -a missing=()
  for cmd in "${F2C_NEEDED_COMMANDS[@]}"; do
    f2c_have "$cmd" || missing+=("$cmd")
  done
  if ((${#missing[@]})); then
    local list
    printf -v list '%s, ' "${missing[@]}"
    printf 'error: missing commands: %s; %s needs them and changed nothing. Pass --helper-image with an image that has them, e.g. %s (the calico/node image of the Calico manifest)\n' \
      "${list%, }" "$F2C_SCRIPT" "$F2C_DEFAULT_IMAGE" >&2
    exit 2
  fi
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
  MODE=${MODE:-run}

  case $MODE in
    run | check) ;;
    *) f2c_usage_error "MODE must be run or check, not '$MODE'" ;;
  esac
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
}

# After the inputs are read: the command check, and in MODE=check the end of the run.
f2c_start() {
  f2c_require_commands
  if [ "$MODE" = check ]; then
    local list
    printf -v list '%s, ' "${F2C_NEEDED_COMMANDS[@]}"
    f2c_say "ok: bash $BASH_VERSION, ${list%, } found; $F2C_SCRIPT can run here"
    exit 0
  fi
}

# --- network devices -------------------------------------------------------------------------

# Fills f2c_links with the names of all links in this network namespace ("cali1234@if2" ->
# "cali1234"); returns 1 when they cannot be listed.
f2c_links=()
f2c_list_links() {
  local out line name status
  f2c_links=()
  f2c_links_error=
  out=$(ip -o link show 2>&1) || {
    status=$?
    f2c_links_error="exit $status${out:+: $out}"
    return 1
  }
  while IFS= read -r line; do
    [[ $line == *': '* ]] || continue
    name=${line#*: }
    name=${name%%: *}
    f2c_links+=("${name%%@*}")
  done <<<"$out"
  # Every namespace has lo: a listing without a name is no listing.
  ((${#f2c_links[@]})) || {
    f2c_links_error="no device in its output${out:+: $out}"
    return 1
  }
}

# Whether WORD is one of the other arguments.
f2c_one_of() {
  local word=$1 item
  shift
  for item in "$@"; do
    [ "$item" = "$word" ] && return 0
  done
  return 1
}

# Whether f2c_links (as last listed) holds NAME.
f2c_listed_link() {
  f2c_one_of "$1" "${f2c_links[@]}"
}

f2c_remove_link() {
  local err
  if ! f2c_list_links; then
    f2c_fail "could not list network devices (ip -o link show), so link $1 was not checked: $f2c_links_error"
    return
  fi
  if ! f2c_listed_link "$1"; then
    f2c_say "already absent: link $1"
    return
  fi
  if err=$(ip link delete dev "$1" 2>&1); then
    f2c_say "removed link $1"
  else
    f2c_fail "could not remove link $1: $err"
  fi
}

# Fails for each named link still present (WHY is appended to the message), or when links
# cannot be listed.
f2c_verify_links_gone() {
  local why=$1 link
  shift
  if ! f2c_list_links; then
    f2c_fail "could not list network devices (ip -o link show) to check for link(s) $*: $f2c_links_error"
    return
  fi
  for link in "$@"; do
    f2c_listed_link "$link" && f2c_fail "still present: link $link${why:+ ($why)}"
  done
}

# --- files under HOST_ROOT (paths given as the host sees them) --------------------------------

f2c_remove_file() {
  local path="$HOST_ROOT$1" err
  if [ ! -e "$path" ] && [ ! -L "$path" ]; then
    f2c_say "already absent: file $1"
    return
  fi
  if err=$(rm -f -- "$path" 2>&1) && [ ! -e "$path" ] && [ ! -L "$path" ]; then
    f2c_say "removed file $1"
  else
    f2c_fail "could not remove file $1: ${err:-it is still there}"
  fi
}

# Prints the CNI plugin type a config file selects: the first plugin's "type" of a .conflist, or
# the top-level "type" of a .conf. A small JSON scanner, because the image has no JSON tool and
# the keys may come in any order. The text is split at quotes: even pieces lie outside strings
# (structure), odd ones inside (a piece ending in an odd number of backslashes continues).
f2c_cni_first_plugin_type() {
  local text piece s c top= trail
  local -i d=0 i j inside=0
  local -a pieces kind expect key akey elem
  text=$(<"$1") || return 1
  IFS='"' read -r -d '' -a pieces <<<"$text" || true
  kind[0]=''
  for ((i = 0; i < ${#pieces[@]}; i++)); do
    piece=${pieces[i]}
    if ((inside)); then
      s+=$piece
      trail=${piece##*[!\\]}
      [[ $piece == *[!\\]* ]] || trail=$piece
      if (((${#trail} % 2) == 1)); then
        s+='"'
        continue
      fi
      inside=0
      if [ "${kind[d]}" = '{' ] && ((expect[d])); then
        key[d]=$s
        expect[d]=0
      elif [ "${kind[d]}" = '{' ] && [ "${key[d]}" = type ]; then
        ((d == 1)) && top=$s
        if ((d == 3)) && [ "${kind[1]}" = '{' ] && [ "${kind[2]}" = '[' ] && [ "${akey[2]}" = plugins ] && ((elem[2] == 0)); then
          printf '%s\n' "$s"
          return 0
        fi
      fi
      continue
    fi
    # Outside strings: only the structure characters matter.
    piece=${piece//[^\]\[\{\},]/}
    if [ -n "$piece" ]; then
      for ((j = 0; j < ${#piece}; j++)); do
        c=${piece:j:1}
        case $c in
          '{' | '[')
            d+=1
            kind[d]=$c
            if [ "$c" = '{' ]; then expect[d]=1; else expect[d]=0; fi
            elem[d]=0
            key[d]=''
            if [ "${kind[d - 1]}" = '{' ]; then akey[d]=${key[d - 1]}; else akey[d]=''; fi
            ;;
          '}' | ']') ((d > 0)) && d+=-1 ;;
          ,) if [ "${kind[d]}" = "{" ]; then expect[d]=1; else elem[d]=$((elem[d] + 1)); fi ;;
        esac
      done
    fi
    # The quote after this piece opens a string, unless this is the last piece.
    if ((i + 1 < ${#pieces[@]})); then
      inside=1
      s=''
    fi
  done
  [ -n "$top" ] && printf '%s\n' "$top"
  return 0
}

# Sets f2c_cni_files to the CNI config files in the directory, in byte order as the container
# runtime sorts them.
f2c_cni_files=()
f2c_list_cni_config_files() {
  local file
  f2c_cni_files=()
  for file in "$1"/*; do
    [ -f "$file" ] || continue
    case $file in
      *.conf | *.conflist | *.json) f2c_cni_files+=("${file##*/}") ;;
    esac
  done
}

# --- iptables (both backends, IPv4 and IPv6) --------------------------------------------------

# Sets f2c_backends to "label save restore" words for each backend to inspect; says "skipped:"
# for a legacy backend the kernel does not have (reading it must not load it).
f2c_backends=()
f2c_dumplines=()
f2c_xtables_backends() {
  local family mode names
  f2c_backends=()
  for family in iptables ip6tables; do
    for mode in nft legacy; do
      if [ "$mode" = legacy ]; then
        if [ "$family" = iptables ]; then names=/proc/net/ip_tables_names; else names=/proc/net/ip6_tables_names; fi
        if [ ! -e "$names" ]; then
          [ "${1:-}" = quiet ] || f2c_say "skipped: $family-legacy (the kernel has no legacy tables)"
          continue
        fi
      fi
      f2c_backends+=("$family-$mode $family-$mode-save $family-$mode-restore")
    done
  done
}

# Runs one iptables-restore transaction for TABLE that deletes the jump rules, then flushes and
# deletes the chains, and prints what it removed.
f2c_xtables_apply() {
  local table=$1 restore=$2 label=$3 description=$4 input err
  ((${#f2c_rules[@]} + ${#f2c_chains[@]})) || return 0
  input="*$table"$'\n'
  local rule chain
  for rule in "${f2c_rules[@]}"; do input+="$rule"$'\n'; done
  for chain in "${f2c_chains[@]}"; do input+="-F $chain"$'\n'; done
  for chain in "${f2c_chains[@]}"; do input+="-X $chain"$'\n'; done
  input+=$'COMMIT\n'
  f2c_acted=1
  if err=$(printf '%s' "$input" | "$restore" -w -n 2>&1); then
    local message
    for message in "${f2c_messages[@]}"; do f2c_say "$message"; done
    for chain in "${f2c_chains[@]}"; do f2c_say "removed chain $label $table $chain"; done
  else
    f2c_fail "could not remove $description from $label table $table: $err"
  fi
}

# Reads every backend's rules (iptables-save) into f2c_dumplines and runs HANDLER LABEL RESTORE
# for each; a backend that cannot be read fails with "could not read LABEL rules (SAVE, exit N)"
# followed by UNREAD. QUIET (quiet or empty) as for f2c_xtables_backends. HANDLER sees the
# caller's local variables (bash's dynamic scope).
f2c_each_xtables_dump() {
  local quiet=$1 unread=$2 handler=$3 backend label save restore dump
  f2c_xtables_backends "$quiet"
  for backend in "${f2c_backends[@]}"; do
    read -r label save restore <<<"$backend"
    dump=$("$save" 2>&1) || {
      f2c_fail "could not read $label rules ($save, exit $?)$unread${dump:+: $dump}"
      continue
    }
    mapfile -t f2c_dumplines <<<"$dump"
    "$handler" "$label" "$restore"
  done
}

# Removes the chains starting with PREFIX (and the jumps to them) from every backend, one
# iptables-restore transaction per table. DESCRIPTION names them in "already absent" lines.
f2c_remove_xtables_chains() {
  local prefix=$1 description=$2
  f2c_each_xtables_dump '' ", so $description were not checked" f2c_remove_xtables_chains_in
}

# f2c_remove_xtables_chains for one backend's f2c_dumplines.
f2c_remove_xtables_chains_in() {
  local label=$1 restore=$2 line table= target k
  local -a words
  f2c_acted=
  f2c_rules=()
  f2c_chains=()
  f2c_messages=()
  for line in "${f2c_dumplines[@]}"; do
    case $line in
      '*'*)
        table=${line#\*}
        f2c_rules=()
        f2c_chains=()
        f2c_messages=()
        ;;
      :*)
        line=${line#:}
        line=${line%% *}
        [[ $line == "$prefix"* ]] && f2c_chains+=("$line")
        ;;
      '-A '*)
        # Only rules that mention a jump or goto to such a chain need splitting into words.
        [[ $line == *" -"[jg]" $prefix"* ]] || continue
        read -r -a words <<<"$line"
        [[ ${words[1]} == "$prefix"* ]] && continue
        target=
        for ((k = ${#words[@]} - 2; k > 1; k--)); do
          if [ "${words[k]}" = -j ] || [ "${words[k]}" = -g ]; then
            target=${words[k + 1]}
            break
          fi
        done
        if [[ -n $target && $target == "$prefix"* ]]; then
          f2c_rules+=("-D ${line#-A }")
          f2c_messages+=("removed rule $label $table ${words[1]} -> $target")
        fi
        ;;
      COMMIT*)
        f2c_xtables_apply "$table" "$restore" "$label" "$description"
        f2c_rules=()
        f2c_chains=()
        f2c_messages=()
        ;;
    esac
  done
  [ -n "$f2c_acted" ] || f2c_say "already absent: $label $description"
}

# Fails for every backend that still has a chain starting with PREFIX, or cannot be read.
f2c_verify_xtables_chains_gone() {
  local prefix=$1
  f2c_each_xtables_dump quiet " to check for $prefix* chains" f2c_verify_xtables_chains_gone_in
}

f2c_verify_xtables_chains_gone_in() {
  local label=$1 line left=
  for line in "${f2c_dumplines[@]}"; do
    [[ $line == ":$prefix"* ]] || continue
    line=${line#:}
    left+="${line%% *} "
  done
  [ -z "$left" ] || f2c_fail "still present in $label: chains ${left% }"
}

# --- nftables tables (flannel's and Felix's nftables modes) ----------------------------------

# Sets f2c_nft_tables to the "table <family> <name>" lines of `nft list tables`.
f2c_list_nft_tables() {
  local out
  out=$(nft list tables 2>&1) || {
    f2c_nft_error="exit $?${out:+: $out}"
    return 1
  }
  mapfile -t f2c_nft_tables <<<"$out"
}

# Whether f2c_nft_tables (as last listed) holds "FAMILY NAME".
f2c_nft_table_listed() {
  f2c_one_of "table $1" "${f2c_nft_tables[@]}"
}

# Arguments: "family name" pairs, e.g. "ip flannel-ipv4" "ip6 flannel-ipv6".
f2c_remove_nft_tables() {
  local table err
  if ! f2c_list_nft_tables; then
    f2c_fail "could not list nftables tables (nft list tables), so table(s) $* were not checked: $f2c_nft_error"
    return
  fi
  for table in "$@"; do
    if ! f2c_nft_table_listed "$table"; then
      f2c_say "already absent: nftables table $table"
      continue
    fi
    # shellcheck disable=SC2086 # "family name" splits into two words on purpose
    if err=$(nft delete table $table 2>&1); then
      f2c_say "removed nftables table $table"
    else
      f2c_fail "could not remove nftables table $table: $err"
    fi
  done
}

f2c_verify_nft_tables_gone() {
  local table
  if ! f2c_list_nft_tables; then
    f2c_fail "could not list nftables tables (nft list tables) to check for table(s) $*: $f2c_nft_error"
    return
  fi
  for table in "$@"; do
    f2c_nft_table_listed "$table" && f2c_fail "still present: nftables table $table"
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
