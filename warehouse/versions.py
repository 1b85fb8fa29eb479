"""Versioning of incident records: content hashes and keeping superseded versions in history."""

from __future__ import annotations

import datetime as dt

from warehouse.canonical import CONTENT


def hash_sql(prefix: str = "") -> str:
    parts = ", ".join(f"coalesce(CAST({prefix}{c} AS VARCHAR), '\x01')" for c in CONTENT)
    return f"md5(concat_ws('\x1f', {parts}))"


def archive(con, ids_sql: str, now: dt.datetime) -> None:
    """Copy the current versions of `ids_sql` to incident_history, closed at `now`."""
    con.execute(
        f"INSERT INTO incident_history SELECT *, $now AS valid_to FROM incident_current "
        f"WHERE incident_id IN ({ids_sql})",
        {"now": now},
    )


def supersede(con, ids_sql: str, now: dt.datetime) -> None:
    """Archive the current versions of `ids_sql` and remove them from incident_current."""
    archive(con, ids_sql, now)
    con.execute(f"DELETE FROM incident_current WHERE incident_id IN ({ids_sql})")
