# The two commands a newcomer needs: `make run` and `make test`. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.13 2>/dev/null || echo python3)
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL := $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/lawvriksh)
# A Redis database the tests may empty at will (the API suite's second pass, test_redis_cache).
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: help install install-runtime run migrate demo lint security format test check-postgres check-deploy bench clean containers image

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# `make run` needs the runtime packages only; `make test` adds the dev tools on top.
$(RUNTIME_STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 13))' || \
		{ echo "Python 3.13 is needed (found $$($(PYTHON) --version 2>&1)); set PYTHON=/path/to/python3.13"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the runtime packages (requirements.txt) into $(VENV)..."
	$(BIN)/python -m pip install --progress-bar on --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -r requirements.txt
	@touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	@echo "Installing the development and test tools (requirements-dev.txt)..."
	$(BIN)/python -m pip install --progress-bar on -r requirements-dev.txt
	@touch $(STAMP)

install-runtime: $(RUNTIME_STAMP) ## Create .venv (Python 3.13) with the runtime requirements

install: $(STAMP) ## Create .venv (Python 3.13) with the runtime and dev requirements

migrate: install-runtime ## Apply migrations to the local database (SQLite by default)
	$(BIN)/python manage.py migrate --noinput

demo: migrate ## Load the demo content and the demo admin (local mode only; idempotent)
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_release_demo
	$(BIN)/python manage.py ensure_demo_superuser

run: demo ## Set up everything and serve the app on http://127.0.0.1:8000
	@echo ""
	@echo "  Site:      http://$(HOST):$(PORT)/"
	@echo "  Admin:     http://$(HOST):$(PORT)/admin/"
	@echo "  API docs:  http://$(HOST):$(PORT)/api/v1/docs/"
	@echo "  API root:  http://$(HOST):$(PORT)/api/v1/"
	@echo "  Releases:  http://$(HOST):$(PORT)/admin/releases/environment/dashboard/"
	@echo "  Metrics:   http://$(HOST):$(PORT)/metrics   (Prometheus text; open to 127.0.0.1 here)"
	@echo ""
	@echo "  Two-person release walk-through (four eyes):"
	@echo "    1. Log in as admin/admin, open Releases, Deploy a build to Staging (give a reason)."
	@echo "    2. Promote it to Production: the request waits for a second person."
	@echo "    3. Log in as approver/approver (another browser), Approve: the worker deploys it."
	@echo "    4. Roll back from the Production card when you like; the log shows every step."
	@echo ""
	@echo "  (the deployment worker, manage.py db_worker, runs beside the server)"
	@trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		$(BIN)/python manage.py db_worker --no-startup-delay & worker=$$!; \
		$(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: install ## black --check, flake8, hadolint (Dockerfile)
	$(BIN)/black --check .
	$(BIN)/flake8 .
	$(BIN)/hadolint --no-color -t warning Dockerfile

security: install ## bandit, and pip-audit where PyPI's vulnerability service answers
	BIN=$(BIN) scripts/security_check.sh

containers: ## Start the Docker Engine, base image, registry and swarm the container tests use
	scripts/container_env.sh start

image: ## Build the image locally (wheels from the host; BASE_IMAGE=... to override)
	scripts/build_image.sh

format: install ## Reformat the code with black
	$(BIN)/black .

check-postgres: install
	@DATABASE_URL="$(TEST_DATABASE_URL)" $(BIN)/python scripts/check_postgres.py

test: install check-postgres lint security ## Lint, then the whole test suite on PostgreSQL (+ the API on Redis)
	DATABASE_URL="$(TEST_DATABASE_URL)" TEST_REDIS_URL="$(TEST_REDIS_URL)" $(BIN)/pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-redis

test-redis: install ## The API suite again on Redis, content version from memory (CI always; here if Redis answers)
	@if [ -n "$${CI:-}" ] || $(BIN)/python -c "import redis,sys; redis.Redis.from_url('$(TEST_REDIS_URL)').ping()" 2>/dev/null; then \
	  echo "== The API suite on Redis as the shared cache ($(TEST_REDIS_URL))"; \
	  DATABASE_URL="$(TEST_DATABASE_URL)" TEST_REDIS_URL="$(TEST_REDIS_URL)" TEST_CACHE_URL="$(TEST_REDIS_URL)" TEST_CONTENT_LISTEN=1 \
	    $(BIN)/pytest $(PYTEST_ARGS) tests/blog/api tests/blog/test_content_state.py tests/core/test_redis_cache.py \
	      tests/releases/test_ci_throttle.py; \
	else \
	  echo "(no Redis at $(TEST_REDIS_URL): the Redis pass is skipped here; CI runs it)"; \
	fi

check-deploy: install ## Run Django's deployment checklist against production settings
	DJANGO_SETTINGS_MODULE=config.settings.production $(BIN)/python manage.py check --deploy --fail-level WARNING

clean: ## Remove the virtualenv, the SQLite database and caches
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
