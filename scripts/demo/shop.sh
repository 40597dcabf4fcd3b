# The demo's sample shop: two namespaces standing for staging and prod, several workloads of
# each kind, and Deployments with several revisions (so rollback has somewhere to go).
# Sourced by scripts/demo.sh after the cluster is up. shellcheck shell=bash

shop_create() {
  local ns rev
  for ns in shop-staging shop-prod; do
    kubectl create namespace "$ns" >/dev/null
    for app in checkout cart frontend; do
      kubectl -n "$ns" create deployment "$app" --image="registry.example/$app:1.0.0" --replicas=2 >/dev/null
    done
    kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: orders-db}
spec:
  serviceName: orders-db
  replicas: 2
  selector: {matchLabels: {app: orders-db}}
  template:
    metadata: {labels: {app: orders-db}}
    spec: {containers: [{name: db, image: "registry.example/postgres:15.4"}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: log-agent}
spec:
  selector: {matchLabels: {app: log-agent}}
  template:
    metadata: {labels: {app: log-agent}}
    spec: {containers: [{name: agent, image: "registry.example/log-agent:2.1"}]}
YAML
  done
  # Release history: checkout went 1.0.0 → 1.1.0 → 1.2.0 in prod (1.2.0 is the "bad release"
  # of the incident); staging already runs 1.3.0, the fix waiting to be promoted.
  for rev in 1.1.0 1.2.0; do
    kubectl -n shop-prod set image deployment/checkout checkout="registry.example/checkout:$rev" >/dev/null
    kubectl -n shop-prod annotate deployment/checkout kubernetes.io/change-cause="release $rev" --overwrite >/dev/null
    kubectl -n shop-prod rollout status deployment/checkout --timeout=60s >/dev/null
  done
  kubectl -n shop-staging set image deployment/checkout checkout="registry.example/checkout:1.3.0" >/dev/null
  for ns in shop-staging shop-prod; do
    for w in deployment/checkout deployment/cart deployment/frontend statefulset/orders-db daemonset/log-agent; do
      kubectl -n "$ns" rollout status "$w" --timeout=60s >/dev/null
    done
  done
}

# A pitcrew configuration for the local cluster, written into the run directory.
shop_config() {
  local dir="$1"
  mkdir -p "$dir/config"
  cp -r "$PITCREW_ROOT/policies" "$dir/policies"
  cat >"$dir/config/pitcrew.toml" <<TOML
# Written by scripts/demo.sh for the local demo cluster.
[server]
listen = "127.0.0.1:0"

[database]
sqlite_path = "pitcrew.db"

# The demo's PagerDuty is a LOCAL STAND-IN, NOT THE REAL SERVICE (scripts/demo/pagerduty_standin.py):
# it knows one incident, PT4KHLK, acknowledged, on service PIJ90N7.
[pagerduty]
api_base_url = "${2:-http://127.0.0.1:9/}"
timeout = "3s"
from_email = "pitcrew-demo@example.com"

# The demo's Jira is a LOCAL STAND-IN, NOT THE REAL SERVICE (scripts/demo/jira_standin.py):
# it knows one change ticket, CHG-42, approved.
[jira]
base_url = "${4:-http://127.0.0.1:9/}"
allowed_projects = ["CHG"]
allowed_issue_types = ["Change"]
approved_statuses = ["Approved"]
timeout = "3s"

# Slack is played locally by pitcrew chat (NOT the real Slack), listening at this address.
[slack]
api_base_url = "${3:-http://127.0.0.1:9/}api/"
announce_channel = "C01OPS"
# The workspace pitcrew chat plays (its --team default).
allowed_teams = ["T0LOCAL"]

[clusters.local]
kubeconfig = "$KUBECONFIG"

[environments.staging]
cluster = "local"
namespaces = ["shop-staging"]

[environments.prod]
cluster = "local"
namespaces = ["shop-prod"]
protected = true
# A second person approves every change in prod.
approvals = 1
channels = ["C01INCIDENT", "C01OPS", "C01RELEASES"]
pagerduty_services = ["PIJ90N7"]
# People here read times in Berlin time (pitcrew stores UTC).
timezone = "Europe/Berlin"
TOML
}
