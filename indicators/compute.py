"""Computing indicator_values from the definitions: zero-filled periods, incremental after ingests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from indicators import asof, links, precision, tags
from indicators.coverage import apply_coverage, sources_sql
from indicators.definitions import GRAINS, Definition, definitions_hash, load_definitions
from indicators.periods import period_start_sql
from warehouse.coverage import refresh_coverage
from warehouse.db import transaction
from warehouse.places import places_hash, refresh_places


@dataclass
class ComputeResult:
    mode: str                 # full | incremental | unchanged
    as_of: dt.date
    periods_recomputed: int = 0
    values_written: int = 0
    past_values_changed: int = 0
    used_history: bool = False


def _state(con) -> tuple | None:
    return con.execute("SELECT refreshed_at, as_of, definitions_hash FROM refresh_state "
                       "WHERE component = 'indicators'").fetchone()


def compute_indicators(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    *,
    watched: list[str],
    full: bool = False,
    since: dt.date | None = None,
    definitions: dict[str, Definition] | None = None,
) -> ComputeResult:
    """Bring indicator_value_rows up to date for `as_of` in one transaction (see README "Indicators")."""
    defs = definitions or load_definitions()
    with transaction(con):
        history = asof.needs_history(con, as_of)
        refresh_places(con)  # series keys use the ISO 3166-2 codes: resolve names new since the last refresh
        digest = definitions_hash(defs, tags.rules_hash(tags.load_rules()), links.links_hash(), ",".join(watched),
                                  places_hash())
        digest += ":h" if history else ""
        state = _state(con)
        # With revisions after the as-of date in play, moving the date changes which versions count: redo all.
        stale = state is None or state[2] != digest or as_of < state[1] or (history and as_of != state[1])
        mode = "full" if (full or stale) else "incremental"
        result = ComputeResult(mode=mode, as_of=as_of, used_history=history)
        seen_until = con.execute("SELECT max(valid_from) FROM incident_current").fetchone()[0] or dt.datetime.min
        floor = None
        if mode == "incremental":
            _touched_days(con, state[0], state[1], as_of, since)
            # Only events in the quarters holding a touched day (and the week before) can change a value.
            floor = con.execute("SELECT CAST(date_trunc('quarter', min(day) - 7) AS DATE) FROM _touched_days "
                                "WHERE day <= ?", [as_of]).fetchone()[0] or as_of
        asof.prepare(con, as_of, watched, floor=floor, history=history)
        refresh_coverage(con)
        _coarse_records(con)
        for d in defs.values():
            if d.kind == "events":
                agg = _event_facts(con, d, as_of)
                for grain in d.grains:
                    _refresh_events(con, d, agg, grain, as_of, mode, result)
            if d.kind == "derived":
                _refresh_derived(con, d, as_of, result)
        con.execute("DROP TABLE IF EXISTS temp._facts; DROP TABLE IF EXISTS temp._new; "
                    "DROP TABLE IF EXISTS temp._coarse")
        if mode == "incremental" and not result.periods_recomputed and state[1] == as_of:
            result.mode = "unchanged"
        con.execute(
            "MERGE INTO refresh_state USING (SELECT 'indicators' AS component, ?::TIMESTAMP AS t, ?::DATE AS a, "
            "?::VARCHAR AS h) s ON refresh_state.component = s.component "
            "WHEN MATCHED THEN UPDATE SET refreshed_at = s.t, as_of = s.a, definitions_hash = s.h "
            "WHEN NOT MATCHED THEN INSERT VALUES (s.component, s.t, s.a, s.h)", [seen_until, as_of, digest]
        )
    return result


def _touched_days(con, refreshed_at, prev_as_of: dt.date, as_of: dt.date, since: dt.date | None) -> None:
    """Days whose periods need recomputing: every version ingested or superseded since the last refresh
    (old and new dates), +-1 day for cross-source duplicates, days entering the window, and --from."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _touched_days AS "
        "SELECT DISTINCT unnest([event_date - 1, event_date, event_date + 1]) AS day FROM incident_versions "
        "WHERE valid_from > $seen OR valid_to > $seen "
        "UNION SELECT CAST(unnest(generate_series($prev + 1, $asof, INTERVAL 1 DAY)) AS DATE) "
        "UNION SELECT CAST(unnest(generate_series(coalesce($since, $asof + 1), $asof, INTERVAL 1 DAY)) AS DATE)",
        {"seen": refreshed_at, "prev": prev_as_of, "asof": as_of, "since": since},
    )


