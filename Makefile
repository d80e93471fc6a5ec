# qcbroker: the two commands a new user needs.
#   make demo   create .venv, install, run the H2 VQE on the embedded default (no server)
#   make test   install what the tests need (every optional quantum SDK), start what they
#               need (Redis and PostgreSQL with passwords: docker/services/start.sh; a real
#               single-host Slurm with slurmrestd and slurmdbd in each release of
#               SLURM_RELEASES: docker/slurm/start.sh; Chromium and axe-core for the
#               console's browser tests: docker/install-browser.sh), run ruff, mypy and pytest

# Debian's Python where there is one: tasks run as other accounts must be able to run the
# broker's Python, and one under /root (pyenv, say) is closed to them.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
# make demo uses qcb's default store, as qcb itself does (qcb --help names it); the tests
# keep theirs in the checkout.
test unit: export QCB_HOME ?= $(CURDIR)/.qcb
# The Slurm releases the tests run against: the host's natively, the others from Debian
# chroots (docker/slurm/README.md).
SLURM_RELEASES ?= 22.05 24.11 26.05
comma := ,
export QCB_SLURM_RELEASES := $(subst $() ,$(comma),$(strip $(SLURM_RELEASES)))

.PHONY: demo test lint typecheck unit bench clean python services slurm-stop

python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "qcbroker needs Python >= 3.11"' \
	  || { echo "Python >= 3.11 is needed (Debian: apt-get install python3)"; exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "installing python3-venv"; apt-get update -qq && apt-get install -y -qq python3-venv; }

$(BIN)/qcb: pyproject.toml | python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml $(BIN)/qcb
	$(BIN)/pip install -q -e '.[dev,all]'
	@touch $@

demo: $(BIN)/qcb
	$(BIN)/qcb run examples/vqe_h2.yaml

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

services:
	docker/services/start.sh
	docker/slurm/start.sh
	for release in $(SLURM_RELEASES); do docker/slurm/start.sh --release $$release || exit 1; done
	docker/install-compose.sh
	docker/install-browser.sh

slurm-stop:
	for release in $(SLURM_RELEASES); do docker/slurm/stop.sh --release $$release; done

# The unit tier on two processes; the OpenQASM corpus (integration, but it starts nothing
# and shares nothing) on two; then the tiers that start processes and share clusters, one
# test at a time (the slowest named, so a CI log says where the time goes).
test: lint typecheck services
	$(BIN)/pytest -q -n 2 --dist worksteal -m "not integration and not e2e"
	$(BIN)/pytest -q -n 2 tests/integration/circuits
	$(BIN)/pytest -q --durations=25 -m "integration or e2e" --ignore=tests/integration/circuits

# The tests that start no process of their own and need no Slurm, PostgreSQL or Redis (tier
# markers: not integration, not e2e); the store tests run again on PostgreSQL in
# tests/integration/store.
unit: $(VENV)/.dev-installed
	$(BIN)/pytest -q -n 2 --dist worksteal -m "not integration and not e2e"

bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/vqe_overhead.py
	$(BIN)/python benchmarks/slurm_latency.py --plot benchmarks/slurm_latency.png

clean:
	rm -rf $(VENV) .qcb .mypy_cache .ruff_cache .pytest_cache
