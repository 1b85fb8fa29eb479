"""Ids of runs, reports, notifications and silences: one counter row per table (migration 016).

Not sequences (DuckLake has none) and not max(id) + 1 (two writers on a lake would take the same id, since
appends never conflict): updating the counter row is a write that conflicts, so of two concurrent
writers one fails at commit and retries with the next id.
"""

from __future__ import annotations

import duckdb


def next_id(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """The next id for `table`, taken in the caller's transaction (given back if it rolls back)."""
    con.execute("UPDATE id_counters SET value = value + 1 WHERE name = ?", [table])
    row = con.execute("SELECT value FROM id_counters WHERE name = ?", [table]).fetchone()
    if row is None:
        raise KeyError(f"no id counter for {table!r} (migration 016)")
    return int(row[0])
