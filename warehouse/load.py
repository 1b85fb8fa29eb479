"""Loading a file: stage through its source mapping, quarantine bad rows, upsert by (source, id).

One file = one transaction: all of it or nothing. Superseded versions move to incident_history.
"""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from warehouse import batch_checks, deletions, readfile, row_checks, versions
from warehouse.canonical import COLUMNS
from warehouse.countries import seed_known_names
from warehouse.readfile import IngestRefused
from warehouse.sources.mapping import (
    Mapping,
    clean_projection,
    ident,
    literal,
    load_mapping,
    stage_projection,
)

__all__ = ["IngestRefused", "IngestResult", "ingest_file"]

_CHECKS = Path(__file__).with_name("checks.yml")
_tags = itertools.count(1)


@dataclass
class IngestResult:
    run_id: int
    file: str
    source: str
    kind: str
    status: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deleted: int = 0
    message: str = ""
    fingerprint: tuple = (None, None, None)   # resolved path, size, mtime_ns

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (f"read {self.rows_read}, inserted {self.inserted}, updated {self.updated}, "
                f"unchanged {self.unchanged}, rejected {self.rejected}"
                + (f", deleted {self.deleted}" if self.kind == "deletions" else ""))






def _now(con: duckdb.DuckDBPyConnection) -> dt.datetime:
    return con.execute("SELECT CAST(current_timestamp AS TIMESTAMP)").fetchone()[0]


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    source: str,
    *,
    as_of: dt.date | None = None,
    defaults: dict[str, Any] | None = None,
    mapping_dirs: list[Path] | None = None,
    max_reject_fraction: float = 0.25,
    batch_limits: dict[str, Any] | None = None,
    force: bool = False,
) -> IngestResult:
    """Load one file of `source` into the warehouse; see README "Loading semantics"."""
    path = Path(path)
    mapping = load_mapping(source, mapping_dirs)
    header = readfile.read_header(path)
    kind = "deletions" if mapping.is_deletions_file(header) else "events"
    if kind == "events":
        missing = mapping.missing_columns(header)
        if missing:
            raise IngestRefused(
                f"{path}: not a {mapping.name} file: missing required column(s) {', '.join(missing)}"
            )
    stat = path.stat()
    fingerprint = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    started = _now(con)
    run = IngestResult(run_id=0, file=str(path), source=mapping.name, kind=kind, status="running")
    seen = "SELECT run_id, finished_at, sha256 FROM ingest_runs WHERE source = ? AND status = 'success' AND "
    previous = con.execute(seen + "file_path = ? AND file_size = ? AND file_mtime_ns = ? ORDER BY run_id DESC LIMIT 1",
                           [mapping.name, *fingerprint]).fetchone()
    sha = previous[2] if previous else readfile.sha256_of(path)
    previous = previous or con.execute(seen + "sha256 = ? ORDER BY run_id DESC LIMIT 1", [mapping.name, sha]).fetchone()
    run.fingerprint = fingerprint
    if previous and not force:
        run.status = "skipped"
        run.message = f"already ingested by run {previous[0]} at {previous[1]:%Y-%m-%d %H:%M}: nothing changed"
        run.run_id = _record_run(con, run, sha, started)
        return run
    if kind == "events":
        # Great Expectations takes ~2 s to import; let it load on the other core while DuckDB reads the file.
        threading.Thread(target=importlib.import_module, args=("great_expectations",), daemon=True).start()
    con.execute("BEGIN TRANSACTION")
    try:
        run.run_id = _record_run(con, run, sha, started)
        tag = f"{run.run_id}_{next(_tags)}"
        if kind == "deletions":
            deletions.load_deletions(con, path, header, mapping, run, tag, started)
        else:
            limits = {"max_reject_fraction": max_reject_fraction, "mapping_dirs": mapping_dirs,
                      **(batch_limits or {})}
            _load_events(con, path, header, mapping, run, tag, started, as_of or dt.date.today(), defaults, limits)
        run.status = "success"
        _finish_run(con, run)
        con.execute("COMMIT")
    except BaseException as exc:
        con.execute("ROLLBACK")
        run.status = "refused" if isinstance(exc, IngestRefused) else "failed"
        run.message = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
        run.run_id = _record_run(con, run, sha, started)
        raise
    finally:
        _drop_temp(con)
        con.execute("RESET preserve_insertion_order")
    return run


