# The two commands of the README: `make demo` (the main job, on the local stack) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# JAVA_HOME for groovy, computed where setup and .ci/run compute it (scripts/env.sh).
export JAVA_HOME := $(shell bash scripts/env.sh --print | sed -n 's/^JAVA_HOME=//p')

.PHONY: setup demo test lint unit groovy bench mutation clean

setup:
	@scripts/setup.sh

demo: setup
	$(VENV)/bin/pipeline-py --config examples/task-api/pipeline.yaml --env local demo

test: setup lint
	$(PY) -m pytest -p no:cacheprovider

lint:
	$(PY) -m ruff check pipeline_py tests benchmarks
	$(PY) -m mypy
	scripts/groovy-lint.sh

unit: setup
	$(PY) -m pytest -p no:cacheprovider tests/unit

groovy: setup
	$(PY) -m pytest -p no:cacheprovider tests/test_groovy.py

bench: setup
	$(PY) benchmarks/run_all.py

# Mutation testing of the engine, driven by the unit tier; not part of `make test` (about 1½ hours on 2
# cores). Prints the score and every surviving mutant. MUTATION_JOBS=2; args: MUTANTS='glob ...'.
mutation: setup
	scripts/mutation.sh $(MUTANTS)

clean:
	scripts/teardown.sh
	rm -rf .state build *.egg-info
