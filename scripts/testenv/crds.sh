#!/usr/bin/env bash
# Fetches the GitOps CustomResourceDefinitions pitcrew's `gitops` command acts on, from the
# projects' own Go modules (the Go module proxy serves them; no GitHub access needed), into a
# versioned cache directory. Idempotent: when the files are cached it prints the directory in
# well under a second. Prints the directory on stdout; progress goes to stderr.
#   Argo CD   github.com/argoproj/argo-cd/v3 manifests/crds/application-crd.yaml
#   Flux      github.com/fluxcd/kustomize-controller config/crd/bases/…kustomizations.yaml
#             github.com/fluxcd/helm-controller      config/crd/bases/…helmreleases.yaml
# Only the CRDs: no controller runs, as pitcrew only patches the objects' specs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Pinned: the newest versions the proxy serves that this machine's Go accepts (argo-cd v3.6
# needs Go 1.27), checked on 2026-12-05.
ARGOCD="github.com/argoproj/argo-cd/v3@v3.5.8"
KUSTOMIZE="github.com/fluxcd/kustomize-controller@v1.7.3"
HELM="github.com/fluxcd/helm-controller@v1.4.0"

DIR="$PITCREW_TESTENV_CACHE/crds_$(printf '%s\n' "$ARGOCD" "$KUSTOMIZE" "$HELM" | sha256sum | cut -c1-12)"
if [[ -s "$DIR/application-crd.yaml" && -s "$DIR/kustomizations.yaml" && -s "$DIR/helmreleases.yaml" ]]; then
  log "GitOps CRDs cached in $DIR"
  echo "$DIR"; exit 0
fi
command -v go >/dev/null || die "the Go toolchain is needed to fetch the GitOps CRDs (go not on PATH)"
log "fetching the Argo CD and Flux CRDs from the Go module proxy ($ARGOCD, $KUSTOMIZE, $HELM)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
module_dir() {
  # Outside any module, `go mod download` fetches exactly the version named.
  (cd "$tmp" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "$1") \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d.get("Error")) if d.get("Error") else print(d["Dir"])'
}
argocd="$(module_dir "$ARGOCD")" || die "cannot download $ARGOCD"
kustomize="$(module_dir "$KUSTOMIZE")" || die "cannot download $KUSTOMIZE"
helm="$(module_dir "$HELM")" || die "cannot download $HELM"
mkdir -p "$tmp/out"
cp "$argocd/manifests/crds/application-crd.yaml" "$tmp/out/application-crd.yaml"
cp "$kustomize/config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml" "$tmp/out/kustomizations.yaml"
cp "$helm/config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml" "$tmp/out/helmreleases.yaml"
chmod 644 "$tmp/out"/*
mkdir -p "$PITCREW_TESTENV_CACHE"; rm -rf "$DIR"; mv "$tmp/out" "$DIR"
log "GitOps CRDs in $DIR"
echo "$DIR"