def _coarse_records(con) -> None:
    """Temp table _coarse: the records of `events` dated coarser than a week, the only ones a grain can leave
    out (few, so _event_facts joins them instead of the whole events relation)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _coarse AS SELECT incident_id, date_precision FROM events "
                f"WHERE date_precision > {min(precision.COARSEST.values())}")


def _event_facts(con, d: Definition, as_of: dt.date) -> str:
    """Temp table _facts: definition `d`'s values up to as_of, one row per real event and series (any grain),
    with the date precision of the record that represents the event, and the aggregate that turns them
    into a period's value."""
    # Each real event counts once per series, however many sources (or rows of the definition) report it.
    # With `sources:` narrowed, an event counts when one of its records comes from a contributing source.
    narrowed = f"AND q.event_key IN (SELECT event_key FROM events WHERE {sources_sql(d)})" if d.sources else ""
    facts = (f"SELECT q.series, q.event_key, q.event_date, max(q.value) AS value, "
             f"any_value(c.date_precision) AS date_precision FROM ({d.sql}) q "
             f"LEFT JOIN _coarse c ON c.incident_id = q.event_key "
             f"WHERE q.series IS NOT NULL AND q.event_date <= DATE '{as_of.isoformat()}' {narrowed} "
             f"GROUP BY q.series, q.event_key, q.event_date")
    if d.counts == "episodes":
        # The events of one episode (GTD rows of one attack) are one fact, dated (and as precise) as its first.
        facts = (f"SELECT f.series, min(f.event_date) AS event_date, sum(f.value) AS value, "
                 f"arg_min(coalesce(f.date_precision, 1), f.event_date) AS date_precision FROM ({facts}) f "
                 f"JOIN (SELECT DISTINCT event_key, episode_key FROM events) k USING (event_key) "
                 f"GROUP BY f.series, k.episode_key")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _facts AS SELECT series, event_date, value, date_precision "
                f"FROM ({facts})")
    return "count(*)" if d.aggregate == "count" else "sum(value)"


def _refresh_events(con, d: Definition, agg: str, grain: str, as_of: dt.date, mode: str,
                    result: ComputeResult) -> None:
    step = GRAINS[grain]
    key = {"ind": d.name, "grain": grain, "asof": as_of}
    scope = ""
    if mode == "incremental":
        con.execute(f"CREATE OR REPLACE TEMP TABLE _periods AS SELECT DISTINCT {period_start_sql(grain, 'day')} AS p "
                    f"FROM _touched_days WHERE day <= $asof", {"asof": as_of})
        scope = "AND period_start IN (SELECT p FROM _periods)"
        periods = con.execute("SELECT count(*) FROM _periods").fetchone()[0]
        if not periods:
            _zero_fill(con, d, grain, step, as_of)
            return
        result.periods_recomputed += periods
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _new AS SELECT * FROM ("
        f"SELECT series, {period_start_sql(grain)} AS period_start, "
        f"CAST({agg} AS DOUBLE) AS value FROM _facts WHERE {precision.fits_sql(grain)} GROUP BY ALL) WHERE true {scope}"
    )
    _record_precision_gaps(con, d.name, agg, grain, scope)
    old = f"FROM indicator_value_rows WHERE indicator = $ind AND grain = $grain {scope}"
    if mode == "incremental":
        result.past_values_changed += con.execute(
            f"INSERT INTO indicator_revisions SELECT $ind, series, $grain, period_start, o.value, n.value, "
            f"CAST(current_timestamp AS TIMESTAMP), $asof FROM (SELECT series, period_start, value {old}) o "
            f"FULL JOIN _new n USING (series, period_start) WHERE coalesce(o.value, 0) <> coalesce(n.value, 0) "
            f"AND period_start + {step} <= $asof + 1",
            key,
        ).fetchone()[0]
    con.execute(f"DELETE {old}", {"ind": d.name, "grain": grain})
    con.execute(
        f"INSERT INTO indicator_value_rows SELECT $ind, series, $grain, period_start, "
        f"CAST(period_start + {step} - INTERVAL 1 DAY AS DATE), value, period_start + {step} <= $asof + 1, "
        f"CAST(current_timestamp AS TIMESTAMP), $asof FROM _new",
        key,
    )
    result.values_written += con.execute("SELECT count(*) FROM _new").fetchone()[0]
    _zero_fill(con, d, grain, step, as_of)


