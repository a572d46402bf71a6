#!/usr/bin/env bash
# Installs pipeline-py for the Jenkins shared library and prints the path of its executable as
# the last line of stdout (everything else goes to stderr). Run by vars/pipelinePy.groovy as a
# constant command; every input arrives through the environment, never through the command line:
#
#   PIPELINE_PY_VERSION     required; the library's own version (resources/pipeline-py/VERSION):
#                           Groovy and Python always match
#   PIPELINE_PY_SOURCE      pypi (default) | path | an http(s)/file URL of a wheel | a local
#                           directory or .whl (relative paths are taken from $WORKSPACE)
#   PIPELINE_PY_INDEX_URL   package index for 'pypi' (default: pip's configuration)
#   PIPELINE_PY_CACHE_DIR   where virtualenvs are cached (default ${XDG_CACHE_HOME:-~/.cache}/pipeline-py)
#   PIPELINE_PY_PYTHON      interpreter for the virtualenv (default python3; needs >= 3.10)
#   PIPELINE_PY_PIP_ARGS    extra pip arguments, split on whitespace (e.g. "--no-deps")
#   PIPELINE_PY_RETRIES     install attempts (default 3); PIPELINE_PY_RETRY_DELAY seconds,
#                           multiplied by the attempt number (default 5)
#
# A virtualenv per (version, source) is reused while its recorded source and installed
# version still match; concurrent executors on one agent serialise on a lock file.
set -euo pipefail

log() { printf 'pipeline-py install: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# A URL without its userinfo (https://user:token@host/... -> https://host/...): what is logged or
# stamped never carries a credential that came in a source or index URL.
redact() { printf '%s' "$1" | sed -E 's#^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@#\1#'; }

version=${PIPELINE_PY_VERSION:-}
[ -n "$version" ] || die "PIPELINE_PY_VERSION is not set"
[[ "$version" =~ ^[0-9]+(\.[0-9]+)*([a-z0-9.+-]*)$ ]] || die "PIPELINE_PY_VERSION '$version' is not a version"
source_spec=${PIPELINE_PY_SOURCE:-pypi}
python=${PIPELINE_PY_PYTHON:-python3}
retries=${PIPELINE_PY_RETRIES:-3}
delay=${PIPELINE_PY_RETRY_DELAY:-5}
[[ "$retries" =~ ^[1-9][0-9]*$ ]] || die "PIPELINE_PY_RETRIES must be a positive integer, not '$retries'"
[[ "$delay" =~ ^[0-9]+$ ]] || die "PIPELINE_PY_RETRY_DELAY must be a whole number of seconds, not '$delay'"
read -r -a pip_extra <<< "${PIPELINE_PY_PIP_ARGS:-}"

installed_version() {  # $1: a python interpreter; prints the installed distribution's version
  "$1" - <<'PY' 2>/dev/null
import importlib.metadata as m
try:
    print(m.version("pipeline-py"))
except m.PackageNotFoundError:
    pass
PY
}

# 'path': use whatever pipeline-py is on PATH (an agent image that preinstalls it).
if [ "$source_spec" = "path" ]; then
  bin=$(command -v pipeline-py) || die "PIPELINE_PY_SOURCE=path but no pipeline-py on PATH"
  found=$("$bin" --version 2>/dev/null | awk '{print $NF}') || true
  [ "$found" = "$version" ] || die "pipeline-py on PATH ($bin) is version '${found:-unknown}'; this library needs $version"
  log "using $bin ($found) from PATH"
  printf '%s\n' "$bin"
  exit 0
fi

case "$source_spec" in
  pypi) requirement="pipeline-py==$version" ;;
  http://*|https://*|file://*) requirement="$source_spec" ;;
  *)
    src=$source_spec
    [[ "$src" = /* ]] || src="${WORKSPACE:-$PWD}/$src"
    [ -e "$src" ] || die "PIPELINE_PY_SOURCE '$(redact "$source_spec")' is neither pypi, path, a URL nor an existing file or directory ($(redact "$src"))"
    requirement=$(cd "$(dirname "$src")" && printf '%s/%s' "$(pwd -P)" "$(basename "$src")")
    ;;
esac

shown_requirement=$(redact "$requirement")
cache=${PIPELINE_PY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pipeline-py}
key=$version
if [ "$source_spec" != "pypi" ]; then
  key="$version-$(printf '%s' "$shown_requirement" | sha256sum | cut -c1-12)"
fi
venv="$cache/$key"
stamp="$venv/.pipeline-py-source"
bin="$venv/bin/pipeline-py"
want_stamp="$shown_requirement $(redact "${PIPELINE_PY_INDEX_URL:-}") ${PIPELINE_PY_PIP_ARGS:-}"
mkdir -p "$cache"

exec 9>"$cache/.lock-$key"
if command -v flock >/dev/null 2>&1; then
  flock -w 600 9 || die "timed out waiting for another install into $venv"
fi

# A local directory may change between builds at the same version: only URLs and the index are cached.
is_local_dir=false
[ -d "$requirement" ] && is_local_dir=true
if ! $is_local_dir && [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want_stamp" ] \
    && [ "$(installed_version "$venv/bin/python")" = "$version" ]; then
  log "cached: $venv"
  printf '%s\n' "$bin"
  exit 0
fi

"$python" - <<'PY' || die "$python is older than Python 3.10 (pipeline-py needs >= 3.10); set PIPELINE_PY_PYTHON"
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PY

pip_args=(install --disable-pip-version-check --no-input --quiet)
[ -n "${PIPELINE_PY_INDEX_URL:-}" ] && pip_args+=(--index-url "$PIPELINE_PY_INDEX_URL")
pip_args+=("${pip_extra[@]}")

attempt=1
while :; do
  log "installing $shown_requirement into $venv (attempt $attempt of $retries)"
  if { [ -x "$venv/bin/python" ] || "$python" -m venv "$venv" >&2; } \
      && "$venv/bin/python" -m pip "${pip_args[@]}" "$requirement" >&2; then
    break
  fi
  if [ "$attempt" -ge "$retries" ]; then
    die "could not install $shown_requirement after $retries attempts"
  fi
  sleep $((delay * attempt))
  attempt=$((attempt + 1))
done

got=$(installed_version "$venv/bin/python")
[ "$got" = "$version" ] || die "installed pipeline-py is version '${got:-none}' but this library needs $version (source: $(redact "$source_spec"))"
[ -x "$bin" ] || die "the install did not create $bin"
printf '%s\n' "$want_stamp" > "$stamp"
log "installed pipeline-py $got into $venv"
printf '%s\n' "$bin"
