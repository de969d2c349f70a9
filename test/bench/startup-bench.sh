#!/usr/bin/env bash
# Prints the median wall time (ms) of 10 starts of the CLI, for --help, `status --help` and
# `completion bash`, next to a bare `node -e 0` on the same machine. Nothing is asserted.
# Usage: bash test/bench/startup-bench.sh [REPO_DIR]   (default: this checkout; run `npm run build` first)
set -euo pipefail
repo="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
runs=10

median() {
  local times=() i s e
  for ((i = 0; i < runs; i++)); do
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    e=$(date +%s%N)
    times+=($(((e - s) / 1000000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2))}'
}

printf '%-40s %s\n' "command (median of $runs)" "ms"
printf '%-40s %s\n' "node -e 0" "$(median node -e 0)"
for args in "--help" "status --help" "migrate --help"; do
  # shellcheck disable=SC2086
  printf '%-40s %s\n' "flannel2calico $args" "$(median node "$repo/bin/flannel2calico.js" $args)"
done
