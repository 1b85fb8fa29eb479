# The two commands of the README: `make demo` and `make test`. Both install into .venv first.
# `make test` runs the suite on both warehouse backends (embedded DuckDB and DuckLake on PostgreSQL 127.0.0.1:5432).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint bench

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

bench: install
	$(BIN)/python bench/bench_ingest.py
