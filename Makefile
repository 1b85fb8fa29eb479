# The two commands of the README: `make demo` and `make test`. Both install into .venv first.
# `make test-lake`: the same suite with every warehouse a DuckLake (catalog in PostgreSQL on 127.0.0.1:5432).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-lake lint bench

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
	$(BIN)/python -m pytest -q

test-lake: install
	RISKWATCH_TEST_BACKEND=ducklake $(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/bench_ingest.py
