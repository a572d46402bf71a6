# The two commands of the README: `make demo` (the main job, on the local stack) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
export PIPELINE_PY_STATE_DIR ?= $(CURDIR)/.state

.PHONY: setup demo test lint unit groovy bench clean

setup:
	@scripts/setup.sh

demo: setup
	$(VENV)/bin/pipeline-py --config examples/task-api/pipeline.yaml --env local demo

test: setup lint
	$(PY) -m pytest -p no:cacheprovider

lint:
	$(PY) -m ruff check pipeline_py tests benchmarks

unit: setup
	$(PY) -m pytest -p no:cacheprovider tests/unit

groovy: setup
	$(PY) -m pytest -p no:cacheprovider tests/test_groovy.py

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	scripts/teardown.sh
	rm -rf .state build *.egg-info
