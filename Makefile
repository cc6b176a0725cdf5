# copier-kedro-mlops: the template repository's commands. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
DEMO_DIR ?= build/demo
DEMO_PYTHON_VERSION ?= 3.12
PYTEST_ARGS ?=

export OMP_NUM_THREADS ?= 1
export KEDRO_DISABLE_TELEMETRY ?= true
export DO_NOT_TRACK ?= 1
export MPLBACKEND ?= Agg
export AWS_DEFAULT_REGION ?= eu-west-1

.PHONY: help install demo test test-fast lint lock benchmark docs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-test.txt locks/requirements-dev-py$(PYVER).txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r locks/requirements-dev-py$(PYVER).txt -r requirements-test.txt
	@touch $@

install: $(VENV)/.installed  ## tooling venv: copier, test tools and the rendered projects' dev lock

demo: install  ## render with defaults into build/demo, install it in a fresh venv, run the pipeline offline
	rm -rf $(DEMO_DIR)
	$(BIN)/copier copy --trust --defaults --vcs-ref HEAD -d python_version=$(DEMO_PYTHON_VERSION) . $(DEMO_DIR)
	$(MAKE) -C $(DEMO_DIR) install PYTHON="$$(scripts/find_python.sh $(DEMO_PYTHON_VERSION))"
	$(MAKE) -C $(DEMO_DIR) run
	@# The sample's current batch drifts on purpose, so the monitoring job ends with its alert
	@# (exit 1); demo_summary.py then checks that the monitoring report was written.
	-$(MAKE) -C $(DEMO_DIR) monitor
	@# The closed loop: monitor the newest labelled batch, retrain, and let the promotion gate
	@# decide; `score` then uses the champion it left (demo_summary.py prints the decision).
	$(MAKE) -C $(DEMO_DIR) retrain RETRAIN_ARGS="--output retrain-outcome.json"
	$(MAKE) -C $(DEMO_DIR) score
	$(MAKE) -C $(DEMO_DIR) models
	$(BIN)/python scripts/demo_summary.py $(DEMO_DIR)

test: install  ## the whole suite (CI runs this)
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: install  ## quick local loop: everything but fresh installs, Docker, S3 and fuzzing
	$(BIN)/pytest -m "not slow and not docker and not s3 and not hardening and not update" $(PYTEST_ARGS)

lint: install  ## lint the template's own code
	$(BIN)/ruff check hooks scripts tests benchmarks
	$(BIN)/ruff format --check hooks scripts tests benchmarks

lock: install  ## regenerate the rendered projects' pinned locks for every Python
	$(BIN)/python scripts/lock.py

benchmark: install  ## print the benchmark figures (see benchmarks/README.md)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

docs: install  ## build the documentation site into site/
	$(BIN)/mkdocs build --strict

clean:  ## remove build outputs
	rm -rf build site .pytest_cache
