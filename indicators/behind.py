"""The incidents behind one indicator value, and why each counted: what an alert email lists and a reader
checks a value against (one row per real event, as known on the as-of date)."""

from __future__ import annotations

import datetime as dt

import duckdb

from indicators import asof, precision, tags, why
from indicators.definitions import Definition
from indicators.periods import period_start_sql
from warehouse.db import records


def incidents_behind(
    con: duckdb.DuckDBPyConnection, definition: Definition, series: str, grain: str, period_start: dt.date,
    as_of: dt.date, watched: list[str],
) -> list[dict]:
    """The incidents that make up one value: one row per real event (the record kept), oldest first.

    `reasons` says why each counted (indicators/why.py): the evidence and confidence of the tag rows, of any of
    the event's records, of the tags the definition counts by (for a count by event type and province, the
    coded type and ISO 3166-2 code); `why` the same as lines ('cross_border_strike USA->PAK: text, "US drone"
    in source_reference (ucdp)').
    """
    known = asof.prepare(con, as_of, watched)
    reasons = why.reasons_sql(known.event_tags, known.events, "e.incident_id",
                              why.tags_read(definition, {r["tag"] for r in tags.load_rules()}))
    cur = con.execute(
        f"SELECT e.incident_id, e.event_date, e.country, e.admin1, e.admin2, e.location, e.actor1, e.actor2, "
        f"e.fatalities, e.notes, e.source, e.source_reference, e.source_url, e.event_type, e.sub_event_type, "
        f"coalesce({reasons}, []) AS reasons "
        f"FROM (SELECT DISTINCT event_key FROM ({definition.sql}) q WHERE series = $series "
        f"AND {period_start_sql(grain)} = $period AND event_date <= $asof) k "
        f"JOIN {known.events} e ON e.incident_id = k.event_key "
        f"WHERE {precision.fits_sql(grain, 'e.date_precision')} ORDER BY e.event_date, e.incident_id",
        {"series": series, "period": period_start, "asof": as_of},
    )
    found = records(cur)
    for row in found:
        row["why"] = [why.reason_text(r) for r in row["reasons"]]
    return found
