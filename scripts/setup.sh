#!/usr/bin/env bash
# Sets up everything `make demo` and `make test` need on a fresh Debian machine:
# system packages (when run as root), the virtualenv with pipeline-py and its extras,
# and a Docker engine (dockerd --storage-driver=vfs) when none answers.
# Idempotent: what is already there is left alone. Writes what it started to .state/started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
STATE=${PIPELINE_PY_STATE_DIR:-$ROOT/.state}
PYTHON=${PYTHON:-python3}
mkdir -p "$STATE"
log() { printf 'setup: %s\n' "$*" >&2; }

# 1. System packages.
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v groovy >/dev/null 2>&1 || need+=(groovy)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    log "missing system packages: ${need[*]} (run as root, or install them: apt-get install ${need[*]})"
    exit 1
  fi
fi
command -v terraform >/dev/null 2>&1 || log "warning: terraform is not on PATH; terraform tests need it"

# 2. The virtualenv.
stamp="$VENV/.pipeline-py-installed"
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing pipeline-py[dev,local] into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -e ".[dev,local]"
  echo "$want" > "$stamp"
fi
"$VENV/bin/python" -m pipeline_py.local.busybox examples/task-api >/dev/null

# 3. A Docker engine.
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (--storage-driver=vfs)"
  nohup dockerd --storage-driver=vfs >"$STATE/dockerd.log" 2>&1 &
  echo "$!" > "$STATE/dockerd.pid"
  echo dockerd >> "$STATE/started"
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see $STATE/dockerd.log"; tail -20 "$STATE/dockerd.log" >&2; exit 1; }
fi
log "ready: $("$VENV/bin/pipeline-py" --version), docker $(docker version --format '{{.Server.Version}}'), $(terraform version 2>/dev/null | head -1)"