def _record_run(con, run: IngestResult, sha: str, started: dt.datetime) -> int:
    return con.execute(
        "INSERT INTO ingest_runs (file, sha256, source, kind, started_at, finished_at, status, message, file_path, "
        "file_size, file_mtime_ns) VALUES (?, ?, ?, ?, ?, CASE WHEN ? <> 'running' THEN "
        "CAST(current_timestamp AS TIMESTAMP) END, ?, ?, ?, ?, ?) RETURNING run_id",
        [run.file, sha, run.source, run.kind, started, run.status, run.status, run.message, *run.fingerprint],
    ).fetchone()[0]


def _finish_run(con, run: IngestResult) -> None:
    con.execute(
        "UPDATE ingest_runs SET rows_read=?, inserted=?, updated=?, unchanged=?, rejected=?, deleted=?, "
        "status=?, message=?, finished_at=CAST(current_timestamp AS TIMESTAMP) WHERE run_id=?",
        [run.rows_read, run.inserted, run.updated, run.unchanged, run.rejected, run.deleted, run.status,
         run.message, run.run_id],
    )


def _drop_temp(con) -> None:
    for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE '\\_%' ESCAPE '\\'"
    ).fetchall():
        con.execute(f"DROP TABLE IF EXISTS temp.{ident(name)}")


def _load_events(con, path, header, mapping: Mapping, run, tag, now, as_of, defaults, limits: dict) -> None:
    """One pass over the file into `_checked` (canonical columns, reason, id, hash), then quarantine + upsert."""
    seed_known_names(con)
    numbered = mapping.uses_record_order()
    malformed = _stage(con, path, header, mapping, f"{tag}a", as_of, defaults, numbered)
    if not numbered and con.execute("SELECT count(*) FROM _checked WHERE _reason IS NOT NULL").fetchone()[0]:
        # Rejected rows need their line numbers: read the file again, numbered (clean files never pay this).
        malformed = _stage(con, path, header, mapping, f"{tag}b", as_of, defaults, True)
    bad_rows = row_checks.quarantine(con, path, mapping.name, header, malformed, run, tag)
    run.rows_read = con.execute("SELECT count(*) FROM _checked").fetchone()[0] + bad_rows
    run.rejected = bad_rows + con.execute("SELECT count(*) FROM _checked WHERE _reason IS NOT NULL").fetchone()[0]
    batch_checks.check_batch(con, path, run, as_of=as_of, **limits)
    _upsert(con, mapping.name, path, run, now)


def _stage(con, path, header, mapping: Mapping, tag, as_of, defaults, numbered: bool) -> str | None:
    # Unordered scans let DuckDB stream without keeping rows in file order: less memory on big files.
    con.execute(f"SET preserve_insertion_order = {'true' if numbered else 'false'}")
    scan, malformed = readfile.raw_scan(path, header, tag, numbered=numbered)
    # A map, not a join: DuckDB underestimates the CSV scan and would build a join's hash table on the file.
    con.execute("SET VARIABLE country_iso3 = (SELECT map(list(name), list(iso3)) FROM country_names "
                "WHERE iso3 IS NOT NULL)")
    stage = (f"SELECT {stage_projection(mapping, header, defaults)} "
             f"FROM (SELECT {clean_projection(mapping, header)} FROM ({scan}))")
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _checked AS SELECT s.*, "
            f"CAST(getvariable('country_iso3')[s.country] AS VARCHAR) AS country_iso3, "
            f"{row_checks.reason_sql(as_of)} AS _reason, {literal(mapping.name)} || ':' || s.source_event_id "
            f"AS incident_id, CASE WHEN s.source_updated_at IS NULL THEN {versions.hash_sql()} END AS row_hash "
            f"FROM ({stage}) s"
        )
    except duckdb.InvalidInputException as exc:
        raise IngestRefused(f"{path}: cannot be read as CSV ({str(exc).splitlines()[0][:200]}; mixed line "
                            f"endings or unbalanced quotes?)") from exc
    row_checks.resolve_late_countries(con)
    row_checks.mark_repeated_ids(con)
    return malformed


