#!/usr/bin/env bash
# CPS and style lint of the Jenkins library (vars/, src/ and the Jenkinsfile) with npm-groovy-lint
# (CodeNarc, including its Jenkins rules), configured by .groovylintrc.json. Exits non-zero on any
# finding, of any severity.
#
# npm-groovy-lint is pinned and installed into .tools/npm-groovy-lint when missing (the only
# network access: the npm registry). It runs on this machine's Java (17 or newer): its java path
# is given explicitly, so it never downloads a JRE, and --noserver keeps it from leaving a
# CodeNarc server running. CodeNarc's typed Jenkins rules (CpsCallFromNonCpsMethod,
# ClassNotSerializable, ...) only run on files that compile, so stubs of @NonCPS, @Library and the
# io.pipelinepy classes are compiled with groovyc into .tools/groovy-lint-stubs and put on
# CodeNarc's boot classpath.
#
#   scripts/groovy-lint.sh            lint (install first when needed)
#   scripts/groovy-lint.sh --install  only install (idempotent)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=16.2.0
PREFIX=.tools/npm-groovy-lint
BIN=$PREFIX/node_modules/.bin/npm-groovy-lint
STUBS=.tools/groovy-lint-stubs

log() { printf 'groovy-lint: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

works() { [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "npm-groovy-lint version $VERSION"; }

if ! works; then
  command -v npm >/dev/null 2>&1 || die "npm is not on PATH (npm-groovy-lint $VERSION needs Node.js >= 20)"
  log "installing npm-groovy-lint@$VERSION into $PREFIX"
  mkdir -p "$PREFIX"
  npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "npm-groovy-lint@$VERSION" >&2
  works || die "npm-groovy-lint@$VERSION is installed in $PREFIX but does not run"
fi
[ "${1:-}" = "--install" ] && exit 0

# Java: JAVA_HOME when it holds one, else the java on PATH; 17 or newer (CodeNarc 3.7).
java_bin=""
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  java_bin="$JAVA_HOME/bin/java"
elif command -v java >/dev/null 2>&1; then
  java_bin=$(readlink -f "$(command -v java)")
fi
[ -n "$java_bin" ] || die "no java on PATH (a JRE 17 or newer is needed)"
java_version=$("$java_bin" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
[ "${java_version%%.*}" -ge 17 ] 2>/dev/null || die "$java_bin is Java ${java_version:-unknown}; npm-groovy-lint needs 17 or newer"
export JAVA_HOME="${java_bin%/bin/java}"  # for groovyc (Debian's launcher) below

# Stubs for the typed rules: annotation stubs from the test harness, an empty interface per src/ class.
command -v groovyc >/dev/null 2>&1 || die "groovyc is not on PATH (Debian's groovy package)"
stub_src=$(mktemp -d)
trap 'rm -rf "$stub_src"' EXIT
cp tests/groovy/src/com/cloudbees/groovy/cps/NonCPS.groovy tests/groovy/src/org/jenkinsci/plugins/workflow/libs/Library.groovy "$stub_src/"
while IFS= read -r f; do
  rel=${f#src/}
  pkg=$(dirname "$rel" | tr / .)
  printf 'package %s\ninterface %s {}\n' "$pkg" "$(basename "$rel" .groovy)" > "$stub_src/$(echo "$rel" | tr / _)"
done < <(find src -name '*.groovy' | sort)
rm -rf "$STUBS"
mkdir -p "$STUBS"
groovyc -d "$STUBS" "$stub_src"/*.groovy >&2

# --noserver should keep npm-groovy-lint from starting its CodeNarc server; should one appear all
# the same, only the one this run started (from this prefix) is stopped.
servers_before=$(pgrep -f "$PREFIX/.*CodeNarcServer.jar --server" | tr "\n" " " || true)
stop_new_server() {
  local pid
  for pid in $(pgrep -f "$PREFIX/.*CodeNarcServer.jar --server" || true); do
    case " $servers_before " in *" $pid "*) ;; *) kill "$pid" 2>/dev/null || true ;; esac
  done
}
trap 'rm -rf "$stub_src"; stop_new_server' EXIT

status=0
"$BIN" --noserver --javaexecutable "$java_bin" \
  --javaoptions="-Xms256m,-Xmx2048m,-Xbootclasspath/a:$(pwd)/$STUBS" \
  --config . --failon info --output txt \
  vars src Jenkinsfile || status=$?
exit "$status"
