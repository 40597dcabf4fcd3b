#!/usr/bin/env bash
# pitcrew's demo on embedded defaults: builds pitcrew and a real Kubernetes control plane
# (cached after the first run), starts the cluster with a sample shop (staging and prod),
# and runs pitcrew against it with the embedded SQLite database.
#
#   scripts/demo.sh          run the demo, then tear everything down
#   scripts/demo.sh --keep   keep the cluster running afterwards, until Ctrl-C, to explore
#
# What runs: configuration and policy checks, database migration, local stand-ins for PagerDuty
# and Jira (answering with their official API examples), then `pitcrew serve` with `pitcrew
# chat --script` playing Slack through an incident: a refusal by policy, a refusal for a
# missing reason, a verified prod restart confirmed and approved by a second person, a rollback
# of the bad release, a promote from staging to prod under a Jira ticket, the chat audit
# summary; then `pitcrew audit query` and `pitcrew audit verify`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/testenv/env.sh
source scripts/demo/shop.sh

keep=false; [[ "${1:-}" == --keep ]] && keep=true
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
started=$SECONDS

say "1/7 building pitcrew (cargo build; cold: about 3 minutes on 2 cores)"
command -v cargo >/dev/null || die "cargo not found: install Rust >= 1.95 (https://rustup.rs)"
# The same kept build directory as the test suite (scripts/testenv/lib.sh), so running the
# demo first leaves the suite less to build.
export CARGO_TARGET_DIR="$(testenv_cargo_target)"
cargo build --quiet --bin pitcrew
pitcrew="$CARGO_TARGET_DIR/debug/pitcrew"

say "2/7 starting a real Kubernetes $PITCREW_K8S_VERSION control plane on 127.0.0.1 (cold build: about 8 minutes, then cached)"
testenv_init
testenv_start_cluster

say "3/7 creating the sample shop: namespaces shop-staging and shop-prod"
shop_create
kubectl get deployments,statefulsets,daemonsets -n shop-prod
echo
echo "checkout's release history in prod (1.2.0 is the bad release of our incident):"
kubectl -n shop-prod rollout history deployment/checkout | sed 's/^/  /'

say "4/7 local stand-ins for PagerDuty and Jira (they answer with the official API examples; NOT the real services)"
pd_port="$(free_port)"; jira_port="$(free_port)"
python3 scripts/demo/pagerduty_standin.py "$pd_port" 2>"$PITCREW_RUN_DIR/pagerduty-standin.log" &
_TESTENV_PIDS="$_TESTENV_PIDS $!"
python3 scripts/demo/jira_standin.py "$jira_port" 2>"$PITCREW_RUN_DIR/jira-standin.log" &
_TESTENV_PIDS="$_TESTENV_PIDS $!"
for port in "$pd_port" "$jira_port"; do
  for _ in $(seq 1 50); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done
echo "PagerDuty stand-in at http://127.0.0.1:$pd_port/, knowing incident PT4KHLK (acknowledged, service PIJ90N7)"
echo "Jira stand-in at http://127.0.0.1:$jira_port/, knowing change ticket CHG-42 (Approved)"

say "5/7 pitcrew: checking its configuration and its policy (policies/policy.csv, the example policy)"
chat_port="$(free_port)"
shop_config "$PITCREW_RUN_DIR/pitcrew" "http://127.0.0.1:$pd_port/" "http://127.0.0.1:$chat_port/" "http://127.0.0.1:$jira_port/"
# Stand-in credentials for the stand-ins; real ones come from your secret store.
export PAGERDUTY_TOKEN=local-demo JIRA_EMAIL=pitcrew-demo@example.com JIRA_API_TOKEN=local-demo
export SLACK_SIGNING_SECRET=local-demo-signing-secret SLACK_BOT_TOKEN=xoxb-local-demo
cfg="$PITCREW_RUN_DIR/pitcrew/config/pitcrew.toml"
"$pitcrew" config check --config "$cfg"
# The example policy is written for config/pitcrew.example.toml (with a dev environment and a
# payments namespace); the lint rightly says which of its rules never match on this smaller
# demo set-up (exit 1), and the demo goes on.
"$pitcrew" policy lint --config "$cfg" || true
"$pitcrew" migrate --config "$cfg"

