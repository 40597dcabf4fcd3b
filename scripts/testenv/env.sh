# Starts and stops pitcrew's test environment: a real Kubernetes control plane (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kwok fake nodes) and a throw-away
# PostgreSQL, both on 127.0.0.1 on free ports, everything under one temporary directory.
# Sourced by scripts/test.sh and scripts/demo.sh:
#
#   source scripts/testenv/env.sh
#   testenv_init            # makes $PITCREW_RUN_DIR, installs the cleanup trap
#   testenv_start_cluster   # exports KUBECONFIG, PITCREW_TEST_KUBECTL, PATH (kubectl first)
#   testenv_start_postgres  # exports DATABASE_URL
#
# Everything is torn down on exit, on failure and on Ctrl-C (set PITCREW_KEEP_TESTENV=1 to
# keep the directory and its logs for a post-mortem; processes are stopped regardless).
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

testenv_init() {
  PITCREW_RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/pitcrew-testenv.XXXXXX")"
  # The PostgreSQL server runs as a non-root user that must reach its data directory.
  chmod 755 "$PITCREW_RUN_DIR"
  export PITCREW_RUN_DIR
  _TESTENV_CLUSTER=""
  _TESTENV_PG=""
  _TESTENV_PIDS=""
  trap testenv_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  log "test environment directory: $PITCREW_RUN_DIR"
}

testenv_cleanup() {
  local rc=$?
  set +e
  if [[ -n "$_TESTENV_CLUSTER" ]]; then
    log "deleting cluster $_TESTENV_CLUSTER"
    KWOK_WORKDIR="$PITCREW_RUN_DIR/kwok" "$_TESTENV_BIN/kwokctl" delete cluster \
      --name "$_TESTENV_CLUSTER" >"$PITCREW_RUN_DIR/kwokctl-delete.log" 2>&1 \
      || log "kwokctl delete failed; see $PITCREW_RUN_DIR/kwokctl-delete.log"
    # kwokctl stops the processes it started; make sure none outlives us.
    pkill -f -- "$PITCREW_RUN_DIR/kwok" 2>/dev/null
  fi
  for pid in $_TESTENV_PIDS; do kill "$pid" 2>/dev/null; done
  if [[ -n "$_TESTENV_PG" ]]; then
    log "stopping PostgreSQL"
    _pg_as_owner "$_TESTENV_PG_BIN/pg_ctl" -D "$PITCREW_RUN_DIR/pg/data" -m immediate stop >/dev/null 2>&1
  fi
  if [[ "${PITCREW_KEEP_TESTENV:-0}" == 1 ]]; then
    log "kept $PITCREW_RUN_DIR (PITCREW_KEEP_TESTENV=1)"
  else
    rm -rf "$PITCREW_RUN_DIR"
  fi
  return "$rc"
}

