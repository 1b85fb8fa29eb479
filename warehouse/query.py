"""Ad hoc read-only SQL over the warehouse, formatted as a table, CSV or JSON."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
from typing import Any

import duckdb

FORMATS = ("table", "csv", "json")


def run_query(con: duckdb.DuckDBPyConnection, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    cur = con.execute(query)
    if cur.description is None:
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


def render(columns: list[str], rows: list[tuple], fmt: str = "table", max_width: int = 40) -> str:
    if fmt == "json":
        return json.dumps([{c: _plain(v) for c, v in zip(columns, r, strict=True)} for r in rows],
                          ensure_ascii=False, indent=1, default=str)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[("" if v is None else _plain(v)) for v in r] for r in rows])
        return out.getvalue().rstrip("\n")
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return _table(columns, rows, max_width)


def _table(columns: list[str], rows: list[tuple], max_width: int) -> str:
    def cell(v: Any) -> str:
        text = "NULL" if v is None else str(_plain(v)).replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[cell(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    fmt_row = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"  # noqa: E731
    body = [line, fmt_row(columns), line, *(fmt_row(r) for r in cells), line]
    body.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(body)
