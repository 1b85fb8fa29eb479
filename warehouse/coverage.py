"""Coverage windows: which dates each source speaks for, per country, and for which perpetrators (README "Coverage").

A static dataset declares its window in its mapping (`coverage:`); it is recorded when a file of it is
ingested. Everything else is derived from what was loaded: a live feed (no declaration) covers from
its first event in a country to its newest successful ingest, not to its newest event, because a quiet
day after the last pull is still a day the feed reported on. Loaded events outside a declared window
widen it (a newer release of a dataset is evidence of its own coverage). A source that records only some
states' acts (`coverage: perpetrators: [USA]`, BIJ) carries that scope on each of its windows.
"""

from __future__ import annotations

import duckdb

from warehouse.sources.mapping import Mapping


def record_declared(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
    """Replace the recorded declaration of `mapping`'s source with what its mapping declares now."""
    con.execute("DELETE FROM source_coverage_declared WHERE source = ?", [mapping.name])
    for country, (start, end) in mapping.coverage.items():
        con.execute("INSERT INTO source_coverage_declared VALUES "
                    "(?, ?, ?, ?, ?, CAST(current_timestamp AS TIMESTAMP), ?)",
                    [mapping.name, country, start, end, str(mapping.path or ""), mapping.perpetrators])


def refresh_coverage(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute source_coverage from the declarations, the loaded incidents and the ingest runs; rows written."""
    con.execute("DELETE FROM source_coverage")
    con.execute("""
        INSERT INTO source_coverage
        WITH loaded AS (
            SELECT source, country_iso3, min(event_date) AS first_event, max(event_date) AS last_event
            FROM incident_current WHERE NOT is_deleted AND country_iso3 IS NOT NULL AND event_date IS NOT NULL
            GROUP BY ALL
        ), ingest AS (
            SELECT source, CAST(max(finished_at) AS DATE) AS last_ingest FROM ingest_runs
            WHERE status = 'success' GROUP BY source
        ), decl AS (SELECT * FROM source_coverage_declared),
        -- What the source records (`coverage: perpetrators:`) holds for every country it is loaded for.
        scope AS (SELECT source, any_value(perpetrators) AS perpetrators FROM decl GROUP BY source)
        -- Declared windows (per country or '*'), widened by the events loaded for that country.
        SELECT d.source, d.country_iso3, least(d.start_date, l.first_event), greatest(d.end_date, l.last_event),
               'declared', l.first_event, l.last_event, i.last_ingest, CAST(current_timestamp AS TIMESTAMP),
               d.perpetrators
        FROM decl d LEFT JOIN loaded l USING (source, country_iso3) LEFT JOIN ingest i USING (source)
        UNION ALL
        -- Countries loaded without a declaration of their own: the source's '*' window (widened), else the
        -- events' span for a static dataset (one that declares other countries), else up to the newest ingest.
        SELECT l.source, l.country_iso3,
               CASE WHEN a.source IS NULL THEN l.first_event ELSE least(a.start_date, l.first_event) END,
               CASE WHEN a.source IS NOT NULL THEN greatest(a.end_date, l.last_event)
                    WHEN l.source IN (SELECT source FROM decl) THEN l.last_event
                    ELSE greatest(l.last_event, i.last_ingest) END,
               CASE WHEN a.source IS NOT NULL THEN 'declared'
                    WHEN l.source IN (SELECT source FROM decl) THEN 'loaded (static)' ELSE 'loaded (live)' END,
               l.first_event, l.last_event, i.last_ingest, CAST(current_timestamp AS TIMESTAMP), s.perpetrators
        FROM loaded l LEFT JOIN decl a ON a.source = l.source AND a.country_iso3 = '*'
        LEFT JOIN ingest i ON i.source = l.source LEFT JOIN scope s ON s.source = l.source
        ANTI JOIN decl d ON d.source = l.source AND d.country_iso3 = l.country_iso3
    """)
    return con.execute("SELECT count(*) FROM source_coverage").fetchone()[0]
