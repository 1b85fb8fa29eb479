"""Ad hoc read-only SQL over the warehouse, formatted as a table, CSV or JSON.

Read-only is enforced twice, so that neither alone has to be perfect:
- read_statements: DuckDB's own parser classifies every statement of the text; only reads run (SELECT and
  what DuckDB rewrites to a SELECT: WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, table-listing PRAGMAs;
  EXPLAIN of such a statement). One refused statement refuses the whole text: nothing of it runs.
- lock_down: the session cannot touch files or the network (enable_external_access = false: no COPY TO,
  EXPORT DATABASE, ATTACH, INSTALL, read_csv/read_text/glob of local files) and cannot undo that
  (lock_configuration = true). The warehouse itself stays readable: it was opened before.
Every front-end (the `riskwatch sql` command and prompt) runs SQL through run_query, which does both.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import re
from typing import Any

import duckdb

FORMATS = ("table", "csv", "json", "markdown")
MIN_CELL = 6                  # a column squeezed to fit the terminal keeps at least this many characters
READS = "SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN"
# EXPLAIN [ANALYZE] [(options)] in front of a statement, after any leading comments.
_EXPLAIN = re.compile(r"^(?:\s+|--[^\n]*\n?|/\*.*?\*/)*EXPLAIN\s+(?:ANALY[SZ]E\s+)?(?:\([^)]*\)\s*)?",
                      re.IGNORECASE | re.DOTALL)


class NotReadOnly(ValueError):
    """SQL that is not a read statement; nothing of the text was run."""


def read_statements(sql: str) -> list[duckdb.Statement]:
    """The statements of `sql`, parsed by DuckDB; NotReadOnly unless every one is a read.

    Raises duckdb.ParserException for text DuckDB cannot parse.
    """
    statements = duckdb.extract_statements(sql)
    if not statements:
        raise NotReadOnly("no SQL statement given")
    for number, statement in enumerate(statements, 1):
        kind = _kind(statement)
        if kind is not None:
            where = f"statement {number} of {len(statements)}" if len(statements) > 1 else "the statement"
            raise NotReadOnly(f"riskwatch sql is read-only: {where} is {kind} (allowed: {READS}); "
                              f"nothing was run")
    return statements


def _kind(statement: duckdb.Statement) -> str | None:
    """None for a read, else what the statement is (for the error message)."""
    if statement.type == duckdb.StatementType.SELECT:
        return None
    if statement.type == duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE executes its statement: it is a read only when the explained statement is.
        match = _EXPLAIN.match(statement.query)
        try:
            inner = duckdb.extract_statements(statement.query[match.end():]) if match else []
        except duckdb.Error:
            inner = []
        if len(inner) == 1 and inner[0].type == duckdb.StatementType.SELECT:
            return None
        return "EXPLAIN of a statement that is not a read"
    name = statement.type.name.replace("_", " ")
    return {"VARIABLE SET": "SET VARIABLE", "LOAD": "INSTALL or LOAD", "CREATE FUNC": "CREATE FUNCTION"}.get(
        name, name)


def lock_down(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No file or network access for the rest of this session, and no setting can change that back.

    Call it after the warehouse (or its snapshot) is opened or attached; idempotent.
    """
    if not con.execute("SELECT current_setting('lock_configuration')").fetchone()[0]:
        lakes = con.execute("SELECT database_name FROM duckdb_databases() WHERE type = 'ducklake'").fetchall()
        if lakes:   # a lake's own Parquet files stay readable (through its tables); nothing else does
            paths = [con.execute(f"SELECT value FROM ducklake_options('{name}') WHERE option_name = 'data_path'"
                                 ).fetchone()[0] for (name,) in lakes]
            con.execute("SET allowed_directories = ?", [paths])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


def run_query(con: duckdb.DuckDBPyConnection, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns and rows of the last statement of `query`, which must hold only reads (read_statements);
    the session is locked down first (lock_down)."""
    statements = read_statements(query)
    lock_down(con)
    cur = None
    for statement in statements:
        cur = con.execute(statement)
    if cur is None or cur.description is None:
        return [], []
    return [d[0] for d in cur.description], cur.fetchall()


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def render(columns: list[str], rows: list[tuple], fmt: str = "table", max_width: int = 40,
           width: int | None = None) -> str:
    """Rows as a table (fitted to `width` characters when given: the widest columns are cut with '…'),
    markdown, CSV or JSON. Whole-number floats show without '.0' in table and markdown (sum() of counts)."""
    if fmt == "json":
        return json.dumps([{c: _plain(v) for c, v in zip(columns, r, strict=True)} for r in rows],
                          ensure_ascii=False, indent=1, default=str)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[("" if v is None else _plain(v)) for v in r] for r in rows])
        return out.getvalue().rstrip("\n")
    if fmt == "markdown":
        esc = lambda t: t.replace("|", "\\|")  # noqa: E731
        lines = ["| " + " | ".join(esc(c) for c in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(esc(_text(v)) for v in r) + " |" for r in rows]
        return "\n".join(lines)
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return _table(columns, rows, max_width, width)


def _text(v: Any) -> str:
    if v is None:
        return "NULL"
    v = _plain(v)
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v).replace("\n", " ")


def fit_widths(widths: list[int], width: int) -> list[int]:
    """Column widths whose table ('| a | b |', 3 characters per column + 1) fits `width`: the widest
    columns give up characters first, none below MIN_CELL (a table still too wide then stays so)."""
    widths = list(widths)
    while sum(widths) + 3 * len(widths) + 1 > width:
        i = max(range(len(widths)), key=lambda k: widths[k])
        if widths[i] <= MIN_CELL:
            break
        widths[i] -= 1
    return widths


def _table(columns: list[str], rows: list[tuple], max_width: int, width: int | None = None) -> str:
    def cut(text: str, w: int) -> str:
        return text if len(text) <= w else text[: w - 1] + "…"

    cells = [[cut(_text(v), max_width) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    if width:
        widths = fit_widths(widths, width)
        cells = [[cut(v, w) for v, w in zip(r, widths, strict=True)] for r in cells]
        columns = [cut(c, w) for c, w in zip(columns, widths, strict=True)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    fmt_row = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"  # noqa: E731
    body = [line, fmt_row(columns), line, *(fmt_row(r) for r in cells), line]
    body.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(body)
