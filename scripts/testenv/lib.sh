# Shared helpers for pitcrew's test-environment scripts. Sourced, not executed.
# shellcheck shell=bash

# Pinned versions. Changing one changes the cache key, so a new build happens once.
PITCREW_K8S_VERSION="v1.36.3"
PITCREW_ETCD_VERSION="v3.6.8"   # the etcd that k8s.io/kubernetes v1.36.3 itself requires
PITCREW_KWOK_VERSION="v0.8.0"

PITCREW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PITCREW_TESTENV_SRC="$PITCREW_ROOT/testenv"
PITCREW_TESTENV_CACHE="${PITCREW_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pitcrew-testenv}"

log() { printf '[testenv] %s\n' "$*" >&2; }
die() { printf '[testenv] ERROR: %s\n' "$*" >&2; exit 1; }

# The cache key covers the versions and the exact dependency set (go.sum, which changes with
# every module version, unlike comments in go.mod), so two checkouts with different pins
# never share a directory of binaries.
testenv_bin_dir() {
  local sum
  sum="$(cat "$PITCREW_TESTENV_SRC/kubernetes/go.sum" "$PITCREW_TESTENV_SRC/kwok/go.sum" \
    | sha256sum | cut -c1-12)"
  printf '%s/k8s-%s_etcd-%s_kwok-%s_%s/bin' "$PITCREW_TESTENV_CACHE" \
    "$PITCREW_K8S_VERSION" "$PITCREW_ETCD_VERSION" "$PITCREW_KWOK_VERSION" "$sum"
}

# A free TCP port on 127.0.0.1, chosen by the kernel. Racy in theory (another process
# may take it before we bind), so callers retry a start that fails on a taken port.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# The cargo target directory the suite and the demo build into: kept in the test cache, one per
# toolchain (rustc -vV), so a fresh clone on the same machine — which is how CI runs — starts
# from the previous run's build instead of compiling every dependency again. Cargo's own
# fingerprints decide what to rebuild when Cargo.lock or the sources changed, so the key needs
# only what cargo cannot see: the toolchain. An explicit CARGO_TARGET_DIR wins.
testenv_cargo_target() {
  if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then printf '%s' "$CARGO_TARGET_DIR"; return; fi
  local key
  key="$(rustc -vV 2>/dev/null | sha256sum | cut -c1-12)"
  printf '%s/cargo-target/%s' "$PITCREW_TESTENV_CACHE" "$key"
}
