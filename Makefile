# gridcase: `make run` (embedded app with demo data), `make stack` (every process, stack mode) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run stack test setup lint typecheck static-checks pytest migrate demo bench clean translations compile-translations

setup: $(VENV)/.installed node_modules/.installed bundles compile-translations

# ES-module-only libraries bundled with the pinned esbuild from entry files of ours (served: app/web/vendor.py).
BUNDLE_DIR := build/bundles
PANEL_SOURCES := $(wildcard app/web/designer/panel/*)
.PHONY: bundles
bundles: $(BUNDLE_DIR)/properties-panel.js

$(BUNDLE_DIR)/properties-panel.js: node_modules/.installed $(PANEL_SOURCES)
	node_modules/.bin/esbuild app/web/designer/panel/entry.js --bundle --minify --format=iife \
	  --target=es2019 --jsx=automatic --jsx-import-source=@bpmn-io/properties-panel/preact \
	  --log-level=warning --outfile=$@

# The web blueprints' gettext catalogues (.po in git, .mo compiled here, never committed).
CATALOGUES := app/web/translations \
              app/web/supervisor/translations \
              app/web/designer/translations \
              app/web/operations/translations \
              app/web/workbench/translations \
              app/web/inspections/translations \
              app/web/sensors/translations \
              app/web/admin/translations \
              app/web/mediation/translations \
              app/web/command/translations \
              app/web/admin_data/translations

compile-translations: $(VENV)/.installed
	@for d in $(CATALOGUES); do \
	  if ls $$d/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then $(BIN)/pybabel -q compile -d $$d || exit 1; fi; \
	done

# Re-extract the foundation's msgids and merge them into its catalogue (then translate the new entries).
translations: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg --ignore-dirs='supervisor designer operations workbench inspections sensors command mediation admin admin_data' -k _l -k lazy_pgettext:1c,2 -o app/web/translations/messages.pot app/web
	$(BIN)/pybabel -q update -N -d app/web/translations -i app/web/translations/messages.pot

# uv installs the locked dependencies: 5 s from a cold cache here, where pip took 74 s (60 s of CPU) for
# the same packages, the longest step of CI on a fresh clone. It reads PyPI unless UV_DEFAULT_INDEX names a
# mirror (it does not read pip.conf). Bytecode is compiled at first import, for the modules in use.
UV_VERSION := 0.13.9
$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "gridcase needs Python 3.11"'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c requirements.lock -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	SCARF_ANALYTICS=false npm ci --no-audit --no-fund --loglevel=error
	touch $@

instance:
	mkdir -p instance

migrate: setup instance
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) deploy
	$(FLASK) categories import
	$(FLASK) emergency plans import
	$(FLASK) seed-demo

# waitress: a production WSGI server in one process, so embedded mode's runner thread (timers, jobs) runs
# once, beside the requests it shares the SQLite file with.
RUN_THREADS ?= 8
run: demo
	@echo "gridcase (embedded mode: SQLite, in-process jobs and timers) on http://$(HOST):$(PORT)"
	HOLIDAY_SCHEDULE_FILE=$${HOLIDAY_SCHEDULE_FILE:-instance/holidays.json} \
	  $(BIN)/waitress-serve --host $(HOST) --port $(PORT) --threads $(RUN_THREADS) wsgi:app

# The whole stack on this machine (deploy/Procfile through honcho): gunicorn, RQ workers, the scheduler,
# the MQTT listener and a Mosquitto, on PostgreSQL and Redis as .ci/services starts them. See README.
stack: setup
	$(BIN)/python deploy/stack.py

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

# The suite in parallel (pytest-xdist), each worker on its own databases and Redis db (tests/conftest.py);
# PYTEST_WORKERS=0 runs it in one process. 3 on 2 CPUs, one more than the CPUs, so a worker waiting on
# PostgreSQL, Chromium or its broker leaves both CPUs busy; 318 tests (cases, mediation, worker pages, MQTT)
# at load 1-5 took 180 s in one process, 139 s on 2, 136 s on 3, 139 s on 4 workers.
# PYTHONDONTWRITEBYTECODE emptied for the run: where it is set (as on the shared machine), every worker
# compiled the app and re-did pytest's assertion rewriting of the ~220 test modules at each run (a collection
# took 23 s of CPU instead of 10 s per worker once the bytecode is cached; __pycache__ is ignored by git).
PYTEST_WORKERS ?= 3
pytest: setup
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -p no:cacheprovider -n $(PYTEST_WORKERS)

# Lint and types beside the suite, so mypy's ~20 s on one CPU of a fresh clone no longer wait in front of
# it; their output is kept in test-output/static-checks.log and printed after the suite's. A failure of
# either fails the target.
test: setup
	@$(MAKE) --no-print-directory -j2 static-checks pytest; status=$$?; \
	  cat test-output/static-checks.log; exit $$status

static-checks: setup
	@mkdir -p test-output
	@$(MAKE) --no-print-directory lint typecheck > test-output/static-checks.log 2>&1

bench: setup
	$(BIN)/python -m bench.engine_throughput
	$(BIN)/python -m bench.locate

clean:
	rm -rf $(VENV) node_modules instance test-output $(BUNDLE_DIR)
