# Imperium — the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

## run: create the virtualenv if needed, then start Imperium (SQLite ./imperium.db)
run: $(STAMP)
	$(BIN)/imperium serve

## test: the whole suite on every core (PostgreSQL tests fail instead of skipping when CI is set)
test: $(STAMP)
	$(BIN)/pytest -n auto

## lint: ruff, formatting and mypy (strict on domain/ and services/)
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

## bench: the throughput benchmark on SQLite, as JSON
bench: $(STAMP)
	$(BIN)/imperium bench throughput --tasks 20000 --json

clean:
	rm -rf $(VENV) build dist *.egg-info