def _upsert(con, source: str, path: Path, run: IngestResult, now: dt.datetime) -> None:
    data_cols = [c for c in COLUMNS] + ["country_iso3", "extra"]
    ints = {c for c, t in COLUMNS.items() if t == "INTEGER"}
    if not con.execute("SELECT count(*) FROM incident_current WHERE source = ?", [source]).fetchone()[0]:
        # A source's first load: every good row is new, no need to compare.
        con.execute("CREATE TEMP TABLE _diff AS SELECT NULL::VARCHAR AS incident_id, 'insert' AS action, "
                    "NULL::TIMESTAMP AS first_ingested_at, count(*) AS n FROM _checked WHERE _reason IS NULL")
    else:
        # Newer revision time wins; equal or older is ignored. Without revision times, changed content wins.
        con.execute(
            "CREATE TEMP TABLE _diff AS SELECT g.incident_id, CASE "
            "WHEN c.incident_id IS NULL THEN 'insert' "
            "WHEN g.source_updated_at IS NOT NULL AND c.source_updated_at IS NOT NULL THEN "
            "  CASE WHEN g.source_updated_at > c.source_updated_at THEN 'update' ELSE 'unchanged' END "
            "WHEN c.is_deleted THEN 'unchanged' "
            "WHEN g.row_hash IS DISTINCT FROM c.row_hash THEN 'update' ELSE 'unchanged' END AS action, "
            "c.first_ingested_at, 1 AS n FROM _checked g LEFT JOIN incident_current c USING (incident_id) "
            "WHERE g._reason IS NULL"
        )
    counts = dict(con.execute("SELECT action, sum(n) FROM _diff GROUP BY action").fetchall())
    run.inserted, run.updated, run.unchanged = (counts.get(k, 0) for k in ("insert", "update", "unchanged"))
    if run.updated:
        versions.supersede(con, "SELECT incident_id FROM _diff WHERE action = 'update'", now)
    if run.inserted or run.updated:
        select = ", ".join(f"CAST(g.{c} AS INTEGER)" if c in ints else f"g.{c}" for c in data_cols)
        if run.unchanged or run.updated:
            # Only the changed rows, joined through the small side.
            source_rows = ("(SELECT incident_id, first_ingested_at FROM _diff WHERE action <> 'unchanged') d "
                           "JOIN _checked g USING (incident_id) WHERE g._reason IS NULL")
        else:   # a first load: every good row is new
            source_rows = ("(SELECT *, CAST(NULL AS TIMESTAMP) AS first_ingested_at FROM _checked) g "
                           "WHERE g._reason IS NULL")
        con.execute(
            f"INSERT INTO incident_current (incident_id, source, {', '.join(data_cols)}, row_hash, is_deleted, "
            f"first_ingested_at, valid_from, ingest_run_id, source_file, source_line) "
            f"SELECT g.incident_id, {literal(source)}, {select}, g.row_hash, false, "
            f"coalesce({'d' if run.unchanged or run.updated else 'g'}.first_ingested_at, $now), $now, $run, $file, "
            f"g._rec + 1 FROM {source_rows}",
            {"now": now, "run": run.run_id, "file": str(path)},
        )
    run.message = run.summary()





