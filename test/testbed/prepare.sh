#!/usr/bin/env bash
# Everything the test suite needs on this machine, installed only when missing: the system tools of
# the host-script and pseudo-terminal tests (Debian packages, as root), and the test bed's control
# plane (built once from Go modules into its cache). Run by `npm test` and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/../.."

declare -A package_of=(
  [ip]=iproute2 [bridge]=iproute2 [iptables]=iptables [iptables-legacy]=iptables [nft]=nftables [unshare]=util-linux
  [nsenter]=util-linux [ps]=procps [python3]=python3 [zsh]=zsh
)
missing=()
for cmd in "${!package_of[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${package_of[$cmd]}")
done
if ((${#missing[@]} > 0)); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [[ $(id -u) -ne 0 ]]; then
    echo "error: the tests need these Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ca-certificates >/dev/null
fi

build_start=$(date +%s)
if ! bash test/testbed/build-binaries.sh; then
  echo "error: building the test-bed control plane failed; it needs Go >= 1.24 and the Go module proxy" >&2
  exit 1
fi
echo "test-bed control plane ready after $(( $(date +%s) - build_start )) s"

# flanneld for the network-namespace nodes (test/testbed/netns-nodes.ts).
if ! bash test/testbed/build-flanneld.sh; then
  echo "error: building flanneld failed; it needs Go >= 1.24 and the Go module proxy" >&2
  exit 1
fi
