# copier-kedro-mlops: the template repository's commands. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
DEMO_DIR ?= build/demo
DEMO_PYTHON_VERSION ?= 3.12
PYTEST_ARGS ?=

# The test environment's one copy is tests/test.env (KEY=value lines); a value already set wins.
$(foreach setting,$(shell grep -E '^[A-Z_]+=' tests/test.env),$(eval export $(subst =, ?= ,$(setting))))

.PHONY: help install demo test test-fast lint lock benchmark docs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# uv installs the pinned lock in seconds (pip takes minutes). It comes from PATH (or UV=...), else
# from `pip install uv` into the new venv; where neither works, pip installs the same lock. uv tries
# its cache alone first (the lock pins exact versions), then the package index. docs/decisions/0016.
UV ?= $(shell command -v uv 2>/dev/null)

$(VENV)/.installed: requirements-test.txt locks/requirements-dev-py$(PYVER).txt
	@set -e; uv="$(UV)"; \
	if [ -n "$$uv" ] && ! command -v "$$uv" >/dev/null; then uv=; fi; \
	if [ -n "$$uv" ]; then "$$uv" venv --quiet --allow-existing --python "$(PYTHON)" $(VENV); \
	else $(PYTHON) -m venv $(VENV); \
	  if $(BIN)/pip install --quiet --disable-pip-version-check uv; then uv=$(BIN)/uv; \
	  else echo "uv could not be installed: installing the lock with pip (minutes, not seconds)"; fi; \
	fi; \
	set -- -r locks/requirements-dev-py$(PYVER).txt -r requirements-test.txt; \
	if [ -z "$$uv" ]; then $(BIN)/pip install --quiet "$$@"; \
	elif ! "$$uv" pip install --quiet --offline --python $(BIN)/python "$$@" 2>/dev/null; then \
	  "$$uv" pip install --quiet --python $(BIN)/python "$$@"; fi
	@touch $@

install: $(VENV)/.installed  ## tooling venv: copier, test tools and the rendered projects' dev lock

# The demo project's own venv: VENV/BIN given to this make on the command line would otherwise
# pass down to the demo's make and install the demo into the tooling venv.
DEMO_MAKE = $(MAKE) --no-print-directory -C $(DEMO_DIR) VENV=.venv BIN=.venv/bin
DEMO_PHASES = demo-render demo-install demo-run demo-monitor demo-loop

demo: install  ## render with defaults into build/demo, install it in a fresh venv, run the pipeline offline
	@for phase in $(DEMO_PHASES); do $(MAKE) --no-print-directory $$phase || exit 1; done

# The phases of `make demo`, one target each so that benchmarks/bench_demo.py can time them.
.PHONY: $(DEMO_PHASES)
# The demo's bytecode lives outside the demo folder, which every demo deletes: uv hard-links the
# same files (same mtime) into the new venv, so the next demo's first `kedro run` finds their .pyc
# instead of compiling ~4,700 modules again (~14 s CPU across run and monitor). Stale entries are
# recompiled as usual; `make clean` removes them. The venv's and the interpreter's share of it is
# a link into a cache that other clones share (demo-install, decision 0037).
DEMO_PYCACHE ?= build/demo-pycache
demo $(DEMO_PHASES): export PYTHONPYCACHEPREFIX = $(abspath $(DEMO_PYCACHE))
# tests/test.env's PYTHONDONTWRITEBYTECODE (exported above) is for the tests: with it, each of the
# demo's Python processes (run, monitor, retrain, score, models) compiled every module it imported
# again, up to ~15 s CPU each. A user's own setting (from the environment) is left alone; Python
# ignores the variable when it is empty. `demo` too: its phases run in sub-makes, which would
# otherwise see the value in their environment, as if a user had set it.
ifeq ($(origin PYTHONDONTWRITEBYTECODE),file)
demo $(DEMO_PHASES): export PYTHONDONTWRITEBYTECODE =
endif
# 5,000 rows: OpenMP threads in HistGradientBoosting cost more than they save at this size, and
# with the MLflow writer thread beside them they busy-wait on 2 cores (a warm `make run` took
# 92 s wall / 44 s CPU with 2 threads against 15 s / 15 s with one, at load 3-6).
demo $(DEMO_PHASES): export OMP_NUM_THREADS ?= 1

demo-render:
	rm -rf $(DEMO_DIR)
	@# Copier's own bytecode (the tooling venv) is shared between clones as the demo venv's is.
	$(BIN)/python -I -B scripts/demo_bytecode.py $(abspath $(DEMO_PYCACHE))
	$(BIN)/copier copy --trust --defaults --vcs-ref HEAD -d python_version=$(DEMO_PYTHON_VERSION) . $(DEMO_DIR)

demo-install:
	$(DEMO_MAKE) install PYTHON="$$(scripts/find_python.sh $(DEMO_PYTHON_VERSION))" \
	    UV="$(or $(UV),$(abspath $(BIN))/uv)"
	@# A fresh clone's venv has a new path, but the same installed files: its bytecode is shared
	@# with earlier clones' demos through a cache keyed by what is installed (decision 0037).
	$(DEMO_DIR)/.venv/bin/python -I -B scripts/demo_bytecode.py $(abspath $(DEMO_PYCACHE))

demo-run:
	$(DEMO_MAKE) run

demo-monitor:
	@# The sample's current batch drifts on purpose, so the monitoring job ends with its alert
	@# (exit 1); demo_summary.py then checks that the monitoring report was written.
	-$(DEMO_MAKE) monitor

demo-loop:
	@# The closed loop: monitor the newest labelled batch, retrain, and let the promotion gate
	@# decide; `score` then uses the champion it left (demo_summary.py prints the decision).
	$(DEMO_MAKE) retrain RETRAIN_ARGS="--output retrain-outcome.json"
	$(DEMO_MAKE) score
	$(DEMO_MAKE) models
	$(BIN)/python scripts/demo_summary.py $(DEMO_DIR)

# pytest-xdist workers: one per core. `--dist loadscope` keeps each module on one worker, so a
# module's fixtures (a tracked run, an MLflow server, the Docker image) are built once; the
# modules in tests/conftest.py's SPREAD_MODULES share none, and their tests go one by one.
WORKERS ?= auto
XDIST := $(if $(filter 0 1,$(WORKERS)),,-n $(WORKERS) --dist loadscope)

test: install  ## the whole suite (CI runs this); WORKERS=1 runs it in one process
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

# The everyday loop: tests marked `fast` (renders and their validation, the validators, the docs,
# the rendered project's own tests and lint). docs/testing.md lists the tiers and their timings.
test-fast: install  ## quick local loop (tests marked fast, ~3 min on 2 idle cores); `make test` runs all
	$(BIN)/pytest $(XDIST) -m fast $(PYTEST_ARGS)

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