testenv_start_cluster() {
  _TESTENV_BIN="$("$PITCREW_ROOT/scripts/testenv/build.sh")"
  local name="pitcrew-$$"
  local conf="$PITCREW_RUN_DIR/kwokctl.yaml"
  export KWOK_WORKDIR="$PITCREW_RUN_DIR/kwok"
  export KWOK_KUBECTL_BINARY="$_TESTENV_BIN/kubectl"
  export KUBECONFIG="$PITCREW_RUN_DIR/kubeconfig"
  export PITCREW_TEST_KUBECTL="$_TESTENV_BIN/kubectl"
  export PATH="$_TESTENV_BIN:$PATH"

  # Every port is chosen here, on 127.0.0.1: kwokctl's own defaults count down from 32767 on
  # all interfaces, so two runs on one machine would collide.
  local attempt
  for attempt in 1 2 3; do
    cat >"$conf" <<YAML
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeApiserverPort: $(free_port)
  etcdPort: $(free_port)
  etcdPeerPort: $(free_port)
  kubeControllerManagerPort: $(free_port)
  kubeSchedulerPort: $(free_port)
  kwokControllerPort: $(free_port)
  kubeApiserverBinary: $_TESTENV_BIN/kube-apiserver
  kubeControllerManagerBinary: $_TESTENV_BIN/kube-controller-manager
  kubeSchedulerBinary: $_TESTENV_BIN/kube-scheduler
  kubectlBinary: $_TESTENV_BIN/kubectl
  etcdBinary: $_TESTENV_BIN/etcd
  kwokControllerBinary: $_TESTENV_BIN/kwok
# The controllers' client-side rate limits (20 requests/s by default) made every rollout wait
# behind any burst of tests; a test cluster on loopback can take far more.
componentsPatches:
- name: kube-controller-manager
  extraArgs:
  - key: kube-api-qps
    value: "300"
  - key: kube-api-burst
    value: "600"
  - key: concurrent-deployment-syncs
    value: "20"
  - key: concurrent-replicaset-syncs
    value: "20"
  - key: concurrent-statefulset-syncs
    value: "10"
  - key: concurrent-daemonset-syncs
    value: "10"
- name: kube-scheduler
  extraArgs:
  - key: kube-api-qps
    value: "300"
  - key: kube-api-burst
    value: "600"
YAML
    log "starting Kubernetes $PITCREW_K8S_VERSION control plane '$name' (attempt $attempt)"
    _TESTENV_CLUSTER="$name"
    if "$_TESTENV_BIN/kwokctl" create cluster --name "$name" --config "$conf" \
        --kubeconfig "$KUBECONFIG" --wait 120s --timeout 180s \
        >"$PITCREW_RUN_DIR/kwokctl-create.log" 2>&1; then
      break
    fi
    log "cluster start failed (a port may have been taken meanwhile); last lines of the log:"
    tail -5 "$PITCREW_RUN_DIR/kwokctl-create.log" >&2
    "$_TESTENV_BIN/kwokctl" delete cluster --name "$name" >/dev/null 2>&1 || true
    _TESTENV_CLUSTER=""
    [[ $attempt == 3 ]] && die "could not start the test cluster; see $PITCREW_RUN_DIR/kwokctl-create.log"
  done

  "$_TESTENV_BIN/kwokctl" scale node --name "$name" --replicas 3 >"$PITCREW_RUN_DIR/kwokctl-scale.log" 2>&1 \
    || die "could not create kwok nodes; see $PITCREW_RUN_DIR/kwokctl-scale.log"
  kubectl wait --for=condition=Ready node --all --timeout=60s >/dev/null \
    || die "kwok nodes did not become Ready within 60 s"
  log "nodes Ready: $(kubectl get nodes --no-headers | awk '{print $1}' | paste -sd' ')"

  # Prove the controllers and the fake kubelets work before any test relies on them.
  kubectl create namespace testenv-smoke >/dev/null
  kubectl -n testenv-smoke create deployment smoke --image=registry.invalid/smoke:1 --replicas=2 >/dev/null
  kubectl -n testenv-smoke rollout status deployment/smoke --timeout=60s >/dev/null \
    || die "a smoke Deployment did not roll out: the controller manager, scheduler or kwok is not working"
  kubectl delete namespace testenv-smoke --wait=false >/dev/null
  # The GitOps objects `gitops suspend` acts on (Argo CD Application, Flux Kustomization and
  # HelmRelease): their CRDs only, from the projects' Go modules. `create`, not `apply`: the
  # Application CRD is larger than client-side apply's annotation limit.
  local crds
  crds="$("$PITCREW_ROOT/scripts/testenv/crds.sh")"
  kubectl create -f "$crds" >/dev/null || die "could not install the GitOps CRDs from $crds"
  kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null \
    || die "the GitOps CRDs did not become Established within 60 s"
  # Argo Rollouts: its CRDs and its controller (so canary steps really pause and advance), and
  # its kubectl plugin as the oracle for pitcrew's rollout/NAME actions.
  local argo
  argo="$("$PITCREW_ROOT/scripts/testenv/argo.sh")"
  kubectl create -f "$argo/crds" >/dev/null || die "could not install the Argo Rollouts CRDs from $argo/crds"
  kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null \
    || die "the Argo Rollouts CRDs did not become Established within 60 s"
  "$argo/rollouts-controller" --kubeconfig "$KUBECONFIG" --leader-elect=false \
    --metricsport "$(free_port)" --healthzPort "$(free_port)" \
    >"$PITCREW_RUN_DIR/rollouts-controller.log" 2>&1 &
  _TESTENV_PIDS="$_TESTENV_PIDS $!"
  export PITCREW_TEST_ARGO_ROLLOUTS="$argo/kubectl-argo-rollouts"
  # helm (v4, pinned, built from the Go module proxy) for the chart's tests.
  PITCREW_TEST_HELM="$("$PITCREW_ROOT/scripts/testenv/helm.sh")" || die "could not build helm"
  export PITCREW_TEST_HELM
  log "Argo Rollouts controller started (log: $PITCREW_RUN_DIR/rollouts-controller.log)"
  log "cluster ready: $(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}') (KUBECONFIG=$KUBECONFIG)"
}

# Runs a command as the PostgreSQL server's owner: `postgres` when we are root (initdb
# refuses to run as root), ourselves otherwise.
_pg_as_owner() {
  if [[ $EUID -eq 0 ]]; then runuser -u "$_TESTENV_PG_USER" -- "$@"; else "$@"; fi
}

_find_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  return 1
}