def _record_precision_gaps(con, name: str, agg: str, grain: str, scope: str) -> None:
    """indicator_precision_gaps for the periods in scope: the events too coarsely dated for `grain`."""
    con.execute(f"DELETE FROM indicator_precision_gaps WHERE indicator = $ind AND grain = $grain {scope}",
                {"ind": name, "grain": grain})
    con.execute(
        f"INSERT INTO indicator_precision_gaps SELECT * FROM (SELECT $ind, $grain, "
        f"{period_start_sql(grain)} AS period_start, "
        f"{precision.reason_sql()}, count(*), CAST({agg} AS DOUBLE) FROM _facts "
        f"WHERE NOT {precision.fits_sql(grain)} GROUP BY ALL) WHERE true {scope}",
        {"ind": name, "grain": grain},
    )


def _zero_fill(con, d: Definition, grain: str, step: str, as_of: dt.date) -> None:
    """Every period from each series' first to the one holding as_of; flags (covered included) and as_of
    brought current."""
    name = d.name
    key = {"ind": name, "grain": grain, "asof": as_of}
    con.execute("DELETE FROM indicator_value_rows WHERE indicator = $ind AND grain = $grain AND period_start > $asof",
                key)
    con.execute(
        f"INSERT INTO indicator_value_rows SELECT $ind, g.series, $grain, g.p, "
        f"CAST(g.p + {step} - INTERVAL 1 DAY AS DATE), 0, g.p + {step} <= $asof + 1, "
        f"CAST(current_timestamp AS TIMESTAMP), $asof FROM ("
        f"  SELECT series, CAST(unnest(generate_series(min(period_start), {period_start_sql(grain, '$asof')}, "
        f"  {step})) AS DATE) AS p FROM indicator_value_rows WHERE indicator = $ind AND grain = $grain GROUP BY series"
        f") g ANTI JOIN (SELECT series, period_start AS p FROM indicator_value_rows "
        f"  WHERE indicator = $ind AND grain = $grain) USING (series, p)",
        key,
    )
    con.execute(
        f"UPDATE indicator_value_rows SET is_complete = period_start + {step} <= $asof + 1, as_of = $asof "
        f"WHERE indicator = $ind AND grain = $grain AND (as_of <> $asof OR is_complete <> (period_start + {step} "
        f"<= $asof + 1))",
        key,
    )
    apply_coverage(con, d, grain, as_of)


def _refresh_derived(con, d: Definition, as_of: dt.date, result: ComputeResult) -> None:
    con.execute("DELETE FROM indicator_value_rows WHERE indicator = ?", [d.name])
    steps = " ".join(f"WHEN '{g}' THEN {s}" for g, s in GRAINS.items())
    # A derived SQL may return `covered` (else a NULL value means uncovered); an uncovered value is NULL.
    cols = [c[0] for c in con.execute(f"SELECT * FROM ({d.sql}) q LIMIT 0").description]
    covered = "coalesce(covered, true)" if "covered" in cols else "value IS NOT NULL"
    con.execute(
        f"INSERT INTO indicator_value_rows SELECT $ind, series, grain, period_start, "
        f"CAST(period_start + (CASE grain {steps} END) - INTERVAL 1 DAY AS DATE), "
        f"CASE WHEN {covered} THEN coalesce(value, 0) END, "
        f"period_start + (CASE grain {steps} END) <= $asof + 1, CAST(current_timestamp AS TIMESTAMP), $asof "
        f"FROM ({d.sql}) q WHERE period_start <= $asof",
        {"ind": d.name, "asof": as_of},
    )
    result.values_written += con.execute(
        "SELECT count(*) FROM indicator_value_rows WHERE indicator = ?", [d.name]).fetchone()[0]


def running_values(con: duckdb.DuckDBPyConnection, d: Definition, grain: str, as_of: dt.date) -> list[tuple]:
    """(series, period_start, day, value of the period up to that day) for each day with an event of `d`,
    from the relations asof.prepare made: when within its period a value reached a threshold."""
    _coarse_records(con)
    agg = _event_facts(con, d, as_of)
    found = con.execute(
        f"SELECT series, p, event_date, sum(v) OVER (PARTITION BY series, p ORDER BY event_date) FROM ("
        f"SELECT series, {period_start_sql(grain)} AS p, event_date, CAST({agg} AS DOUBLE) AS v FROM _facts "
        f"WHERE {precision.fits_sql(grain)} GROUP BY ALL) ORDER BY ALL").fetchall()
    con.execute("DROP TABLE IF EXISTS temp._facts; DROP TABLE IF EXISTS temp._coarse")
    return found
