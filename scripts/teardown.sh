#!/usr/bin/env bash
# Stops what scripts/setup.sh started (recorded in .state/started), and the local stack.
set -u
cd "$(dirname "$0")/.."
STATE=${PIPELINE_PY_STATE_DIR:-$(pwd)/.state}
[ -x .venv/bin/pipeline-py ] && PIPELINE_PY_STATE_DIR="$STATE" .venv/bin/pipeline-py local down >/dev/null 2>&1
if grep -qx dockerd "$STATE/started" 2>/dev/null && [ -f "$STATE/dockerd.pid" ]; then
  pid=$(cat "$STATE/dockerd.pid")
  kill "$pid" 2>/dev/null && for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$STATE/dockerd.pid"
fi
rm -f "$STATE/started"
