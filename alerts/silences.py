"""Silences (suppress sending until a day) and acknowledgements (no more reminders)."""

from __future__ import annotations

import datetime as dt

import duckdb

from indicators.definitions import Definition, load_definitions
from warehouse import ids

# An alert id is the value's (`alerts` view, emails); one rule's id (alert_rows) is accepted too.
_BY_ID = ("SELECT {cols} FROM alert_rows WHERE left(sha256(value_key), 12) = ? OR alert_id = ?")


def silence(con: duckdb.DuckDBPyConnection, matcher: str, until: dt.date, reason: str, *,
            now: dt.datetime | None = None, definitions: dict[str, Definition] | None = None) -> dict:
    """Suppress sending for an alert_id (its whole value), an indicator or indicator/series through `until`."""
    now = now or dt.datetime.now().replace(microsecond=0)
    if not reason.strip():
        raise ValueError("a reason is required: say why, so the next analyst knows")
    if until < now.date():
        raise ValueError(f"--until {until} is in the past")
    row = con.execute(_BY_ID.format(cols="indicator, series, value_key"), [matcher, matcher]).fetchone()
    if row is None:
        indicator, _, series = matcher.partition("/")
        known = set(load_definitions() if definitions is None else definitions)
        known |= {r[0] for r in con.execute("SELECT DISTINCT indicator FROM alert_rows").fetchall()}
        if indicator not in known:
            raise ValueError(f"{matcher!r} is neither an alert id nor an indicator[/series]")
        row = (indicator, series or None, None)
    sid = ids.next_id(con, "alert_silences")
    con.execute("INSERT INTO alert_silences (silence_id, matcher, indicator, series, value_key, until, reason, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [sid, matcher, *row, until, reason, now])
    return {"silence_id": sid, "indicator": row[0], "series": row[1], "value_key": row[2], "until": until}


def ack(con: duckdb.DuckDBPyConnection, alert_id: str, note: str | None = None, *,
        now: dt.datetime | None = None) -> int:
    """Acknowledge an alert (and the other rules on its value): no more reminders. Returns rows updated."""
    count = con.execute(f"UPDATE alert_rows SET acked_at = ?, ack_note = ? WHERE value_key = "
                        f"({_BY_ID.format(cols='value_key')} LIMIT 1)",
                        [now or dt.datetime.now().replace(microsecond=0), note, alert_id, alert_id]).fetchone()[0]
    if not count:
        raise ValueError(f"no alert {alert_id!r}: see `riskwatch alerts list`")
    return count
