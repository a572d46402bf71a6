#!/usr/bin/env bash
# Sets up everything `make demo` and `make test` need on a fresh Debian machine, and says so in one
# line per component. Each component is checked by using it the way the project does (groovy runs
# a script, the engine answers `docker info`, the registry prints its version, terraform finds the
# provider mirror, ...), never by the presence of something else. What fails is installed with apt
# when run as root; otherwise setup names the package and exits 1.
# Idempotent: what works is left alone. Records what it started (dockerd) in $SETUP_STATE/started.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
mkdir -p "$SETUP_STATE"
log() { printf 'setup: %s\n' "$*" >&2; }
line() { printf 'setup: %-18s %-9s %s\n' "$1" "$2" "$3" >&2; }

# ---- checks: each prints a one-line description on success, fails otherwise ------------------------
check_java() { java -version 2>&1 | head -1; }
check_groovy() {
  local out
  out=$(groovy -e 'print 6 * 7' 2>&1) || { printf '%s\n' "$out" | tail -1 >&2; return 1; }
  [ "$out" = 42 ] || { printf 'groovy -e printed %q\n' "$out" >&2; return 1; }
  printf 'Groovy %s (JAVA_HOME=%s)\n' "$(groovy --version 2>/dev/null | sed -n 's/^Groovy Version: \([^ ]*\).*/\1/p')" "$JAVA_HOME"
}
check_dockerd() { dockerd --version; }
check_registry() { docker-registry --version 2>&1 | head -1; }
check_htpasswd() { htpasswd -nbB probe probe >/dev/null && echo "htpasswd (bcrypt) works"; }
check_busybox() {
  [ -x /bin/busybox ] || return 1
  /bin/busybox --list | grep -qx nc || return 1
  if LC_ALL=C ldd /bin/busybox >/dev/null 2>&1; then echo "/bin/busybox is dynamically linked" >&2; return 1; fi
  echo "static $(/bin/busybox 2>&1 | head -1 | cut -d' ' -f1-2)"
}
check_terraform() { terraform version 2>/dev/null | head -1 | grep -q '^Terraform v' && terraform version | head -1; }
check_chromium() {
  local profile out
  profile=$(mktemp -d)
  out=$(timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --no-first-run --user-data-dir="$profile" \
        --dump-dom 'data:text/html,<p id="probe">rendered</p>' 2>/dev/null)
  rm -rf "$profile"
  grep -q 'id="probe">rendered' <<<"$out" && chromium --version 2>/dev/null | head -1
}

# name | Debian package | check function
COMPONENTS=(
  "java|default-jre-headless|check_java"
  "groovy|groovy|check_groovy"
  "dockerd|docker.io|check_dockerd"
  "docker-registry|docker-registry|check_registry"
  "htpasswd|apache2-utils|check_htpasswd"
  "busybox-static|busybox-static|check_busybox"
  "terraform|-|check_terraform"
  "chromium|chromium|check_chromium"
)

declare -A RESULT=()
run_checks() {
  local entry name pkg fn out
  for entry in "${COMPONENTS[@]}"; do
    IFS='|' read -r name pkg fn <<<"$entry"
    if out=$("$fn" 2>/dev/null) && [ -n "$out" ]; then RESULT[$name]="ok|$out"; else RESULT[$name]="missing|"; fi
  done
}

# ---- 1. system packages ------------------------------------------------------------------------------
run_checks
need=()
declare -A WAS_MISSING=()
for entry in "${COMPONENTS[@]}"; do
  IFS='|' read -r name pkg fn <<<"$entry"
  if [ "${RESULT[$name]%%|*}" = missing ]; then
    WAS_MISSING[$name]=1
    [ "$pkg" != - ] && need+=("$pkg")
  fi
done
# groovy needs a JVM: when java itself is missing, install one with it.
if [ -n "${WAS_MISSING[groovy]:-}" ] && [ -z "${WAS_MISSING[java]:-}" ] && ! command -v java >/dev/null; then
  need+=(default-jre-headless)
fi
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${need[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    source scripts/env.sh   # a JVM may have arrived: JAVA_HOME again
  fi
  run_checks
fi
failed=0
for entry in "${COMPONENTS[@]}"; do
  IFS='|' read -r name pkg fn <<<"$entry"
  state=${RESULT[$name]%%|*}
  detail=${RESULT[$name]#*|}
  if [ "$state" = ok ]; then
    line "$name" "$([ -n "${WAS_MISSING[$name]:-}" ] && echo installed || echo ok)" "$detail"
  else
    failed=1
    case $pkg in
      -) line "$name" MISSING "install terraform >= 1.11 from HashiCorp's releases onto PATH (no Debian package)" ;;
      *) line "$name" MISSING "$("$fn" 2>&1 >/dev/null | tail -1) — as root: apt-get install $pkg" ;;
    esac
  fi
done
[ "$failed" = 0 ] || { log "some components are missing (above); run as root to install them"; exit 1; }

# ---- 2. the virtualenv --------------------------------------------------------------------------------
stamp="$VENV/.pipeline-py-installed"
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing pipeline-py[dev,local] into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1
  if ! "$VENV/bin/python" -m pip install -q -e ".[dev,local]" >"$SETUP_STATE/pip.log" 2>&1; then
    line pipeline-py MISSING "pip install failed; the end of $SETUP_STATE/pip.log:"
    tail -30 "$SETUP_STATE/pip.log" >&2
    exit 1
  fi
  "$VENV/bin/pipeline-py" --version >/dev/null
  echo "$want" > "$stamp"
fi
line pipeline-py ok "$("$VENV/bin/pipeline-py" --version) in $VENV"
"$VENV/bin/python" -m pipeline_py.local.busybox examples/task-api >/dev/null \
  || { line sample-app MISSING "$("$VENV/bin/python" -m pipeline_py.local.busybox examples/task-api)"; exit 1; }
line sample-app ok "examples/task-api/bin/busybox in the build context"
if mirror=$("$VENV/bin/python" -c 'import os
from pipeline_py.terraform.mirror import find_mirror
m = find_mirror(None, os.environ)
print(f"{m.root} ({len(m.providers)} providers)") if m else exit(1)' 2>/dev/null); then
  line tf-provider-mirror ok "$mirror"
else
  line tf-provider-mirror MISSING "no provider mirror found (set PIPELINE_PY_TF_PLUGIN_DIR; see docs/terraform.md)"
  exit 1
fi

# ---- 3. a Docker engine ---------------------------------------------------------------------------------
if docker info >/dev/null 2>&1; then
  line docker-engine ok "engine $(docker version --format '{{.Server.Version}}') answers"
else
  nohup dockerd --storage-driver=vfs >"$SETUP_STATE/dockerd.log" 2>&1 &
  echo "$!" > "$SETUP_STATE/dockerd.pid"
  echo dockerd >> "$SETUP_STATE/started"
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  if ! docker info >/dev/null 2>&1; then
    line docker-engine MISSING "dockerd did not come up; see $SETUP_STATE/dockerd.log"
    tail -20 "$SETUP_STATE/dockerd.log" >&2
    exit 1
  fi
  line docker-engine started "dockerd --storage-driver=vfs, engine $(docker version --format '{{.Server.Version}}') (teardown stops it)"
fi
