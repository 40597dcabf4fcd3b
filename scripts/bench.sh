#!/usr/bin/env bash
# Runs pitcrew's benchmarks (numbers go to BENCHMARKS.md):
#   command_to_patch  needs the test cluster (started here)
#   audit             SQLite always, PostgreSQL through the throw-away server started here
# PITCREW_BENCH_EVENTS (default 1,000,000) sizes the audit trail for verify and queries.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/testenv/env.sh
testenv_init
testenv_start_cluster
testenv_start_postgres
cargo bench --quiet --bench command_to_patch
cargo bench --quiet --bench audit
cargo bench --quiet --bench policy
