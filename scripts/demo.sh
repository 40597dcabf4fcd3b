#!/usr/bin/env bash
# pitcrew's demo on embedded defaults: builds pitcrew and a real Kubernetes control plane
# (cached after the first run), starts the cluster with a sample shop (staging and prod),
# and runs pitcrew against it with the embedded SQLite database.
#
#   scripts/demo.sh          run the demo, then tear everything down
#   scripts/demo.sh --keep   keep the cluster running afterwards, until Ctrl-C, to explore
#
# What runs: configuration and policy checks, database migration, and `pitcrew exec` (restart,
# rollback, status, history, audit) as different people of the example policy, with a live
# PagerDuty check against a local stand-in that answers with PagerDuty's official examples.
# Then `pitcrew serve` with `pitcrew chat` playing Slack: a slash command and a Confirm button.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/testenv/env.sh
source scripts/demo/shop.sh

keep=false; [[ "${1:-}" == --keep ]] && keep=true
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
started=$SECONDS

say "1/8 building pitcrew (cargo build; cold: about 3 minutes on 2 cores)"
command -v cargo >/dev/null || die "cargo not found: install Rust >= 1.95 (https://rustup.rs)"
cargo build --quiet --bin pitcrew
pitcrew="${CARGO_TARGET_DIR:-$PWD/target}/debug/pitcrew"

say "2/8 starting a real Kubernetes $PITCREW_K8S_VERSION control plane on 127.0.0.1 (cold build: about 8 minutes, then cached)"
testenv_init
testenv_start_cluster

say "3/8 creating the sample shop: namespaces shop-staging and shop-prod"
shop_create
kubectl get deployments,statefulsets,daemonsets -n shop-prod
echo
echo "checkout's release history in prod (1.2.0 is the bad release of our incident):"
kubectl -n shop-prod rollout history deployment/checkout | sed 's/^/  /'

say "4/8 a local PagerDuty stand-in (answers with PagerDuty's official API examples; NOT the real service)"
pd_port="$(free_port)"
python3 scripts/demo/pagerduty_standin.py "$pd_port" 2>"$PITCREW_RUN_DIR/pagerduty-standin.log" &
_TESTENV_PIDS="$_TESTENV_PIDS $!"
pd_url="http://127.0.0.1:$pd_port/"
for _ in $(seq 1 50); do (echo >"/dev/tcp/127.0.0.1/$pd_port") 2>/dev/null && break; sleep 0.1; done
echo "PagerDuty stand-in at $pd_url, knowing incident PT4KHLK (acknowledged, service PIJ90N7)"

say "5/8 pitcrew: checking its configuration and its policy (policies/policy.csv, the example policy)"
chat_port="$(free_port)"
shop_config "$PITCREW_RUN_DIR/pitcrew" "$pd_url" "http://127.0.0.1:$chat_port/"
# A stand-in credential for the stand-in; a real one comes from your secret store.
export PAGERDUTY_TOKEN=local-demo
cfg="$PITCREW_RUN_DIR/pitcrew/config/pitcrew.toml"
"$pitcrew" config check --without-slack --config "$cfg"
# The example policy is written for config/pitcrew.example.toml (with a dev environment and a
# payments namespace); the lint rightly says which of its rules never match on this smaller
# demo set-up (exit 1), and the demo goes on.
"$pitcrew" policy lint --config "$cfg" || true
"$pitcrew" migrate --config "$cfg"

