# The two commands of the quick start: `make demo` and `make test`. Both install what they need
# into .venv from the lock file first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: demo test lint bench lock clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/deconflict demo --data-dir demo-data --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/declare.py
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/events.py

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

# BlueSky (issue 5's comparison) lives in its own venv, pinned with hashes in bench/bluesky.lock.
bench-tracks: $(STAMP) bench/bluesky.lock
	$(PYTHON) -m venv .venv-bluesky
	.venv-bluesky/bin/pip install --quiet --require-hashes -r bench/bluesky.lock
	$(BIN)/python bench/tracks.py

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache
