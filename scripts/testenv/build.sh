#!/usr/bin/env bash
# Builds the test control plane from the Go module proxy into a versioned cache:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok, kwokctl.
# Idempotent: when every binary is already in the cache it prints the directory and exits
# in well under a second. Prints the bin directory on stdout; progress goes to stderr.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN="$(testenv_bin_dir)"
WANT=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwokctl)

missing=()
for b in "${WANT[@]}"; do [[ -x "$BIN/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  log "control plane binaries cached in $BIN"
  echo "$BIN"; exit 0
fi

command -v go >/dev/null || die "the Go toolchain is needed to build the test control plane (go not on PATH); install Go >= 1.26"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
log "building ${missing[*]} into $BIN (cold: many minutes on 2 cores; cached afterwards)"
start=$SECONDS
mkdir -p "$PITCREW_TESTENV_CACHE"
tmp="$(mktemp -d "${BIN%/bin}.partial.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

minor="${PITCREW_K8S_VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$PITCREW_K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# One `go build` per module so shared packages compile once.
( cd "$PITCREW_TESTENV_SRC/kubernetes" &&
  go build -trimpath -ldflags "$ldflags" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl \
    go.etcd.io/etcd/server/v3 )
# go names the etcd main package after its module path minus the major version: "server".
mv "$tmp/server" "$tmp/etcd"
log "kubernetes + etcd built after $((SECONDS - start)) s"
( cd "$PITCREW_TESTENV_SRC/kwok" &&
  go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$PITCREW_KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$PITCREW_K8S_VERSION" \
    -o "$tmp/" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl )

mkdir -p "$(dirname "$BIN")"
rm -rf "$BIN"; mv "$tmp" "$BIN"; trap - EXIT
log "built control plane in $((SECONDS - start)) s: $BIN"
echo "$BIN"
