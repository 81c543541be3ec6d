# The two commands of the README: `make run` and `make test`. CI runs `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint format bench system-deps migrate check

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py ensure_admin
	@echo "Console at http://127.0.0.1:8000 (Ctrl-C stops the web server and the worker)"
	VENV=$(VENV) scripts/run-embedded

# Debian packages the tests need: Chromium for the browser tests, and the servers of the
# production stack for the second run when none is already answering.
system-deps:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: $(VENV)/.installed
	$(PY) manage.py makemigrations --check --dry-run

test: $(VENV)/.installed system-deps lint check
	DATA_DIR=$$(mktemp -d) $(VENV)/bin/pytest

bench: $(VENV)/.installed
	$(PY) bench/run.py
