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

.PHONY: help venv run up down test test-ui chromium test-fast lint bench clean

help:
	@echo "make run [MONTH=YYYY-MM] [EXPORTS_DIR=dir]  run the monthly job on the embedded defaults"
	@echo "make test                                   the whole test suite (real servers)"
	@echo "make up [MONTHS=3] [AIRFLOW_PORT=8080]       Airflow UI on 127.0.0.1:8080 + store + simulated sources"
	@echo "make down                                   stop what make run / make up started"
	@echo "make test-ui                                the real-browser (headless Chromium) UI test"
	@echo "make bench                                  benchmarks (figures for the README)"
	@echo "make lint                                   ruff"

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

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
