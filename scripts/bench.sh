#!/usr/bin/env bash
# Runs pitcrew's benchmarks that need the test cluster (numbers go to BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/testenv/env.sh
testenv_init
testenv_start_cluster
cargo bench --quiet --bench command_to_patch
