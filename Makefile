# Imperium — the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

## system-deps: bubblewrap, which the Sandbox agent isolates code with, chromium, which
## the dashboard's browser tests drive, and ffmpeg, which the media agents encode video
## with (apt, each when missing)
system-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  echo "installing bubblewrap (the Sandbox agent's isolation)"; \
	  { apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; } || \
	  echo "warning: could not install bubblewrap; the Sandbox agent will refuse to run code"; }
	@test -x /usr/bin/chromium || { \
	  echo "installing chromium (the dashboard's browser tests, tests/browser)"; \
	  { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
	  echo "warning: could not install chromium; the browser tests will be skipped (fail under CI)"; }
	@command -v ffmpeg >/dev/null 2>&1 || { \
	  echo "installing ffmpeg (video from generated frames, H.264)"; \
	  { apt-get update -qq && apt-get install -y -qq ffmpeg >/dev/null; } || \
	  echo "warning: could not install ffmpeg; video generation answers 503 (tests fail under CI)"; }

## run: create the virtualenv if needed, then start Imperium (SQLite ./imperium.db)
run: $(STAMP) system-deps
	$(BIN)/imperium serve

## test: the whole suite, two workers per core (at most 8: many tests wait on real
## processes), PostgreSQL tests failing instead of skipping when CI is set; tests marked
## xdist_group (the Ray tests, sharing one local Ray) each run on one worker (loadgroup)
TEST_WORKERS ?= $(shell n=$$(( 2 * $$(nproc) )); [ $$n -gt 8 ] && n=8; echo $$n)
test: $(STAMP) system-deps
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

## lint: ruff, formatting, mypy (strict on domain/ and services/) and the layering
## contracts (import-linter, [tool.importlinter] in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

## bench: the throughput benchmark on SQLite, as JSON
bench: $(STAMP)
	$(BIN)/imperium bench throughput --tasks 20000 --json

clean:
	rm -rf $(VENV) build dist *.egg-info