testenv_start_postgres() {
  if ! _TESTENV_PG_BIN="$(_find_pg_bin)"; then
    log "PostgreSQL server not found; installing it from Debian's packages"
    [[ $EUID -eq 0 ]] || die "PostgreSQL is not installed and installing it needs root: run 'sudo apt-get install -y postgresql'"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
      || die "apt-get install postgresql failed"
    _TESTENV_PG_BIN="$(_find_pg_bin)" || die "postgresql installed but initdb/pg_ctl not found under /usr/lib/postgresql"
  fi
  _TESTENV_PG_USER=postgres
  if [[ $EUID -eq 0 ]] && ! id -u postgres >/dev/null 2>&1; then
    useradd --system --no-create-home postgres || die "cannot create the 'postgres' user"
  fi
  local dir="$PITCREW_RUN_DIR/pg" port
  mkdir -p "$dir/data" "$dir/socket"
  [[ $EUID -eq 0 ]] && chown -R "$_TESTENV_PG_USER" "$dir"
  _pg_as_owner "$_TESTENV_PG_BIN/initdb" -D "$dir/data" -U pitcrew --auth=trust -E UTF8 --no-locale \
    >"$dir/initdb.log" 2>&1 || die "initdb failed; see $dir/initdb.log"
  for attempt in 1 2 3; do
    port="$(free_port)"
    log "starting PostgreSQL $("$_TESTENV_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
    if _pg_as_owner "$_TESTENV_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir/socket -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null; then
      _TESTENV_PG=1
      export DATABASE_URL="postgres://pitcrew@127.0.0.1:$port/postgres"
      # Fault tests start, stop and restart a PostgreSQL server of their own with these.
      export PITCREW_TEST_PG_BIN="$_TESTENV_PG_BIN" PITCREW_TEST_PG_USER="$_TESTENV_PG_USER"
      log "PostgreSQL ready (DATABASE_URL=$DATABASE_URL)"
      return 0
    fi
    log "PostgreSQL did not start on port $port; last lines of its log:"
    tail -5 "$dir/server.log" >&2 || true
  done
  die "could not start PostgreSQL; see $dir/server.log"
}

# Installs the reference tools the tests compare pitcrew against, once, into the cache:
# pycasbin (the policy differential test) in a Python venv and Prism (request conformance
# against the official OpenAPI descriptions) with npm. Exports PITCREW_TEST_PYTHON and
# PITCREW_TEST_PRISM.
testenv_install_tools() {
  local src="$PITCREW_TESTENV_SRC/tools" key dir
  key="$(cat "$src/requirements.txt" "$src/package.json" | sha256sum | cut -c1-12)"
  dir="$PITCREW_TESTENV_CACHE/tools_$key"
  if [[ ! -f "$dir/.complete" ]]; then
    command -v python3 >/dev/null || die "python3 is needed for the policy differential test (pycasbin)"
    command -v npm >/dev/null || die "npm (Node.js) is needed for Prism, which checks requests against the official API descriptions"
    log "installing pycasbin and Prism into $dir (once; about 20 s)"
    rm -rf "$dir" && mkdir -p "$dir"
    python3 -m venv "$dir/venv" || die "python3 -m venv failed"
    "$dir/venv/bin/pip" install --quiet --disable-pip-version-check -r "$src/requirements.txt" \
      || die "pip install of $src/requirements.txt failed"
    cp "$src/package.json" "$dir/package.json"
    (cd "$dir" && npm install --silent --no-audit --no-fund >/dev/null) \
      || die "npm install of $src/package.json failed"
    touch "$dir/.complete"
  fi
  export PITCREW_TEST_PYTHON="$dir/venv/bin/python"
  export PITCREW_TEST_PRISM="$dir/node_modules/.bin/prism"
  # Headless Chromium from Debian's package: the audit report is checked as a person sees it.
  if ! command -v chromium >/dev/null; then
    [[ $EUID -eq 0 ]] || die "Chromium is not installed and installing it needs root: run 'sudo apt-get install -y chromium'"
    log "installing Debian's chromium (once; about a minute)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || die "apt-get install chromium failed"
  fi
  export PITCREW_TEST_CHROMIUM="$(command -v chromium)"
  # rsyslog from Debian's packages (with its TLS driver): a real syslog receiver for the SIEM
  # stream; openssl makes the test certificates.
  if [[ ! -x /usr/sbin/rsyslogd ]] || ! dpkg -s rsyslog-gnutls >/dev/null 2>&1 || ! command -v openssl >/dev/null; then
    [[ $EUID -eq 0 ]] || die "rsyslog, rsyslog-gnutls or openssl is missing and installing them needs root: run 'sudo apt-get install -y rsyslog rsyslog-gnutls openssl'"
    log "installing Debian's rsyslog, rsyslog-gnutls and openssl (once)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsyslog rsyslog-gnutls openssl >/dev/null) \
      || die "apt-get install rsyslog rsyslog-gnutls openssl failed"
  fi
  export PITCREW_TEST_RSYSLOGD=/usr/sbin/rsyslogd
  log "tools ready: $("$PITCREW_TEST_PYTHON" -c 'import importlib.metadata as m; print("pycasbin", m.version("pycasbin"))'), prism $("$PITCREW_TEST_PRISM" --version 2>/dev/null)"
}

