#!/usr/bin/env bash
# Runs pitcrew's whole test suite, the way CI does (.ci/run calls exactly this):
#   1. formatting and lints (cargo fmt --check, cargo clippy -D warnings), into a cargo target
#      directory kept in the cache across clones
#   2. builds the Kubernetes control plane from Go modules (cached after the first run), in the
#      background while cargo builds
#   3. starts a real cluster and a throw-away PostgreSQL on 127.0.0.1, free ports
#   4. cargo test --workspace (unit tests of every crate + the integration tests, the 500-command
#      exactly-once test among them, in one parallel pass)
#   5. each cargo-fuzz target briefly (scripts/fuzz.sh), the Dockerfile's steps outside Docker
#      (scripts/dockerfile_check.py), then tears everything down
# With CI=true, a missing Go toolchain, cluster or PostgreSQL fails the run; it never skips.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/testenv/env.sh

# Each step says when it starts (seconds since the run began): the phase table in README's
# "How long" comes from these lines.
step() { printf '\n==> [%4d s] %s\n' "$((SECONDS - ${started:-0}))" "$*" >&2; }
ci=false; [[ "${CI:-}" == true || "${CI:-}" == 1 ]] && ci=true
started=$SECONDS

step "checking toolchains"
command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) >= 1.95"
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true
skip="${PITCREW_TEST_SKIP:-}"
if $ci && [[ -n "$skip" ]]; then die "PITCREW_TEST_SKIP=$skip is refused in CI: every test must run"; fi
if ! command -v go >/dev/null; then
  if $ci || [[ "$skip" != *cluster* ]]; then
    die "the Go toolchain (>= 1.26) is needed to build the test Kubernetes control plane; install it, or outside CI set PITCREW_TEST_SKIP=cluster"
  fi
fi
log "cargo: $(cargo --version), go: $(command -v go >/dev/null && go version | awk '{print $3}' || echo 'absent')"
# One build directory kept between runs (CI runs in a fresh clone each time; see lib.sh).
export CARGO_TARGET_DIR="$(testenv_cargo_target)"
log "cargo target directory: $CARGO_TARGET_DIR"

# The Go builds (the control plane, cold: about 8 minutes; Argo Rollouts) and the cargo builds below are both
# long on a new machine: start the Go build now, in the background, and wait for it only
# when the cluster starts. Its output goes to a log, shown if it fails.
go_build_log="$(mktemp "${TMPDIR:-/tmp}/pitcrew-go-build.XXXXXX")"
go_build_pid=""
if [[ "$skip" != *cluster* ]] && command -v go >/dev/null; then
  # Then Argo Rollouts (controller and plugin, about 3 minutes cold), the GitOps CRDs and helm
  # (for the chart's tests, about 1 minute cold).
  { scripts/testenv/build.sh && scripts/testenv/argo.sh && scripts/testenv/crds.sh && scripts/testenv/helm.sh; } \
    >"$go_build_log" 2>&1 &
  go_build_pid=$!
fi
wait_for_go_build() {
  [[ -n "$go_build_pid" ]] || return 0
  if ! wait "$go_build_pid"; then
    cat "$go_build_log" >&2
    die "building the test control plane failed (its output is above)"
  fi
  go_build_pid=""
  grep -v '^go: downloading' "$go_build_log" | tail -3 >&2 || true
}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "building the test binaries"
cargo test --workspace --no-run --quiet 2>&1 | grep -v '^ *Executable' >&2 || true

# The Dockerfile's release build (two cores for about 3 minutes) starts now, in the background
# and at a lower priority, so it overlaps the cluster start, the tests (which mostly wait on
# rollouts) and the fuzzers instead of adding its time after them. Its output is shown at the end.
step "running the Dockerfile's build steps outside Docker, in the background"
dockerfile_log="$(mktemp "${TMPDIR:-/tmp}/pitcrew-dockerfile.XXXXXX")"
nice -n 10 scripts/dockerfile_check.py >"$dockerfile_log" 2>&1 &
dockerfile_pid=$!

testenv_init
# Stopped with the rest of the environment if the run ends early.
_TESTENV_PIDS="$_TESTENV_PIDS $dockerfile_pid"
if [[ "$skip" == *cluster* ]]; then
  log "SKIPPING the cluster (PITCREW_TEST_SKIP=$skip): cluster tests will report themselves skipped"
else
  step "starting the test Kubernetes control plane"
  wait_for_go_build
  testenv_start_cluster
fi
if [[ "$skip" == *postgres* ]]; then
  log "SKIPPING PostgreSQL (PITCREW_TEST_SKIP=$skip): PostgreSQL tests will report themselves skipped"
  unset DATABASE_URL
else
  step "starting PostgreSQL"
  testenv_start_postgres
fi

if [[ "$skip" == *tools* ]]; then
  log "SKIPPING the reference tools (PITCREW_TEST_SKIP=$skip): differential and conformance tests will report themselves skipped"
else
  step "installing the reference tools (pycasbin, Prism, Chromium, rsyslog)"
  testenv_install_tools
fi

# Every test in one parallel run, the exactly-once test at the issue's size (500 commands x 3
# deliveries to 2 replicas) among them: with the controllers' client rate limits raised (see
# env.sh) its 500 restarts no longer starve the other tests' rollouts (20 s, was 200 s alone).
step "cargo test --workspace (the exactly-once test with ${PITCREW_TEST_REPLICA_COMMANDS:-500} commands)"
PITCREW_TEST_REPLICA_COMMANDS="${PITCREW_TEST_REPLICA_COMMANDS:-500}" \
  cargo test --workspace --quiet -- --test-threads "${PITCREW_TEST_THREADS:-4}"

step "fuzzing each cargo-fuzz target briefly, seeded from the corpus (the Dockerfile check goes on beside it)"
fuzz_status=0
scripts/fuzz.sh "${PITCREW_FUZZ_SECONDS:-20}" || fuzz_status=$?
step "waiting for the Dockerfile check"
dockerfile_status=0
wait "$dockerfile_pid" || dockerfile_status=$?
cat "$dockerfile_log" >&2
rm -f "$dockerfile_log"
[[ $fuzz_status -eq 0 ]] || die "fuzzing failed (exit $fuzz_status); see its output above"
[[ $dockerfile_status -eq 0 ]] || die "the Dockerfile check failed (exit $dockerfile_status); see its output above"

step "all tests passed in $((SECONDS - started)) s"
