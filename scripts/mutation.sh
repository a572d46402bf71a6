#!/usr/bin/env bash
# `make mutation`: mutation testing of the deploy engine, the task-definition validation and the config
# validation, driven by the unit tier. Not part of `make test` (about an hour on 2 cores).
#   1. a snapshot of the tree in $MUTATION_DIR (default .state/mutation): other work on the tree goes on
#      undisturbed, and the run sees one consistent version of it;
#   2. the unit selection of [tool.mutmut] must pass there first (a score on a red suite means nothing);
#   3. mutmut 3 ([tool.mutmut] in pyproject.toml) with $MUTATION_JOBS workers (default 2);
#   4. scripts/mutation_report.py: the hand-written mutations of tests/mutation/hand_mutations.py (what
#      mutmut cannot make), the score, and every surviving mutant, each either with its reason from
#      tests/mutation/equivalents.md or marked UNEXPLAINED.
# Arguments go to `mutmut run`: mutant-name globs narrow the run, e.g. 'pipeline_py.deploy.rollback*'.
# MUTATION_DESELECT="node-id ..." deselects unit tests (only to measure while someone else's test is red).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY="$ROOT/${VENV:-.venv}/bin/python"
WORK=${MUTATION_DIR:-$ROOT/.state/mutation}
case "$WORK" in /*) ;; *) WORK=$ROOT/$WORK ;; esac  # the report runs from inside it: make it absolute
JOBS=${MUTATION_JOBS:-2}

"$PY" -c 'import mutmut' 2>/dev/null || { echo "mutmut is missing: pip install -e '.[dev]' (scripts/setup.sh)"; exit 2; }

rm -rf "$WORK"
mkdir -p "$WORK/examples"
cp -a pyproject.toml pipeline_py tests "$WORK"/
cp -a examples/task-api "$WORK/examples/"
find "$WORK" -name __pycache__ -prune -exec rm -rf {} +
cd "$WORK"

mapfile -t SELECTION < <("$PY" -c '
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["tool"]["mutmut"]["pytest_add_cli_args_test_selection"]))')
DESELECT=()
for id in ${MUTATION_DESELECT:-}; do DESELECT+=("--deselect" "$id"); done
if [ ${#DESELECT[@]} -gt 0 ]; then
  "$PY" - "${DESELECT[@]}" <<'EOF'
import json, pathlib, sys
p = pathlib.Path("pyproject.toml")
old = 'pytest_add_cli_args = ["-p", "no:cacheprovider"]'
text = p.read_text()
assert old in text, "pyproject.toml: [tool.mutmut] pytest_add_cli_args changed; update scripts/mutation.sh"
p.write_text(text.replace(old, "pytest_add_cli_args = " + json.dumps(["-p", "no:cacheprovider", *sys.argv[1:]])))
EOF
fi

echo "== unit selection on the snapshot (must pass)"
"$PY" -m pytest -p no:cacheprovider -q -x "${SELECTION[@]}" "${DESELECT[@]}" | tail -3 \
  || { echo "the unit selection fails on this tree: fix it (or MUTATION_DESELECT=...) before measuring"; exit 1; }

echo "== mutmut run ($JOBS workers)"
start=$(date +%s)
"$PY" -m mutmut run --max-children "$JOBS" "$@" > mutmut-run.log 2>&1 || { tail -40 mutmut-run.log; exit 1; }
tail -3 mutmut-run.log
echo "   mutmut took $(( $(date +%s) - start ))s; log: $WORK/mutmut-run.log"

echo "== report"
"$PY" "$ROOT/scripts/mutation_report.py" --root "$WORK" --repo "$ROOT" "${DESELECT[@]}"
