# Sourced by scripts/setup.sh, scripts/teardown.sh and .ci/run (the Makefile runs `scripts/env.sh --print`):
# the environment every entry point needs, computed in one place.
#
#   JAVA_HOME  Debian's groovy launcher runs $JAVA_HOME/bin/java, or /usr/lib/jvm/default-java when
#              JAVA_HOME is unset. Machines that ship OpenJDK without Debian's default-jre-headless have
#              `java` on PATH but no default-java, so JAVA_HOME is derived from the java on PATH.
#   SETUP_STATE  where setup records what it started (dockerd) for teardown; not the local stack's
#              state, which lives where `pipeline-py local` keeps it for everyone (~/.local/state).

pp_java_home() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    printf '%s\n' "$JAVA_HOME"
  elif [ -x /usr/lib/jvm/default-java/bin/java ]; then
    printf '%s\n' /usr/lib/jvm/default-java
  elif command -v java >/dev/null 2>&1; then
    local java
    java=$(readlink -f "$(command -v java)")
    printf '%s\n' "${java%/bin/java}"
  fi
}

PP_ROOT=${PP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SETUP_STATE=${SETUP_STATE:-$PP_ROOT/.state}
JAVA_HOME=$(pp_java_home)
export JAVA_HOME SETUP_STATE

if [ "${1:-}" = "--print" ]; then
  printf 'JAVA_HOME=%s\n' "$JAVA_HOME"
fi
