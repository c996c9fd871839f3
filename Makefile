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

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv run down test test-fast lint bench clean

help:
	@echo "make run [MONTH=YYYY-MM] [EXPORTS_DIR=dir]  run the monthly job on the embedded defaults"
	@echo "make test                                   the whole test suite (real servers)"
	@echo "make down                                   stop what make run / make up started"
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

down: $(STAMP)
	$(BIN)/sinergi store down

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check include dags plugins tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean: down
	rm -rf .local
