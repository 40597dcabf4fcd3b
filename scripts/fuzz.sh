#!/usr/bin/env bash
# Runs pitcrew's cargo-fuzz targets (fuzz/): the command parser, Slack payload decoding and
# the request signature check, each for SECONDS, seeded from the hostile-input corpus in
# tests/corpus/. Installs cargo-fuzz once into the test cache (needs the nightly toolchain,
# which this machine's rustup has).
#   scripts/fuzz.sh 20                  # what the test suite runs
#   scripts/fuzz.sh 600 command_parser  # a long run of one target
# A crash, a failed property or a hang (> 10 s on one input) fails the run; libFuzzer saves
# the input under fuzz/artifacts/TARGET/ and prints the command that replays it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/testenv/lib.sh

seconds="${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}"
shift
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(command_parser slack_payload signature)

FUZZ_VERSION=0.13.2
rustup run nightly rustc --version >/dev/null 2>&1 \
  || die "the nightly Rust toolchain is needed for cargo-fuzz (libFuzzer instrumentation); install it with: rustup toolchain install nightly"
root="$PITCREW_TESTENV_CACHE/cargo-fuzz-$FUZZ_VERSION"
if [[ ! -x "$root/bin/cargo-fuzz" ]]; then
  log "installing cargo-fuzz $FUZZ_VERSION into $root (once; about 2 minutes)"
  cargo install --quiet --locked --version "$FUZZ_VERSION" --root "$root" cargo-fuzz \
    || die "cargo install cargo-fuzz failed"
fi
# The instrumented build of pitcrew and its dependencies is large: keep it in the cache (like
# the control plane) so a fresh clone, as CI runs, does not rebuild it from nothing.
target="$PITCREW_TESTENV_CACHE/fuzz-target"
fuzz() {
  local sub="$1"; shift
  (cd fuzz && rustup run nightly "$root/bin/cargo-fuzz" "$sub" --target-dir "$target" "$@")
}

# Seeds: every corpus input, in the form each target reads.
seeds="$(mktemp -d "${TMPDIR:-/tmp}/pitcrew-fuzz-seeds.XXXXXX")"
trap 'rm -rf "$seeds"' EXIT
python3 - "$seeds" <<'PY'
import json, os, sys, hashlib
out = sys.argv[1]
def put(target, data):
    d = os.path.join(out, target); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb").write(data)
with open("tests/corpus/commands.jsonl", encoding="utf-8") as f:
    for line in f:
        if line.strip():
            put("command_parser", json.loads(line).encode("utf-8", "surrogatepass"))
endpoint = {"commands": 0, "interactions": 1, "events": 2}
with open("tests/corpus/slack.jsonl", encoding="utf-8") as f:
    for line in f:
        if line.strip():
            p = json.loads(line)
            body = p["body"].encode("utf-8", "surrogatepass")
            put("slack_payload", bytes([endpoint.get(p["endpoint"], 0)]) + body)
            put("signature", body)
PY

log "building the fuzz targets (nightly, coverage-instrumented; cached in $target)"
fuzz build --sanitizer none
for t in "${targets[@]}"; do
  log "fuzzing $t for $seconds s from $(ls "$seeds/$t" | wc -l) seeds"
  mkdir -p "$seeds/$t"
  fuzz run --sanitizer none "$t" "$seeds/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$seeds/$t.log" 2>&1 || {
      tail -40 "$seeds/$t.log" >&2
      die "fuzz target $t failed (input saved under fuzz/artifacts/$t/)"
    }
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$seeds/$t.log" \
    | sed "s/^/[fuzz] $t /" >&2 || true
  grep -E 'cov: [0-9]+' "$seeds/$t.log" | tail -1 | sed "s/^/[fuzz] $t last: /" >&2 || true
done
log "fuzzing passed: ${targets[*]} (${seconds} s each)"