say "6/7 the incident, in Slack: pitcrew serve, and pitcrew chat playing Slack (signed slash commands, buttons)"
serve_port="$(free_port)"
"$pitcrew" serve --config "$cfg" --listen "127.0.0.1:$serve_port" >"$PITCREW_RUN_DIR/serve.log" 2>&1 &
serve_pid=$!
_TESTENV_PIDS="$_TESTENV_PIDS $serve_pid"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$serve_port/healthz" >/dev/null && break; sleep 0.1; done
echo "pitcrew serve at http://127.0.0.1:$serve_port (readiness: $(curl -s "http://127.0.0.1:$serve_port/readyz" | head -c 60)...)"
cat >"$PITCREW_RUN_DIR/incident.txt" <<'SCRIPT'
# 14:02, checkout is failing since release 1.2.0. Dave, a developer, tries first: prod is not his.
as U03DAVE
restart checkout -e prod --reason PT4KHLK
# Alice is on call. Without a reason, prod refuses.
as U01ALICE
restart checkout -e prod
# With the live PagerDuty incident: verified, she confirms, and Carol (incident commander) approves.
restart checkout -e prod --reason PT4KHLK
press 1
as U02CAROL
press 1
# The restart does not help: back to 1.1.0, the release before the bad one.
as U01ALICE
history checkout -e prod
rollback checkout -e prod --to-revision 2 --reason PT4KHLK
press 1
as U02CAROL
press 1
# Traffic comes back and checkout is slow: Alice adds a replica; Carol approves. The message
# offers the scale back.
as U01ALICE
scale checkout -e prod --replicas 3 --reason PT4KHLK
press 1
as U02CAROL
press 1
# Mitigated. Carol freezes prod while the team watches it: no change until she lifts it.
as U02CAROL
freeze prod --for 2h --reason "watching checkout after PT4KHLK"
# The fix, 1.3.0, runs in staging. Erin (release manager) promotes it to prod under change
# ticket CHG-42, from #releases: refused, prod is frozen.
in C01RELEASES
as U03ERIN
promote checkout --from staging --to prod --reason CHG-42
# Carol lifts the freeze; Erin promotes again, and Heidi, another release manager, approves.
in C01INCIDENT
as U02CAROL
unfreeze prod
in C01RELEASES
as U03ERIN
promote checkout --from staging --to prod --reason CHG-42
press 1
as U06HEIDI
press 1
# Frank from compliance reads what happened, and the change report's counts.
in C01OPS
as U04FRANK
audit --since 1h
audit report --since 1h -e prod
SCRIPT
"$pitcrew" chat --as U03DAVE --channel C01INCIDENT --server "http://127.0.0.1:$serve_port" \
  --slack-listen "127.0.0.1:$chat_port" --script "$PITCREW_RUN_DIR/incident.txt"
echo
echo "Why was Dave refused? Ask the policy:"
printf '\033[2m$ pitcrew policy check --as U03DAVE --action restart --env prod --target checkout --channel C01INCIDENT\033[0m\n'
"$pitcrew" policy check --config "$cfg" --as U03DAVE --action restart --env prod --target checkout --channel C01INCIDENT || echo "(exit code $?)"
echo
echo "What runs in prod now:"
kubectl -n shop-prod get deployment checkout -o jsonpath='  checkout: {.spec.template.spec.containers[0].image}{"\n"}'
kubectl -n shop-prod rollout history deployment/checkout | sed 's/^/  /'

say "7/7 the audit trail those commands left (hash-chained, in the SQLite file)"
"$pitcrew" audit query --config "$cfg" --since 1h --env prod
"$pitcrew" audit verify --config "$cfg"
echo
echo "The change report compliance asks for (every prod change: who asked, the verified incident or"
echo "ticket, who approved; checked here: each was approved by someone other than its requester):"
"$pitcrew" audit report --config "$cfg" --from 1h --to 2099-01-01 --env prod --format json \
  >"$PITCREW_RUN_DIR/report.json"
python3 - "$PITCREW_RUN_DIR/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for c in report["changes"]:
    print(f"  {c['at'][11:19]}  {c['command']}")
    print(f"            asked by {c['requester']}, justified by {c['justification']}, "
          f"approved by {', '.join(c['approvers']) or 'nobody'}: {c['outcome']}")
    assert c["approvers"] and c["requester"] not in c["approvers"], f"requester approved: {c}"
print(f"  {len(report['changes'])} prod changes, none approved by its requester; "
      f"{len(report['refused'])} refused attempts; chain {'intact' if report['chain']['intact'] else 'BROKEN'}")
PY
"$pitcrew" audit report --config "$cfg" --from 1h --to 2099-01-01 --env prod \
  --out "$PITCREW_RUN_DIR/change-report.html" 2>&1 | sed 's/^/  /'
echo
echo "What the stand-ins received as write-back (notes on the incident, comments on the ticket):"
sed 's/^/  /' "$PITCREW_RUN_DIR/pagerduty-standin.log" "$PITCREW_RUN_DIR/jira-standin.log"

cat <<'TEXT'

Every refusal above said what to do; nothing ran in prod without a verified incident or change
ticket, the requester's confirmation and a second person's approval, and nothing ran while prod
was frozen. The outcomes were written
back to the incident and the ticket (the stand-ins here). Run `scripts/demo.sh --keep` to type
your own commands in pitcrew chat afterwards.
TEXT

say "demo finished in $((SECONDS - started)) s"
if $keep; then
  echo "The cluster, the stand-ins and pitcrew serve keep running. Type your own commands as Slack would:"
  echo "  SLACK_SIGNING_SECRET=$SLACK_SIGNING_SECRET $pitcrew chat --as U01ALICE --channel C01INCIDENT \\"
  echo "    --server http://127.0.0.1:$serve_port --slack-listen 127.0.0.1:$chat_port"
  echo "  (e.g. 'status cart -e prod', 'restart cart -e prod --reason PT4KHLK', 'press 1', 'as U02CAROL')"
  echo "Look at the cluster:"
  echo "  export KUBECONFIG=$KUBECONFIG PATH=$(dirname "$PITCREW_TEST_KUBECTL"):\$PATH"
  echo "  kubectl get pods -A"
  echo "Press Ctrl-C to stop everything and clean up."
  while sleep 3600; do :; done
fi
