#!/usr/bin/env bash
# Renders deploy/*.yaml from the Helm chart (deploy/helm/pitcrew) with its default values plus
# deploy/helm/example-values.yaml, so the plain manifests and the chart cannot drift: edit the chart,
# then run this (tests/integration/helm.rs fails when deploy/ is stale). Needs helm: the one the
# test environment builds (scripts/testenv/helm.sh), or $HELM.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
helm="${HELM:-$("$root/scripts/testenv/helm.sh")}"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
"$helm" template pitcrew "$root/deploy/helm/pitcrew" --namespace pitcrew \
  -f "$root/deploy/helm/example-values.yaml" --output-dir "$out" >/dev/null
for f in "$out"/pitcrew/templates/*.yaml; do
  {
    echo "# Rendered from deploy/helm/pitcrew by scripts/render-deploy.sh: edit the chart, not this file."
    cat "$f"
  } >"$root/deploy/$(basename "$f")"
done
echo "rendered: $(cd "$out/pitcrew/templates" && ls | tr '\n' ' ')" >&2
