"""Links for an analyst to review: weakest first, both records' fields side by side."""

from __future__ import annotations

from typing import Any

import duckdb

# The fields an analyst needs to judge whether two records are one event.
FIELDS = ("source", "event_date", "date_end", "admin1", "admin2", "location", "latitude", "longitude",
          "event_type", "sub_event_type", "actor1", "actor2", "fatalities", "notes")


def links_to_review(con: duckdb.DuckDBPyConnection, *, limit: int = 20, source: str | None = None,
                    max_score: float | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """One row per link, lowest score first: score, reasons, then each field of the record (a_) and of
    the record it was matched with (b_). `source` keeps links with a record of that source on either side."""
    cols = ", ".join(f"a.{f} AS a_{f}, b.{f} AS b_{f}" for f in FIELDS)
    cur = con.execute(
        f"SELECT l.incident_id, l.matched_with, l.duplicate_of, l.score, l.reasons, l.rule, l.kind, {cols} "
        f"FROM incident_links l JOIN incidents a ON a.incident_id = l.incident_id "
        f"JOIN incidents b ON b.incident_id = l.matched_with "
        f"WHERE ($source IS NULL OR $source IN (a.source, b.source)) AND ($max IS NULL OR l.score <= $max) "
        f"ORDER BY l.score, l.incident_id LIMIT $limit",
        {"source": source, "max": max_score, "limit": limit},
    )
    return [d[0] for d in cur.description], cur.fetchall()


def side_by_side(columns: list[str], row: tuple) -> tuple[list[str], list[tuple]]:
    """One link as a small table: field | the record | the record it was matched with."""
    r = dict(zip(columns, row, strict=True))
    return (["field", r["incident_id"], r["matched_with"]],
            [(f, r[f"a_{f}"], r[f"b_{f}"]) for f in FIELDS])
