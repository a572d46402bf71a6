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
# The local stack's RDS runs one real cluster per instance (pipeline_py/local/postgres.py): Debian keeps
# the binaries off PATH, under /usr/lib/postgresql/<major>/bin; the highest major is used.
check_postgresql() {
  local bin
  bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
  "$bin/pg_basebackup" --version >/dev/null && "$bin/pg_ctl" --version >/dev/null || return 1
  printf '%s (%s)\n' "$("$bin/initdb" --version | head -1)" "$bin"
}
# sed reads all of terraform's output: `head -1` would close the pipe early, and under pipefail terraform's
# SIGPIPE failed the check now and then.
check_haproxy() {
  # the local stack's ALB data plane (pipeline_py/local/haproxy.py): a configuration with a weighted
  # random choice between two backends, as the stack writes them, must pass `haproxy -c`
  local cfg rc
  cfg=$(mktemp)
  printf '%s\n' 'defaults' '  mode http' '  timeout connect 1s' '  timeout client 1s' '  timeout server 1s' \
    'frontend probe' '  bind 127.0.0.1:1' '  http-request set-var(txn.pick) rand(100)' \
    '  use_backend a if { var(txn.pick) -m int lt 50 }' '  use_backend b' \
    'backend a' '  server t 127.10.1.1:8080' 'backend b' '  http-request return status 503 content-type text/plain string no' >"$cfg"
  haproxy -c -q -f "$cfg"; rc=$?
  rm -f "$cfg"
  [ "$rc" = 0 ] && haproxy -v | sed -n 1p
}
check_terraform() { terraform version 2>/dev/null | sed -n '1{/^Terraform v/p}'; }
check_node() {
  local v
  v=$(node --version 2>/dev/null) || return 1
  v=${v#v}
  [ "${v%%.*}" -ge 20 ] 2>/dev/null || { echo "node $v is older than 20 (npm-groovy-lint 16 needs >= 20)" >&2; return 1; }
  npm --version >/dev/null 2>&1 || return 1
  echo "node $v, npm $(npm --version)"
}
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
  "haproxy|haproxy|check_haproxy"
  "terraform|-|check_terraform"
  "chromium|chromium|check_chromium"
  "postgresql|postgresql|check_postgresql"
  "node|nodejs npm|check_node"
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
    # shellcheck disable=SC2206  # a component may need several packages
    [ "$pkg" != - ] && need+=($pkg)
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
# checkov (tests/integration/test_checkov.py), the `checkov` extra of pyproject.toml, in a virtualenv of its
# own: it pins boto3 exactly, which pipeline-py's boto3 excludes. About 70 s on a fresh machine; then kept.
CHECKOV_VENV=${CHECKOV_VENV:-$SETUP_STATE/checkov-venv}
checkov_req=$("$VENV/bin/python" -c 'import tomllib
print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["checkov"]))')
if [ "$(cat "$CHECKOV_VENV/.pipeline-py-requirements" 2>/dev/null)" != "$checkov_req" ] \
   || ! "$CHECKOV_VENV/bin/checkov" --version >/dev/null 2>&1; then
  log "installing $checkov_req into $CHECKOV_VENV"
  "$PYTHON" -m venv "$CHECKOV_VENV"
  # shellcheck disable=SC2086  # the requirements are words
  if ! "$CHECKOV_VENV/bin/python" -m pip install -q $checkov_req >"$SETUP_STATE/checkov-pip.log" 2>&1; then
    line checkov MISSING "pip install failed; the end of $SETUP_STATE/checkov-pip.log:"
    tail -30 "$SETUP_STATE/checkov-pip.log" >&2
    exit 1
  fi
  echo "$checkov_req" > "$CHECKOV_VENV/.pipeline-py-requirements"
fi
if out=$("$CHECKOV_VENV/bin/checkov" --version 2>/dev/null) && [ -n "$out" ]; then
  line checkov ok "checkov $out in $CHECKOV_VENV"
else
  line checkov MISSING "$CHECKOV_VENV/bin/checkov --version failed; remove $CHECKOV_VENV and run setup again"
  exit 1
fi
# moto's own tests for ECS, ELBv2 and CloudWatch (tests/integration/test_moto_conformance.py runs them against
# the local stack's patched moto), from the source distribution of the installed moto: downloaded once with
# pip (about a minute: pip prepares the sdist's metadata), the three test packages and what they import kept
# under $SETUP_STATE/moto-tests/<version>; never copied into the repository.
moto_version=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))')
MOTO_TESTS="$SETUP_STATE/moto-tests/$moto_version"
if [ ! -f "$MOTO_TESTS/.complete" ]; then
  log "downloading the moto $moto_version source distribution (its tests) into $SETUP_STATE/moto-sdist"
  mkdir -p "$SETUP_STATE/moto-sdist"
  if ! "$VENV/bin/python" -m pip download -q --no-deps --no-binary :all: "moto==$moto_version" \
       -d "$SETUP_STATE/moto-sdist" >"$SETUP_STATE/moto-sdist.log" 2>&1; then
    line moto-tests MISSING "pip download moto==$moto_version (sdist) failed; the end of $SETUP_STATE/moto-sdist.log:"
    tail -20 "$SETUP_STATE/moto-sdist.log" >&2
    exit 1
  fi
  rm -rf "$MOTO_TESTS" && mkdir -p "$MOTO_TESTS"
  tar -xzf "$SETUP_STATE/moto-sdist/moto-$moto_version.tar.gz" -C "$MOTO_TESTS" --strip-components=1 \
    "moto-$moto_version/pyproject.toml" "moto-$moto_version/tests/__init__.py" "moto-$moto_version/tests/conftest.py" \
    "moto-$moto_version/tests/markers.py" "moto-$moto_version/tests/test_ec2/__init__.py" \
    "moto-$moto_version/tests/test_ecs" "moto-$moto_version/tests/test_elbv2" "moto-$moto_version/tests/test_cloudwatch"
  touch "$MOTO_TESTS/.complete"
fi
# used: pytest collects one of the files against the installed moto
if out=$(cd "$MOTO_TESTS" && "$VENV/bin/python" -m pytest --collect-only -q -p no:cacheprovider -o addopts= \
           tests/test_ecs/test_ecs_efs.py 2>&1 | tail -1) && [[ $out == *" collected"* ]]; then
  line moto-tests ok "moto $moto_version's tests in $MOTO_TESTS (test_ecs_efs: $out)"
else
  line moto-tests MISSING "pytest cannot collect moto's tests in $MOTO_TESTS ($out); remove it and run setup again"
  exit 1
fi
"$VENV/bin/python" -m pipeline_py.local.busybox examples/task-api >/dev/null \
  || { line sample-app MISSING "$("$VENV/bin/python" -m pipeline_py.local.busybox examples/task-api)"; exit 1; }
line sample-app ok "examples/task-api/bin/busybox in the build context"
if scripts/groovy-lint.sh --install >"$SETUP_STATE/groovy-lint-install.log" 2>&1; then
  line npm-groovy-lint ok "$(.tools/npm-groovy-lint/node_modules/.bin/npm-groovy-lint --version 2>/dev/null | head -1)"
else
  line npm-groovy-lint MISSING "see $SETUP_STATE/groovy-lint-install.log"
  tail -20 "$SETUP_STATE/groovy-lint-install.log" >&2
  exit 1
fi
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
