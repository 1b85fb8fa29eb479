"""Silences (suppress sending until a day) and acknowledgements (no more reminders)."""

from __future__ import annotations

import datetime as dt

import duckdb

from indicators.definitions import Definition, load_definitions


def silence(con: duckdb.DuckDBPyConnection, matcher: str, until: dt.date, reason: str, *,
            now: dt.datetime | None = None, definitions: dict[str, Definition] | None = None) -> dict:
    """Suppress sending for an alert_id (its whole value), an indicator or indicator/series through `until`."""
    now = now or dt.datetime.now().replace(microsecond=0)
    if not reason.strip():
        raise ValueError("a reason is required: say why, so the next analyst knows")
    if until < now.date():
        raise ValueError(f"--until {until} is in the past")
    row = con.execute("SELECT indicator, series, value_key FROM alert_rows WHERE alert_id = ?", [matcher]).fetchone()
    if row is None:
        indicator, _, series = matcher.partition("/")
        known = set(load_definitions() if definitions is None else definitions)
        known |= {r[0] for r in con.execute("SELECT DISTINCT indicator FROM alert_rows").fetchall()}
        if indicator not in known:
            raise ValueError(f"{matcher!r} is neither an alert id nor an indicator[/series]")
        row = (indicator, series or None, None)
    sid = con.execute("INSERT INTO alert_silences (matcher, indicator, series, value_key, until, reason, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING silence_id", [matcher, *row, until, reason, now]
                      ).fetchone()[0]
    return {"silence_id": sid, "indicator": row[0], "series": row[1], "value_key": row[2], "until": until}


def ack(con: duckdb.DuckDBPyConnection, alert_id: str, note: str | None = None, *,
        now: dt.datetime | None = None) -> int:
    """Acknowledge an alert (and the other rules on its value): no more reminders. Returns rows updated."""
    count = con.execute("UPDATE alert_rows SET acked_at = ?, ack_note = ? WHERE value_key = "
                        "(SELECT value_key FROM alert_rows WHERE alert_id = ?)",
                        [now or dt.datetime.now().replace(microsecond=0), note, alert_id]).fetchone()[0]
    if not count:
        raise ValueError(f"no alert {alert_id!r}: see `riskwatch alerts list`")
    return count