say "6/8 pitcrew exec: commands as people of the example policy type them in Slack"
run() {
  local who="$1" chan="$2"; shift 2
  printf '\n\033[2m$ pitcrew exec --as %s --channel %s -- %s\033[0m\n' "$who" "$chan" "$*"
  "$pitcrew" exec --config "$cfg" --as "$who" --channel "$chan" -- "$@" 2>/dev/null || echo "(exit code $?)"
}
# --yes: the confirmation a protected environment asks for (the Confirm button in Slack).
confirm() {
  local who="$1" chan="$2"; shift 2
  printf '\n\033[2m$ pitcrew exec --as %s --channel %s --yes -- %s\033[0m\n' "$who" "$chan" "$*"
  "$pitcrew" exec --config "$cfg" --as "$who" --channel "$chan" --yes -- "$@" 2>/dev/null || echo "(exit code $?)"
}
echo "U03DAVE is a developer: everything in staging, read-only in prod."
run U03DAVE C04DEV "history checkout -e staging"
run U03DAVE C04DEV "/pitcrew restart deploy/checkout —env staging"
run U03DAVE C04DEV "rollback checkout -e staging --dry-run"
run U03DAVE C04DEV "restart checkout -e prod --reason PT4KHLK"
echo
echo "U01ALICE is on call: restart and roll back in prod, from the incident channels, with a live reason."
run U01ALICE C01INCIDENT "restart checkout -e prod"
run U01ALICE C01INCIDENT "restart checkout -e prod --reason PT4KHLK"
confirm U01ALICE C01INCIDENT "restart checkout -e prod --reason PT4KHLK"
confirm U01ALICE C01INCIDENT "restart checkout -e prod --break-glass \"pagerduty is down\""
confirm U01ALICE C01INCIDENT "restart chekout -e prod --reason PT4KHLK"
echo
echo "Why? Ask the policy:"
printf '\n\033[2m$ pitcrew policy check --as U05GRACE --action status --env prod --target checkout\033[0m\n'
"$pitcrew" policy check --config "$cfg" --as U05GRACE --action status --env prod --target checkout || echo "(exit code $?)"

say "7/8 Slack: pitcrew serve, and pitcrew chat playing Slack (signed slash commands, buttons)"
export SLACK_SIGNING_SECRET=local-demo-signing-secret SLACK_BOT_TOKEN=xoxb-local-demo
serve_port="$(free_port)"
"$pitcrew" serve --config "$cfg" --listen "127.0.0.1:$serve_port" >"$PITCREW_RUN_DIR/serve.log" 2>&1 &
_TESTENV_PIDS="$_TESTENV_PIDS $!"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$serve_port/healthz" >/dev/null && break; sleep 0.1; done
cat >"$PITCREW_RUN_DIR/conversation.txt" <<'SCRIPT'
# On call, in #incidents: look, then roll back to 1.1.0, before the bad release (prod asks for confirmation)
status checkout -e prod
rollback checkout -e prod --to-revision 2 --reason PT4KHLK
press 1
SCRIPT
echo "readiness: $(curl -s "http://127.0.0.1:$serve_port/readyz")"
"$pitcrew" chat --as U01ALICE --channel C01INCIDENT --server "http://127.0.0.1:$serve_port" \
  --slack-listen "127.0.0.1:$chat_port" --script "$PITCREW_RUN_DIR/conversation.txt"

say "8/8 the audit trail those commands left (hash-chained, in the SQLite file)"
run U04FRANK C01OPS "audit --since 1h"
"$pitcrew" audit query --config "$cfg" --since 1h --reason PT4KHLK
"$pitcrew" audit verify --config "$cfg"
echo
echo "What the PagerDuty stand-in received as the incident's note:"
sed 's/^/  /' "$PITCREW_RUN_DIR/pagerduty-standin.log"

cat <<'TEXT'

Every refusal above said what to do; nothing ran in prod without a live incident and a
confirmation. The outcomes of the prod changes were written back to the incident as notes (to
the stand-in here). Try more with `scripts/demo.sh --keep` and `pitcrew chat` (see README).
TEXT

say "demo finished in $((SECONDS - started)) s"
if $keep; then
  echo "The cluster keeps running. In another terminal:"
  echo "  export KUBECONFIG=$KUBECONFIG PATH=$(dirname "$PITCREW_TEST_KUBECTL"):\$PATH"
  echo "  kubectl get pods -A"
  echo "Press Ctrl-C to stop it and clean up."
  while sleep 3600; do :; done
fi
