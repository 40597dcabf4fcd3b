#!/usr/bin/env bash
# Runs pitcrew's benchmarks (numbers go to BENCHMARKS.md):
#   command_to_patch  needs the test cluster (started here)
#   audit             SQLite always, PostgreSQL through the throw-away server started here
#   policy            decisions vs casbin-rs
#   slack_ack         signed slash commands acknowledged, pitcrew (SQLite, PostgreSQL) vs slack-bolt
#                     (built-in, gunicorn, AsyncApp under uvicorn; installed here)
#   replicas_load     2 replicas on PostgreSQL under a steady rate of commands (cluster + PostgreSQL)
# PITCREW_BENCH_EVENTS (default 1,000,000) sizes the audit trail for verify and queries.
#
#   scripts/bench.sh              all of them
#   scripts/bench.sh slack_ack    only the named ones (starts only what they need)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/testenv/env.sh
benches=("$@")
[[ ${#benches[@]} -gt 0 ]] || benches=(command_to_patch audit policy slack_ack replicas_load)
testenv_init
for b in "${benches[@]}"; do
  case "$b" in
    command_to_patch) [[ -n "${KUBECONFIG:-}" && -n "${_bench_cluster:-}" ]] || { testenv_start_cluster; _bench_cluster=1; } ;;
    audit) [[ -n "${_bench_pg:-}" ]] || { testenv_start_postgres; _bench_pg=1; } ;;
    slack_ack)
      testenv_install_tools; export PITCREW_BENCH_PYTHON="$PITCREW_TEST_PYTHON"
      # pitcrew is measured on SQLite and on PostgreSQL.
      [[ -n "${_bench_pg:-}" ]] || { testenv_start_postgres; _bench_pg=1; } ;;
    replicas_load)
      [[ -n "${_bench_cluster:-}" ]] || { testenv_start_cluster; _bench_cluster=1; }
      [[ -n "${_bench_pg:-}" ]] || { testenv_start_postgres; _bench_pg=1; } ;;
    policy) ;;
    *) die "unknown benchmark $b (command_to_patch, audit, policy, slack_ack, replicas_load)" ;;
  esac
  cargo bench --quiet --bench "$b"
done
