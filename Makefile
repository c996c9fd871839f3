# Sinergi — two commands on a fresh clone:  `make run`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MONTH ?= 2025-07
EXPORTS_DIR ?=
S3_PORT ?=
PYTEST_ARGS ?=
MONTHS ?= 3
AIRFLOW_PORT ?=
CHROMIUM := /usr/bin/chromium

export PIP_DISABLE_PIP_VERSION_CHECK := 1

LOCK_TOOLS := .venv-lock-tools
UV_VERSION := 0.13.8

.PHONY: help venv lock run up down test test-ui chromium test-fast lint bench clean

help:
	@echo "make run [MONTH=YYYY-MM] [EXPORTS_DIR=dir]  run the monthly job on the embedded defaults"
	@echo "make test                                   the whole test suite (real servers)"
	@echo "make up [MONTHS=3] [AIRFLOW_PORT=8080]       Airflow UI on 127.0.0.1:8080 + store + simulated sources"
	@echo "make down                                   stop what make run / make up started"
	@echo "make test-ui                                the real-browser (headless Chromium) UI test"
	@echo "make bench                                  benchmarks (figures for the README)"
	@echo "make lint                                   ruff"
	@echo "make lock                                   regenerate requirements.lock (hashes) after editing requirements*.txt"

# Every dependency comes from requirements.lock, each file checked against its sha256 (pip refuses
# anything unpinned or with another hash); the project itself is built offline with the setuptools
# the lock just installed. requirements*.txt stay the human-readable lists: `make lock` after editing.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation --no-index -e .
	@touch $(STAMP)

venv: $(STAMP)

# uv resolves like pip-compile, ~90x faster; pinned, in its own venv, against PyPI only
lock:
	@test -x $(LOCK_TOOLS)/bin/uv || { $(PYTHON) -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/pip install -q uv==$(UV_VERSION); }
	$(LOCK_TOOLS)/bin/uv pip compile requirements-dev.txt --generate-hashes --python-version 3.11.7 \
	  --python-platform x86_64-unknown-linux-gnu --index-url https://pypi.org/simple \
	  --custom-compile-command "make lock" -o requirements.lock

run: $(STAMP)
	$(BIN)/sinergi run --month $(MONTH) $(if $(EXPORTS_DIR),--exports-dir $(EXPORTS_DIR)) $(if $(S3_PORT),--port $(S3_PORT))

up: $(STAMP)
	$(BIN)/sinergi up --month $(MONTH) --months $(MONTHS) $(if $(EXPORTS_DIR),--exports-dir $(EXPORTS_DIR)) $(if $(S3_PORT),--port $(S3_PORT)) $(if $(AIRFLOW_PORT),--airflow-port $(AIRFLOW_PORT))

down: $(STAMP)
	$(BIN)/sinergi down

# Chromium for the browser test comes from Debian (Playwright's own download does not work here).
chromium:
	@test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

test-ui: $(STAMP) chromium
	$(BIN)/python -m pytest -m browser tests/ui $(PYTEST_ARGS)

test: $(STAMP) chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check include dags plugins tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean: down
	rm -rf .local
