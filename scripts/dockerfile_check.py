#!/usr/bin/env python3
"""Runs the Dockerfile's steps outside Docker (no container engine runs here) and checks the
image they would make:

  build stage   WORKDIR is a cached directory, COPY copies from the checkout, RUN runs in bash:
                the same commands, in the same order, as `docker build` would run.
  runtime stage the binary COPY'd from the build stage needs only libraries that the runtime
                base image (debian:bookworm-slim) has; USER is numeric and not root; the files
                COPY'd into the image are where its configuration expects them; and, as that
                user, the ENTRYPOINT answers `--version` and the default command (`serve`)
                starts on the image's own policy files, answers /healthz and exits 0 on
                SIGTERM.

Usage: scripts/dockerfile_check.py [WORKDIR_CACHE]   (default: the test cache)
Exit 0 when every step worked; otherwise the failing step and its output.
"""

import json
import os
import re
import select
import signal
import time
import urllib.request
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("PITCREW_TESTENV_CACHE")
    or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pitcrew-testenv"),
    "dockerfile-build",
)
# What debian:bookworm-slim provides (libc6, libgcc-s1): anything else the binary links
# against would be missing at run time.
SLIM_LIBS = {"libc.so.6", "libm.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2",
             "libpthread.so.0", "libdl.so.2", "librt.so.1", "linux-vdso.so.1"}


def log(msg):
    print(f"[dockerfile] {msg}", file=sys.stderr, flush=True)


def fail(msg):
    log(f"FAILED: {msg}")
    sys.exit(1)


def instructions(path):
    """(keyword, argument text) per instruction, with continuations joined and comments dropped."""
    out, pending = [], ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line = pending + line
            pending = ""
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages(steps):
    result, current = [], None
    for word, arg in steps:
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", arg, re.IGNORECASE)
            current = {"image": m.group(1), "name": m.group(2), "steps": []}
            result.append(current)
        elif current is not None:
            current["steps"].append((word, arg))
    return result


def copy_into(sources, dest, as_dir):
    """COPY as Docker does it, from the checkout: a directory's contents go into `dest`
    (replacing what was there, so files deleted from the checkout are gone here too); a file
    goes into `dest` when it names a directory (`as_dir`: it ends in / or there are several
    sources), else to `dest` itself."""
    for src in sources:
        s = os.path.join(ROOT, src)
        if not os.path.exists(s):
            fail(f"COPY {src}: not in the checkout")
        if os.path.isdir(s):
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(s, dest)
        elif as_dir:
            os.makedirs(dest, exist_ok=True)
            shutil.copy2(s, os.path.join(dest, os.path.basename(src)))
        else:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(s, dest)


