#!/usr/bin/env bash
# Starts the test environment (cluster, PostgreSQL, reference tools) and keeps it up until
# Ctrl-C / SIGTERM, for running single tests while developing:
#   scripts/testenv/up.sh &        # prints the file to source once everything is up
#   source /tmp/pitcrew-testenv.env && cargo test --test integration faults::
# Everything is torn down when this script ends, as in scripts/test.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
out="${1:-${TMPDIR:-/tmp}/pitcrew-testenv.env}"
testenv_init
testenv_start_cluster
testenv_start_postgres
testenv_install_tools
{
  for v in KUBECONFIG PITCREW_TEST_KUBECTL PITCREW_TEST_ARGO_ROLLOUTS PITCREW_TEST_HELM DATABASE_URL PITCREW_TEST_PG_BIN PITCREW_TEST_PG_USER \
           PITCREW_TEST_PYTHON PITCREW_TEST_PRISM PITCREW_TEST_CHROMIUM PITCREW_TEST_RSYSLOGD PATH; do
    printf 'export %s=%q\n' "$v" "${!v:-}"
  done
} >"$out"
log "environment up; for single tests: source $out"
# Waiting on a background sleep lets a signal end the script (and its cleanup) at once.
while true; do sleep 3600 & wait $!; done
