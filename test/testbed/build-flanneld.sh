#!/usr/bin/env bash
# Builds flanneld from its Go module into the test-bed cache, for the network-namespace nodes.
# Two backends are dropped from main.go: tencentvpc (its Tencent SDK module is not served by the
# module proxy) and udp (needs cgo). The vxlan backend, the one migrated, is untouched.
# Skips when the binary is already there. FLANNELD_BIN overrides the output directory.
set -euo pipefail
FLANNEL_VERSION=${FLANNEL_VERSION:-v0.28.10}
OUT=${FLANNELD_BIN:-/var/cache/flannel2calico-testbed/flanneld-$FLANNEL_VERSION}
if [[ -x $OUT/flanneld ]]; then echo "flanneld $FLANNEL_VERSION cached in $OUT"; exit 0; fi

start=$(date +%s)
W=$(mktemp -d)
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
cd "$W"
go mod init testbed.local/flanneld >/dev/null 2>&1
SRC=$(go mod download -json "github.com/flannel-io/flannel@$FLANNEL_VERSION" | sed -n 's/.*"Dir": "\(.*\)",*$/\1/p')
[[ -d $SRC ]] || { echo "error: go mod download gave no source directory for flannel $FLANNEL_VERSION" >&2; exit 1; }
cp -r "$SRC" "$W/flannel"
chmod -R u+w "$W/flannel"
cd "$W/flannel"
sed -i -e '\#"github.com/flannel-io/flannel/pkg/backend/tencentvpc"#d' -e '\#"github.com/flannel-io/flannel/pkg/backend/udp"#d' main.go
if grep -q 'pkg/backend/\(tencentvpc\|udp\)"' main.go; then echo "error: could not drop the tencentvpc/udp imports from flannel's main.go" >&2; exit 1; fi
mkdir -p "$OUT"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/flannel-io/flannel/pkg/version.Version=$FLANNEL_VERSION" -o "$OUT/flanneld.tmp" .
mv "$OUT/flanneld.tmp" "$OUT/flanneld"
echo "flanneld build took $(( $(date +%s) - start )) s; binary in $OUT ($(du -sh "$OUT/flanneld" | cut -f1))"