def serve_as_user(image, binary, entrypoint, cmd, as_user, run_env, uid, gid):
    """Runs the image's default command (ENTRYPOINT + CMD) as its user, on a minimal
    configuration that uses the image's own policy files and a data directory only that user
    may write: it must start, answer /healthz, and exit 0 on SIGTERM."""
    data = os.path.join(image, "var/lib/pitcrew")
    os.makedirs(data, exist_ok=True)
    os.chown(data, int(uid), int(gid))
    os.chmod(data, 0o700)
    kubeconfig = os.path.join(image, "kubeconfig")
    with open(kubeconfig, "w", encoding="utf-8") as f:
        f.write("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:9\"}}]\n"
                "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t}}]\n")
    config = os.path.join(image, "pitcrew.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(f"""[database]
sqlite_path = "{data}/pitcrew.db"
[slack]
allowed_teams = ["T01EXAMPLE"]
[policy]
model = "{image}/etc/pitcrew/policies/model.conf"
policy = "{image}/etc/pitcrew/policies/policy.csv"
[clusters.main]
kubeconfig = "{kubeconfig}"
[environments.prod]
cluster = "main"
namespaces = ["shop"]
""")
    for path in (kubeconfig, config):
        os.chmod(path, 0o644)
    env = {**run_env, "PITCREW_CONFIG": config}
    args = [binary] + entrypoint[1:] + cmd + ["--listen", "127.0.0.1:0"]
    proc = subprocess.Popen(as_user + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=data)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline().strip() if ready else ""
        if not line.startswith("listening on "):
            proc.kill()
            fail(f"`{' '.join(entrypoint + cmd)}` as uid {uid} did not start: {line!r}\n{proc.stderr.read()[-2000:]}")
        base = line.removeprefix("listening on ")
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as answer:
            if answer.status != 200:
                fail(f"/healthz answered {answer.status}")
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            fail("serve did not exit within 20 s of SIGTERM")
        if code != 0:
            fail(f"serve exited {code} after SIGTERM:\n{proc.stderr.read()[-2000:]}")
        log(f"as uid {uid}: `{' '.join(entrypoint + cmd)}` served /healthz from {base} with the image's policies, and exited 0 on SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()


def main():
    steps = instructions(os.path.join(ROOT, "Dockerfile"))
    found = stages(steps)
    if len(found) < 2:
        fail("expected a multi-stage Dockerfile (a build stage and a runtime stage)")
    build, runtime = found[0], found[-1]
    if not build["name"]:
        fail("the build stage has no name (FROM ... AS build)")

    # The builder image's Rust must be the one that builds here, or this check proves nothing.
    m = re.match(r"rust:(\d+\.\d+)", build["image"])
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout
    if not m or f" {m.group(1)}." not in rustc:
        fail(f"the build stage uses {build['image']} but this machine's compiler is {rustc.strip()}")
    log(f"build stage from {build['image']} (here: {rustc.strip()}); work directory {CACHE}")

    workdir = CACHE
    os.makedirs(workdir, exist_ok=True)
    # Each `docker build` starts from the builder image's filesystem: keep only the build
    # cache (target/), as a BuildKit cache would, and nothing a previous run left behind.
    for entry in os.listdir(workdir):
        if entry != "target":
            path = os.path.join(workdir, entry)
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)
    for word, arg in build["steps"]:
        if word == "WORKDIR":
            continue  # mapped to CACHE
        elif word == "COPY":
            parts = shlex.split(arg)
            if any(p.startswith("--") for p in parts):
                fail(f"unsupported COPY flags in the build stage: {arg}")
            *sources, dest = parts
            copy_into(sources, os.path.join(workdir, dest), dest.endswith("/") or len(sources) > 1)
            log(f"COPY {arg}")
        elif word == "RUN":
            log(f"RUN {arg}")
            # As in `docker build`: nothing from the caller's environment redirects cargo's
            # output (scripts/test.sh exports CARGO_TARGET_DIR for its own builds; the image's
            # binary must come from this build's own target/).
            env = {k: v for k, v in os.environ.items() if k != "CARGO_TARGET_DIR"}
            r = subprocess.run(["bash", "-euo", "pipefail", "-c", arg], cwd=workdir, env=env)
            if r.returncode != 0:
                fail(f"RUN {arg} exited {r.returncode}")
        elif word in ("ENV", "ARG", "LABEL"):
            fail(f"{word} in the build stage is not interpreted by this check; extend it")
        else:
            fail(f"unknown instruction in the build stage: {word}")

    image = tempfile.mkdtemp(prefix="pitcrew-image.")
    os.chmod(image, 0o755)
    user, entrypoint, cmd, env = None, None, [], {}
    try:
        for word, arg in runtime["steps"]:
            if word == "COPY":
                parts = shlex.split(arg)
                frm = [p for p in parts if p.startswith("--from=")]
                parts = [p for p in parts if not p.startswith("--")]
                *sources, dest = parts
                if frm:
                    if frm[0] != f"--from={build['name']}":
                        fail(f"COPY {arg}: from an unknown stage")
                    src = sources[0].replace("/src/", "", 1) if sources[0].startswith("/src/") else sources[0]
                    target = os.path.join(image, dest.lstrip("/"))
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    shutil.copy2(os.path.join(workdir, src), target)
                else:
                    copy_into(sources, os.path.join(image, dest.lstrip("/")),
                              dest.endswith("/") or len(sources) > 1)
                log(f"COPY {arg}")
            elif word == "USER":
                user = arg
            elif word == "ENV":
                for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', arg):
                    env[k] = v.strip('"')
            elif word == "ENTRYPOINT":
                entrypoint = json.loads(arg)
            elif word == "CMD":
                cmd = json.loads(arg)
        if not user or not re.fullmatch(r"\d+(:\d+)?", user) or user.split(":")[0] == "0":
            fail(f"USER must be a numeric non-root uid (Kubernetes' runAsNonRoot checks it): {user!r}")
        if not entrypoint:
            fail("no ENTRYPOINT in the runtime stage")
        binary = os.path.join(image, entrypoint[0].lstrip("/"))
        if not os.path.exists(binary):
            fail(f"the ENTRYPOINT {entrypoint[0]} is not in the image")
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
        needed = {line.split()[0] for line in ldd.splitlines() if line.strip()}
        extra = sorted(n.rsplit("/", 1)[-1] for n in needed if n.rsplit("/", 1)[-1] not in SLIM_LIBS)
        if extra:
            fail(f"{entrypoint[0]} links libraries debian:bookworm-slim lacks: {extra}")
        log(f"{entrypoint[0]} links only: {sorted(n.rsplit('/', 1)[-1] for n in needed)}")

        uid, _, gid = user.partition(":")
        as_user = ["setpriv", f"--reuid={uid}", f"--regid={gid or uid}", "--clear-groups", "--"]
        run_env = {"PATH": "/usr/bin:/bin", **env}
        # Paths inside the image point into the unpacked image here.
        for k, v in run_env.items():
            if v.startswith("/etc/pitcrew"):
                run_env[k] = os.path.join(image, v.lstrip("/"))
        r = subprocess.run(as_user + [binary, "--version"], capture_output=True, text=True,
                           env=run_env, cwd=image)
        if r.returncode != 0:
            fail(f"{entrypoint[0]} --version as uid {uid} exited {r.returncode}:\n{r.stdout}{r.stderr}")
        log(f"as uid {uid}: {r.stdout.strip()}")
        serve_as_user(image, binary, entrypoint, cmd, as_user, run_env, uid, gid or uid)
    finally:
        shutil.rmtree(image, ignore_errors=True)
    log("the Dockerfile's steps build and the image's binary runs as its non-root user")


if __name__ == "__main__":
    main()
