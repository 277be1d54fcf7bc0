# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint unit clean bench chaos

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## Start Redis (if REDIS_URL is unset), every service, the worker and the relay.
run: install
	$(BIN)/ladder run

## Lint, type-check and run the whole suite (unit, integration, e2e).
test: install lint
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check shared services tests bench
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

## Measure every figure beside its baseline (BENCH_SMOKE=1 for a quick run that only checks it works).
bench: install
	PYTHONPATH=. $(BIN)/python bench/run.py

## Inject six faults into the real processes under load; 0 lost, 0 duplicated, verify passing
## (CHAOS_SMOKE=1 for a quick run that only checks it works; sizes in bench/chaos.py).
chaos: install
	PYTHONPATH=. $(BIN)/python bench/chaos.py
