# `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/scheduler
# Deno comes from PyPI's `deno` package (requirements-dev.txt); its npm cache lives in the
# repository (ignored), so a fresh clone needs no other download step.
DENO := $(abspath $(VENV))/bin/deno
EDGE_FUNCTION := supabase/functions/dispatch-scenario-prompt
export DENO_DIR := $(CURDIR)/.deno
export DENO_NO_UPDATE_CHECK := 1

.PHONY: run test test-edge test-sqlite test-postgres lint venv bench

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

run: venv
	$(PY) scripts/dev_env.py .env
	DEBUG=true $(PY) manage.py migrate --noinput
	DEBUG=true $(PY) manage.py load_demo
	DEBUG=true exec bash scripts/run_dev.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(VENV)/bin/mypy

test: lint test-edge test-sqlite test-postgres

# The Edge Function: type check, lint, format, and its tests against loopback FCM and OAuth
# servers and a database of their own on the PostgreSQL server of PG_TEST_URL.
test-edge: venv
	cd $(EDGE_FUNCTION) && $(DENO) check --frozen index.ts tests/
	cd $(EDGE_FUNCTION) && $(DENO) lint && $(DENO) fmt --check
	@if $(PY) scripts/pg_ready.py "$(PG_TEST_URL)"; then \
		cd $(EDGE_FUNCTION) && EDGE_TEST_DATABASE_URL="$(PG_TEST_URL)" \
			$(DENO) test --frozen --allow-net --allow-env --allow-read tests/; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL is not reachable at $(PG_TEST_URL); CI needs it." >&2; exit 1; \
	else \
		echo "Skipping the Edge Function's tests: no server at $(PG_TEST_URL) (set PG_TEST_URL)." >&2; \
	fi

test-sqlite: venv
	$(PY) -m pytest -m "not postgres"

# The PostgreSQL pass runs every test but the browser ones on PostgreSQL.
# Without a server it is skipped on a laptop and fails under CI.
test-postgres: venv
	@if $(PY) scripts/pg_ready.py "$(PG_TEST_URL)"; then \
		DATABASE_URL="$(PG_TEST_URL)" $(PY) -m pytest -m "not browser"; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL is not reachable at $(PG_TEST_URL); CI needs it." >&2; exit 1; \
	else \
		echo "Skipping the PostgreSQL pass: no server at $(PG_TEST_URL) (set PG_TEST_URL)." >&2; \
	fi

# Full-size benchmark on the database of DATABASE_URL (see docs/performance.md). It
# creates that database when it does not exist yet (BENCH_ARGS adds more flags).
bench: venv
	DEBUG=true BENCH=true $(PY) manage.py bench_dispatch --create-database --json bench-results/latest.json $(BENCH_ARGS)
