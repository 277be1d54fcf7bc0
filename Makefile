# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install lock debian-tools frontend run test lint unit clean bench chaos demo screenshot compose-test

## The virtualenv holds exactly the versions requirements.lock names, each checked against
## its hashes, then Ladder itself (editable, no dependencies of its own to resolve).
## Runs again when the lock or pyproject.toml changes.
$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

## Resolve pyproject.toml's ranges afresh (newest releases within them) into
## requirements.lock, for every platform, with hashes; then `make install`. The image
## installs requirements-runtime.lock: the same versions, without the dev extra.
lock: $(BIN)/.installed
	$(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	  --extra dev --upgrade --output-file requirements.lock pyproject.toml
	$(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	  --constraint requirements.lock --output-file requirements-runtime.lock pyproject.toml

## Debian's packages the tests drive: chromium (the dashboard's browser tests) and
## docker-compose (which checks and resolves docker-compose.yml; no Docker engine needed);
## and Pango, which the dashboard's PDF report is laid out with (WeasyPrint).
## Installed when missing, if we are root and apt-get is there; otherwise say what to install.
DEBIAN_TOOLS := chromium docker-compose
DEBIAN_LIBRARIES := libpango-1.0-0 libpangoft2-1.0-0
debian-tools:
	@missing=""; for tool in $(DEBIAN_TOOLS); do \
	  command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	for library in $(DEBIAN_LIBRARIES); do \
	  ldconfig -p 2>/dev/null | grep -q "$$(echo $$library | sed 's/-[0-9]*$$//').so" \
	    || missing="$$missing $$library"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's$$missing for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "The tests need$$missing: run 'apt-get install -y$$missing' as root."; \
	  fi; fi

install: $(BIN)/.installed debian-tools

## Build shared/assets/nhsuk-frontend.min.css again, from NHS.UK frontend's Sass with
## shared/assets/nhsuk-frontend.scss (needs npm). The built file is committed: nothing
## else needs npm.
NHSUK_FRONTEND ?= 10.6.1
SASS ?= 1.108.2
frontend:
	d=$$(mktemp -d) && cp shared/assets/nhsuk-frontend.scss "$$d/" && cd "$$d" \
	  && npm install --silent --no-audit --no-fund sass@$(SASS) nhsuk-frontend@$(NHSUK_FRONTEND) \
	  && node_modules/.bin/sass --pkg-importer=node --style=compressed --no-source-map \
	       --quiet-deps nhsuk-frontend.scss built.css \
	  && { printf '/*! NHS.UK frontend %s (https://github.com/nhsuk/nhsuk-frontend), MIT licence, as\n    its package.json says. Built from shared/assets/nhsuk-frontend.scss by make frontend. */\n' $(NHSUK_FRONTEND); \
	       sed '1s/^\xEF\xBB\xBF//' built.css; } > $(CURDIR)/shared/assets/nhsuk-frontend.min.css \
	  && for icon in arrow-down arrow-up-down arrow-up cross; do \
	       cp node_modules/nhsuk-frontend/dist/nhsuk/assets/images/nhsuk-icon-$$icon.svg $(CURDIR)/shared/assets/; done

## Start Redis (if REDIS_URL is unset), every service, the worker and the relay.
run: install
	$(BIN)/ladder run

## Lint, type-check and run the whole suite (unit, integration, e2e), in PYTEST_WORKERS
## processes side by side (pytest-xdist): most e2e time is waiting on the real processes.
## Each module's tests run in one process (loadfile), so a module's shared stack is started
## once; modules are handed out in tests/conftest.py's order, the longest layers first. (xdist_group marks are not honoured by pytest-xdist 3.8 under pytest 9: its
## loadgroup left them spread over the processes.) The project's bytecode is compiled
## first, only what changed: where PYTHONDONTWRITEBYTECODE is set, each of the hundreds of
## processes the suite starts would compile every module again. pytest is run without it,
## so that it keeps what its assertion rewriting makes (of the tests, and of every module
## of its plugins' packages: schemathesis, hypothesis, anyio): from the second run on, each
## of its processes then collects the suite in about 5 CPU-s instead of 8 (463 modules).
PYTEST_WORKERS ?= 3
test: install lint
	$(BIN)/python -m compileall -q shared services bench >/dev/null
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile \
	  --no-loadscope-reorder

lint: install
	$(BIN)/ruff check shared services tests bench
	$(BIN)/mypy

## docker-compose.yml in real containers, on a Docker engine of its own that it starts and
## removes (as root; installs Debian's docker.io and debootstrap when missing):
## tests/compose/run, and docs/operations.md for what it proves.
compose-test: install
	VENV=$(VENV) tests/compose/run

unit: install
	$(BIN)/pytest tests/unit

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

## Fill a running instance (make run) with a year of involvement, through the webhooks.
demo: install
	$(BIN)/ladder demo

## Start everything in a temporary directory, run the demo into it, and photograph the
## dashboard as docs/dashboard.png.
screenshot: install
	PYTHONPATH=. $(BIN)/python -m tests.support.screenshot docs/dashboard.png

## Measure every figure beside its baseline (BENCH_SMOKE=1 for a quick run that only checks it works).
bench: install
	PYTHONPATH=. $(BIN)/python bench/run.py

## Inject seven faults into the real processes under load; 0 lost, 0 duplicated, verify passing
## (CHAOS_SMOKE=1 for a quick run that only checks it works; sizes in bench/chaos.py).
chaos: install
	PYTHONPATH=. $(BIN)/python bench/chaos.py
