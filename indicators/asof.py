"""The incidents as they were known on an as-of date: the relations indicator SQL reads."""

from __future__ import annotations

import datetime as dt

import duckdb

from indicators import tags


def needs_history(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> bool:
    """True when some current record carries a revision (or deletion) made after the as-of date."""
    # Records that happened after the as-of date are cut anyway; only those that (in some version)
    # fall on or before it and were revised later need their older version.
    return bool(con.execute(
        "SELECT count(*) FROM incident_current c WHERE c.source_updated_at >= $d::DATE + 1 "
        "AND (c.event_date <= $d OR c.incident_id IN (SELECT incident_id FROM incident_history "
        "WHERE event_date <= $d))", {"d": as_of}
    ).fetchone()[0])


def prepare(con: duckdb.DuckDBPyConnection, as_of: dt.date, watched: list[str]) -> bool:
    """Create temp relations `events`, `event_tags`, `watched_countries`. Returns True if history was used.

    With no revision after the as-of date, the current state is that date's state (fast path); otherwise
    each record's latest version revised on or before it is rebuilt from incident_versions and tagged
    afresh, since its tags may differ from today's.
    """
    history = needs_history(con, as_of)
    if history:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _known AS SELECT * EXCLUDE (valid_to) FROM incident_versions "
            "WHERE source_updated_at IS NULL OR source_updated_at < ?::DATE + 1 "
            "QUALIFY row_number() OVER (PARTITION BY incident_id "
            "ORDER BY source_updated_at DESC NULLS LAST, valid_from DESC) = 1",
            [as_of],
        )
        con.execute("CREATE OR REPLACE TEMP VIEW _known_public AS SELECT * FROM public_incidents('_known')")
        source = "_known_public"
    else:
        source = "incidents"
    # Duplicates across sources count once: they share the event_key and the date of the record kept.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE events AS "
        f"SELECT i.* REPLACE (coalesce(p.event_date, i.event_date) AS event_date), "
        f"coalesce(p.incident_id, i.incident_id) AS event_key "
        f"FROM {source} i LEFT JOIN {source} p ON p.incident_id = i.duplicate_of "
        f"WHERE coalesce(p.event_date, i.event_date) <= ?",
        [as_of],
    )
    if history:
        rules = tags.load_rules()
        tags.prepare_origins(con, "events")
        con.execute(f"CREATE OR REPLACE TEMP TABLE event_tags AS {tags.tag_select_sql(rules, 'events')}")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE event_tags AS SELECT t.incident_id, t.tag, t.detail "
                    "FROM incident_tags t SEMI JOIN events e USING (incident_id)")
    con.execute("CREATE OR REPLACE TEMP TABLE watched_countries (iso3 VARCHAR)")
    if watched:
        con.executemany("INSERT INTO watched_countries VALUES (?)", [(w,) for w in watched])
    return history
