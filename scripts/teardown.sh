#!/usr/bin/env bash
# Stops what scripts/setup.sh started (recorded in $SETUP_STATE/started), and the local stack.
set -u
cd "$(dirname "$0")/.."
source scripts/env.sh
[ -x .venv/bin/pipeline-py ] && .venv/bin/pipeline-py local down >/dev/null 2>&1
# containers of stacks whose server was killed (a stopped server removes its own)
if docker info >/dev/null 2>&1; then
  ids=$(docker ps -aq --filter label=pipeline-py.stack)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
fi
if grep -qx dockerd "$SETUP_STATE/started" 2>/dev/null && [ -f "$SETUP_STATE/dockerd.pid" ]; then
  pid=$(cat "$SETUP_STATE/dockerd.pid")
  kill "$pid" 2>/dev/null && for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$SETUP_STATE/dockerd.pid"
fi
rm -f "$SETUP_STATE/started"
