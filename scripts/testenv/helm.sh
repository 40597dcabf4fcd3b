#!/usr/bin/env bash
# Builds helm (helm.sh/helm/v4, pinned in testenv/helm/go.mod: v4.3.2) from the Go module proxy
# for the chart's tests (lint, template, install and upgrade on the test cluster). Idempotent and
# cached by go.sum; prints the binary's path on stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC="$PITCREW_TESTENV_SRC/helm"
DIR="$PITCREW_TESTENV_CACHE/helm_$(sha256sum "$SRC/go.sum" | cut -c1-12)"
if [[ -x "$DIR/helm" ]]; then
  log "helm cached in $DIR"
  echo "$DIR/helm"; exit 0
fi
command -v go >/dev/null || die "the Go toolchain is needed to build helm (go not on PATH)"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
log "building helm into $DIR (cold: about 1 minute on 2 cores)"
start=$SECONDS
mkdir -p "$PITCREW_TESTENV_CACHE"
tmp="$(mktemp -d "$DIR.partial.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
( cd "$SRC" && go build -trimpath -ldflags "-s -w" -o "$tmp/helm" helm.sh/helm/v4/cmd/helm )
rm -rf "$DIR"; mv "$tmp" "$DIR"; trap - EXIT
log "built helm in $((SECONDS - start)) s: $DIR"
echo "$DIR/helm"
