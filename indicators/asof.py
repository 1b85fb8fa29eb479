"""The incidents as they were known on an as-of date: the relations indicator SQL reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from indicators import tags


def needs_history(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> bool:
    """True when some current record carries a revision (or deletion) made after the as-of date."""
    # Records that happened after the as-of date are cut anyway; only those that (in some version)
    # fall on or before it and were revised later need their older version.
    # Date literals, not parameters: DuckDB prunes row groups by their min/max only for constants.
    d, next_day = f"DATE '{as_of.isoformat()}'", f"DATE '{(as_of + dt.timedelta(days=1)).isoformat()}'"
    return con.execute(
        f"SELECT EXISTS (SELECT 1 FROM incident_current WHERE source_updated_at >= {next_day} AND event_date <= {d}) "
        f"OR EXISTS (SELECT 1 FROM incident_current c JOIN incident_history h USING (incident_id) "
        f"WHERE c.source_updated_at >= {next_day} AND h.event_date <= {d})"
    ).fetchone()[0]


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop a temp table or view of that name, whichever it is (the two paths create different kinds)."""
    for kind, catalog in (("VIEW", "duckdb_views()"), ("TABLE", "duckdb_tables()")):
        col = "view_name" if kind == "VIEW" else "table_name"
        if con.execute(f"SELECT count(*) FROM {catalog} WHERE temporary AND {col} = ?", [name]).fetchone()[0]:
            con.execute(f"DROP {kind} temp.{name}")


@dataclass(frozen=True)
class AsOf:
    """The temp relations prepare() made: the names indicator definitions (and the report) read.

    events: the incidents known on `as_of`, one row per source record, with event_key (shared by the
    records of one real event), episode_key (shared by the events of one episode, e.g. GTD related rows)
    and the event_date of the record that represents it; event_tags: incident_id, tag, detail, evidence,
    confidence of those records; watched: iso3 of the watched countries.
    """

    as_of: dt.date
    history: bool
    events: str = "events"
    event_tags: str = "event_tags"
    watched: str = "watched_countries"


def prepare(con: duckdb.DuckDBPyConnection, as_of: dt.date, watched: list[str], *,
            floor: dt.date | None = None, history: bool | None = None) -> AsOf:
    """Create the temp relations of AsOf (the names definitions' SQL uses) and say whether history was used.

    With no revision after the as-of date, the current state is that date's state (fast path: views over
    the current incidents, from `floor` on when only recent periods are recomputed); otherwise each
    record's latest version revised on or before it is rebuilt from incident_versions and tagged afresh,
    since its tags may differ from today's.
    """
    history = needs_history(con, as_of) if history is None else history
    for name in ("events", "event_tags", "watched_countries"):
        _drop(con, name)
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
    kind = "TABLE" if history else "VIEW"
    window = f"BETWEEN DATE '{floor.isoformat()}' AND DATE '{as_of.isoformat()}'" if floor else \
        f"<= DATE '{as_of.isoformat()}'"
    if con.execute("SELECT count(*) FROM incident_duplicates").fetchone()[0]:
        # Duplicates across sources count once: they share the event_key and the date of the record kept.
        records = (f"SELECT i.* REPLACE (coalesce(p.event_date, i.event_date) AS event_date), "
                   f"coalesce(p.incident_id, i.incident_id) AS event_key "
                   f"FROM {source} i LEFT JOIN {source} p ON p.incident_id = i.duplicate_of "
                   f"WHERE coalesce(p.event_date, i.event_date) {window}")
    else:
        records = f"SELECT *, incident_id AS event_key FROM {source} WHERE event_date {window}"
    # The episode of a real event: that of any of its records (GTD related rows), else the event itself. A join
    # with the few events that have one, not a window over every record: a window drags all columns of all
    # records through a sort (4 s for SELECT * at 1e6 records against 1 s).
    con.execute(f"CREATE TEMP {kind} events AS WITH r AS NOT MATERIALIZED ({records}) "
                f"SELECT r.*, coalesce(k.episode, r.event_key) AS episode_key FROM r LEFT JOIN "
                f"(SELECT event_key, min(episode_id) AS episode FROM r WHERE episode_id IS NOT NULL GROUP BY 1) k "
                f"USING (event_key)")
    if history:
        rules = tags.load_rules()
        tags.prepare_origins(con, "events")
        con.execute(f"CREATE TEMP TABLE event_tags AS {tags.tag_select_sql(rules, 'events')}")
    else:
        con.execute("CREATE TEMP VIEW event_tags AS SELECT t.incident_id, t.tag, t.detail, t.evidence, t.confidence "
                    "FROM incident_tag_rows t SEMI JOIN events e USING (incident_id)")
    con.execute("CREATE TEMP TABLE watched_countries (iso3 VARCHAR)")
    if watched:
        con.executemany("INSERT INTO watched_countries VALUES (?)", [(w,) for w in watched])
    return AsOf(as_of=as_of, history=history)
