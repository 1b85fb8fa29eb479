# The two commands of the README: `make demo` and `make test`. Both install into .venv first.
# `make test` runs the suite on both warehouse backends at once (tools/test_both_backends.py): embedded DuckDB, and
# DuckLake with its catalog in PostgreSQL on 127.0.0.1:5432. `make test-embedded` / `make test-lake`: one of them.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-embedded test-lake lint bench

$(BIN)/riskwatch: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(BIN)/riskwatch

install: $(BIN)/riskwatch

demo: install
	$(BIN)/riskwatch demo

sql: install
	$(BIN)/riskwatch sql

test: install
	$(BIN)/ruff check .
	$(BIN)/python tools/test_both_backends.py

test-embedded: install
	$(BIN)/python -m pytest -q

test-lake: install
	RISKWATCH_TEST_BACKEND=ducklake $(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/bench_ingest.py
