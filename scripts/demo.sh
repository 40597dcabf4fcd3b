#!/usr/bin/env bash
# pitcrew's demo on embedded defaults: builds pitcrew and a real Kubernetes control plane
# (cached after the first run), starts the cluster with a sample shop (staging and prod),
# and runs pitcrew against it with the embedded SQLite database.
#
#   scripts/demo.sh          run the demo, then tear everything down
#   scripts/demo.sh --keep   keep the cluster running afterwards, until Ctrl-C, to explore
#
# What runs today: configuration check, database migration, and the cluster pitcrew acts on.
# The pipeline itself (exec, serve, chat) is being built; the demo says where it stops.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/testenv/env.sh
source scripts/demo/shop.sh

keep=false; [[ "${1:-}" == --keep ]] && keep=true
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
started=$SECONDS

say "1/5 building pitcrew (cargo build; cold: about 3 minutes on 2 cores)"
command -v cargo >/dev/null || die "cargo not found: install Rust >= 1.95 (https://rustup.rs)"
cargo build --quiet --bin pitcrew
pitcrew="${CARGO_TARGET_DIR:-$PWD/target}/debug/pitcrew"

say "2/5 starting a real Kubernetes $PITCREW_K8S_VERSION control plane on 127.0.0.1 (cold build: about 8 minutes, then cached)"
testenv_init
testenv_start_cluster

say "3/5 creating the sample shop: namespaces shop-staging and shop-prod"
shop_create
kubectl get deployments,statefulsets,daemonsets -n shop-prod
echo
echo "checkout's release history in prod (1.2.0 is the bad release of our incident):"
kubectl -n shop-prod rollout history deployment/checkout | sed 's/^/  /'

say "4/5 pitcrew: checking its configuration for this cluster"
shop_config "$PITCREW_RUN_DIR/pitcrew"
# Stand-in credentials for the local stand-ins; real ones come from your secret store.
export PAGERDUTY_TOKEN=local-demo JIRA_EMAIL=demo@localhost JIRA_API_TOKEN=local-demo
"$pitcrew" config check --without-slack --config "$PITCREW_RUN_DIR/pitcrew/config/pitcrew.toml"

say "5/5 pitcrew: creating its audit database (SQLite, embedded default)"
"$pitcrew" migrate --config "$PITCREW_RUN_DIR/pitcrew/config/pitcrew.toml"

cat <<TEXT

The demo stops here for now: the command pipeline (pitcrew exec / serve / chat) is not built
yet, and pitcrew says so itself:
TEXT
"$pitcrew" exec --config "$PITCREW_RUN_DIR/pitcrew/config/pitcrew.toml" --as U01ONCALL1 -- \
  restart deploy/checkout -e prod --reason PD-Q1W2E3 || echo "(exit code $?)"

say "demo finished in $((SECONDS - started)) s"
if $keep; then
  echo "The cluster keeps running. In another terminal:"
  echo "  export KUBECONFIG=$KUBECONFIG PATH=$(dirname "$PITCREW_TEST_KUBECTL"):\$PATH"
  echo "  kubectl get pods -A"
  echo "Press Ctrl-C to stop it and clean up."
  while sleep 3600; do :; done
fi
