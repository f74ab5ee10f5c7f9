# gridcase: `make run` (embedded app with demo data) and `make test` (the whole suite, lint and types).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test setup lint typecheck pytest migrate demo bench clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "gridcase needs Python 3.11"'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
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
	$(FLASK) seed-demo

run: demo
	@echo "gridcase (embedded mode: SQLite, in-process jobs and timers) on http://$(HOST):$(PORT)"
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT) --no-reload

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/python -m pytest -p no:cacheprovider

test: lint typecheck pytest

bench: setup
	$(BIN)/python -m bench.engine_throughput
	$(BIN)/python -m bench.locate

clean:
	rm -rf $(VENV) node_modules instance test-output
