"""ACLED-style deletions files: (id, deleted_timestamp) rows that retire incidents."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from warehouse import readfile, versions
from warehouse.sources.mapping import Mapping, literal, stage_projection


def load_deletions(con, path: Path, header: list[str], mapping: Mapping, run, tag: str,
                   now: dt.datetime) -> None:
    dele = mapping.deletions
    scan, _ = readfile.raw_scan(path, header, tag)
    deleted_at = stage_projection(
        Mapping(name="d", columns={"source_event_id": dele.id, "source_updated_at": dele.deleted_at}), header
    )
    listed, gone = f"_del_{tag}", f"_gone_{tag}"
    con.execute(f"CREATE TEMP TABLE {listed} AS SELECT {literal(mapping.name)} || ':' || source_event_id AS "
                f"incident_id, source_updated_at AS deleted_at FROM (SELECT {deleted_at} FROM ({scan}))")
    run.rows_read = con.execute(f"SELECT count(*) FROM {listed}").fetchone()[0]
    con.execute(
        f"CREATE TEMP TABLE {gone} AS SELECT c.incident_id, max(d.deleted_at) AS deleted_at FROM incident_current c "
        f"JOIN {listed} d USING (incident_id) WHERE NOT c.is_deleted AND d.deleted_at IS NOT NULL AND "
        "(c.source_updated_at IS NULL OR c.source_updated_at < d.deleted_at) GROUP BY c.incident_id"
    )
    run.deleted = con.execute(f"SELECT count(*) FROM {gone}").fetchone()[0]
    run.rejected = con.execute(f"SELECT count(*) FROM {listed} WHERE deleted_at IS NULL").fetchone()[0]
    run.unchanged = run.rows_read - run.deleted - run.rejected
    if run.deleted:
        tombstones = f"_tomb_{tag}"
        con.execute(f"CREATE TEMP TABLE {tombstones} AS SELECT c.* REPLACE (true AS is_deleted, g.deleted_at AS "
                    "source_updated_at, $now AS valid_from, $run AS ingest_run_id) FROM incident_current c "
                    f"JOIN {gone} g USING (incident_id)", {"now": now, "run": run.run_id})
        versions.supersede(con, f"SELECT incident_id FROM {gone}", now)
        con.execute(f"INSERT INTO incident_current SELECT * FROM {tombstones}")
    run.message = run.summary()
