# The two commands of the README: `make demo` (the main job, on the local stack) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# JAVA_HOME for groovy, computed where setup and .ci/run compute it (scripts/env.sh).
export JAVA_HOME := $(shell bash scripts/env.sh --print | sed -n 's/^JAVA_HOME=//p')

.PHONY: setup demo test lint unit groovy bench clean

setup:
	@scripts/setup.sh

demo: setup
	$(VENV)/bin/pipeline-py --config examples/task-api/pipeline.yaml --env local demo

test: setup lint
	$(PY) -m pytest -p no:cacheprovider

lint:
	$(PY) -m ruff check pipeline_py tests benchmarks
	$(PY) -m mypy

unit: setup
	$(PY) -m pytest -p no:cacheprovider tests/unit

groovy: setup
	$(PY) -m pytest -p no:cacheprovider tests/test_groovy.py

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	scripts/teardown.sh
	rm -rf .state build *.egg-info
