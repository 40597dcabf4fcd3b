#!/usr/bin/env bash
# Builds the Argo Rollouts controller and its kubectl plugin (kubectl-argo-rollouts, the oracle
# for pitcrew's rollout/NAME actions) from the Go module proxy (testenv/argo-rollouts: v1.8.5,
# the newest the machine's Go 1.26.8 builds; v1.9 needs Go 1.26.10), and copies the module's
# CRDs beside them. Idempotent and cached by go.sum; prints the directory on stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC="$PITCREW_TESTENV_SRC/argo-rollouts"
DIR="$PITCREW_TESTENV_CACHE/argo-rollouts_$(sha256sum "$SRC/go.sum" | cut -c1-12)"
if [[ -x "$DIR/rollouts-controller" && -x "$DIR/kubectl-argo-rollouts" && -s "$DIR/crds/rollout-crd.yaml" ]]; then
  log "Argo Rollouts cached in $DIR"
  echo "$DIR"; exit 0
fi
command -v go >/dev/null || die "the Go toolchain is needed to build Argo Rollouts (go not on PATH)"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
log "building the Argo Rollouts controller and kubectl plugin into $DIR (cold: about 3 minutes on 2 cores)"
start=$SECONDS
mkdir -p "$PITCREW_TESTENV_CACHE"
tmp="$(mktemp -d "$DIR.partial.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
( cd "$SRC" &&
  go build -trimpath -ldflags "-s -w" -o "$tmp/" \
    github.com/argoproj/argo-rollouts/cmd/rollouts-controller \
    github.com/argoproj/argo-rollouts/cmd/kubectl-argo-rollouts )
module="$(cd "$SRC" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-rollouts)"
mkdir -p "$tmp/crds"
cp "$module"/manifests/crds/*-crd.yaml "$tmp/crds/"
chmod -R u+w "$tmp/crds"
rm -rf "$DIR"; mv "$tmp" "$DIR"; trap - EXIT
log "built Argo Rollouts in $((SECONDS - start)) s: $DIR"
echo "$DIR"
