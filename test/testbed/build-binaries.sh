#!/usr/bin/env bash
# Builds the test bed's control plane from Go modules into a cache outside the repository:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, kwokctl.
# Skips everything when the cache already holds the binaries.
set -euo pipefail
K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
BIN=${TESTBED_BIN:-/var/cache/flannel2calico-testbed/$K8S_VERSION}
export CGO_ENABLED=0

have_all() {
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl; do
    [[ -x $BIN/$b ]] || return 1
  done
}
if have_all; then echo "testbed binaries cached in $BIN"; exit 0; fi

start=$(date +%s)
mkdir -p "$BIN"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

if [[ ! -x $BIN/kube-apiserver || ! -x $BIN/kubectl || ! -x $BIN/kube-scheduler || ! -x $BIN/kube-controller-manager ]]; then
  echo "building Kubernetes $K8S_VERSION control plane (cold build takes ~10 min on 2 cores)"
  mkdir "$W/k8s" && cd "$W/k8s" && go mod init testbed.local/k8s >/dev/null 2>&1
  GOMOD=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*$/\1/p')
  STAGING="v0.${K8S_VERSION#v1.}"
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "$GOMOD"); do
    go mod edit -replace="$m=$m@$STAGING"
  done
  go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
  printf '//go:build tools\npackage tools\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager"\n\t_ "k8s.io/kubernetes/cmd/kube-scheduler"\n\t_ "k8s.io/kubernetes/cmd/kubectl"\n)\n' > tools.go
  go mod tidy
  MINOR=$(cut -d. -f2 <<<"$K8S_VERSION"); LD="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LD+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean"
    LD+=" -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  go build -p 2 -trimpath -tags selinux,notest,grpcnotrace -ldflags "$LD" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
fi

if [[ ! -x $BIN/etcd ]]; then
  echo "building etcd $ETCD_VERSION"
  mkdir "$W/etcd" && cd "$W/etcd" && go mod init testbed.local/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
fi

if [[ ! -x $BIN/kwok || ! -x $BIN/kwokctl ]]; then
  echo "building kwok $KWOK_VERSION"
  GOBIN=$BIN go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
fi

echo "control-plane build took $(( $(date +%s) - start )) s; binaries in $BIN ($(du -sh "$BIN" | cut -f1))"
