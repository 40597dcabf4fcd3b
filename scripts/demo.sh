#!/usr/bin/env bash
# pitcrew's demo on embedded defaults: builds pitcrew and a real Kubernetes control plane
# (cached after the first run), starts the cluster with a sample shop (staging and prod),
# and runs pitcrew against it with the embedded SQLite database.
#
#   scripts/demo.sh          run the demo, then tear everything down
#   scripts/demo.sh --keep   keep the cluster running afterwards, until Ctrl-C, to explore
#
# What runs today: configuration check, database migration, and `pitcrew exec` (restart,
# rollback, status, history) against the cluster; Slack, the policy and the audit trail come next.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/testenv/env.sh
source scripts/demo/shop.sh

keep=false; [[ "${1:-}" == --keep ]] && keep=true
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
started=$SECONDS

say "1/6 building pitcrew (cargo build; cold: about 3 minutes on 2 cores)"
command -v cargo >/dev/null || die "cargo not found: install Rust >= 1.95 (https://rustup.rs)"
cargo build --quiet --bin pitcrew
pitcrew="${CARGO_TARGET_DIR:-$PWD/target}/debug/pitcrew"

say "2/6 starting a real Kubernetes $PITCREW_K8S_VERSION control plane on 127.0.0.1 (cold build: about 8 minutes, then cached)"
testenv_init
testenv_start_cluster

say "3/6 creating the sample shop: namespaces shop-staging and shop-prod"
shop_create
kubectl get deployments,statefulsets,daemonsets -n shop-prod
echo
echo "checkout's release history in prod (1.2.0 is the bad release of our incident):"
kubectl -n shop-prod rollout history deployment/checkout | sed 's/^/  /'

say "4/6 pitcrew: checking its configuration for this cluster"
shop_config "$PITCREW_RUN_DIR/pitcrew"
# Stand-in credentials for the local stand-ins; real ones come from your secret store.
export PAGERDUTY_TOKEN=local-demo JIRA_EMAIL=demo@localhost JIRA_API_TOKEN=local-demo
"$pitcrew" config check --without-slack --config "$PITCREW_RUN_DIR/pitcrew/config/pitcrew.toml"

say "5/6 pitcrew: creating its audit database (SQLite, embedded default)"
"$pitcrew" migrate --config "$PITCREW_RUN_DIR/pitcrew/config/pitcrew.toml"

say "6/6 pitcrew exec: commands as an on-call engineer types them in Slack"
cfg="$PITCREW_RUN_DIR/pitcrew/config/pitcrew.toml"
run() {
  printf '\n\033[2m$ pitcrew exec --as U01ONCALL1 -- %s\033[0m\n' "$*"
  "$pitcrew" exec --config "$cfg" --as U01ONCALL1 -- "$@" 2>/dev/null || echo "(exit code $?)"
}
run "history checkout -e staging"
run "/pitcrew restart deploy/checkout —env staging"
run "status checkout -e staging"
run "rollback checkout -e staging --dry-run"
run "restart checkout -e prod --reason CHG-42"
run "restart chekout -e staging"

say "the audit trail those commands left (hash-chained, in the SQLite file)"
"$pitcrew" audit query --config "$cfg" --since 1h
"$pitcrew" audit verify --config "$cfg"

cat <<TEXT

Prod is refused on purpose: the authorization policy and the live PagerDuty/Jira checks that a
protected environment needs are not built yet, and pitcrew fails closed rather than skip them.
Slack (serve/chat), the policy, live PagerDuty/Jira checks and the approval flow come next.
TEXT

say "demo finished in $((SECONDS - started)) s"
if $keep; then
  echo "The cluster keeps running. In another terminal:"
  echo "  export KUBECONFIG=$KUBECONFIG PATH=$(dirname "$PITCREW_TEST_KUBECTL"):\$PATH"
  echo "  kubectl get pods -A"
  echo "Press Ctrl-C to stop it and clean up."
  while sleep 3600; do :; done
fi
