"""Loading a file: stage through its source mapping, quarantine bad rows, upsert by (source, id).

One file = all of it or nothing: a committed 'staging' run row, one load transaction, then a publish step
that marks it 'success' (warehouse/recovery.py completes or undoes what a crash interrupts).
Superseded versions move to incident_history.
The row rules and the batch checks are the validation layer's (Great Expectations): the caller passes them
in as `judge` (validation.row_rules.judge_rows: marks the rows to quarantine in `_reason`) and `validate`
(validation.ingest.check_batch: may refuse the file), so this module never imports upward.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import itertools
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from warehouse import coverage, deletions, ids, lake, readfile, recovery, row_checks, upsert, versions
from warehouse.canonical import CHECKED_TEXT, COLUMNS, NUL_COLUMNS
from warehouse.countries import country_map_sql, seed_known_names
from warehouse.db import transaction
from warehouse.readfile import IngestRefused
from warehouse.redact import redact
from warehouse.sources.mapping import (
    Mapping,
    clean_projection,
    ident,
    literal,
    load_mapping,
    stage_projection,
)

__all__ = ["IngestRefused", "IngestResult", "StagedBatch", "ingest_file"]

_tags = itertools.count(1)
CONFLICT_ATTEMPTS = 8   # lake: loads of one file redone on top of other writers' commits before giving up


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


@dataclass(frozen=True)
class StagedBatch:
    """The temp tables one file's load works on, named so every step says what it reads.

    checked: one row per well-formed record: _rec, the checked columns (the others only as "filled"
             flags), the raw text of parsed columns, country_iso3, incident_id, row_hash, _reason
             (NULL = passes the row checks) and, on a re-load, _action / _first_seen / _p_<column>.
    rejects: (line, reason, raw) of every rejected record, malformed CSV rows included.
    """

    checked: str
    rejects: str
    path: Path
    source: str


# validate(con, batch, run, as_of=..., rows=<the judge's verdict>, **limits): raises IngestRefused to refuse
# the file whole.
BatchValidator = Callable[..., Any]
# judge(con, checked, path=..., as_of=..., numbered=...) -> (some row fails, verdict): fills `_reason` of the rows to
# quarantine when the table is numbered (_rec set); raises to refuse the file.
RowJudge = Callable[..., tuple[bool, Any]]


def _now(con: duckdb.DuckDBPyConnection) -> dt.datetime:
    return con.execute("SELECT CAST(current_timestamp AS TIMESTAMP)").fetchone()[0]


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    source: str,
    *,
    validate: BatchValidator,
    judge: RowJudge,
    max_reject_fraction: float,
    as_of: dt.date | None = None,
    defaults: dict[str, Any] | None = None,
    mapping_dirs: list[Path] | None = None,
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
        if kind == "events":
            coverage.record_declared(con, mapping)  # a re-run of an ingest brings a changed declaration in
        return run
    if kind == "events":
        # Great Expectations takes ~2 s to import; let it load on the other core while DuckDB reads the file.
        threading.Thread(target=importlib.import_module, args=("great_expectations",), daemon=True).start()
    # The run row is committed alone first, so no COMMIT below has to be atomic (warehouse/recovery.py).
    run.status = "staging"
    run.message = recovery.writer_tag()
    run.run_id = _record_run(con, run, sha, started)
    recovery._active.add(run.run_id)
    committed = False
    try:
        recovery.crash_point("staged")
        def load_once() -> None:
            run.status = "staging"     # what a conflicting attempt did was rolled back: start it again
            _drop_temp(con)
            with transaction(con):
                tag = f"{run.run_id}_{next(_tags)}"
                if kind == "deletions":
                    deletions.load_deletions(con, path, header, mapping, run, tag, started)
                else:
                    limits = {"max_reject_fraction": max_reject_fraction, "mapping_dirs": mapping_dirs,
                              **(batch_limits or {})}
                    _load_events(con, path, header, mapping, run, tag, started, as_of or dt.date.today(), defaults,
                                 (judge, validate), limits)
                    coverage.record_declared(con, mapping)
                run.status = "loaded"
                _finish_run(con, run)
                recovery.crash_point("loading")
                recovery.crash_point("commit", con)

        # On a lake, another writer may commit a change to the same tables first: load again on top of it.
        lake.retrying(load_once, CONFLICT_ATTEMPTS)
        committed = True
        recovery.crash_point("loaded")
        if not lake.retrying(lambda: recovery.publish(con, run.run_id)):
            raise RuntimeError(f"run {run.run_id}: the stored rows do not match the load's counts")
        run.status = "success"
        recovery.crash_point("published")
    except BaseException as exc:
        run.status = "refused" if isinstance(exc, IngestRefused) else "failed"
        run.message = redact(str(exc).splitlines()[0])[:500] if str(exc) else type(exc).__name__
        run.rows_read = run.inserted = run.updated = run.unchanged = run.rejected = run.deleted = 0
        # A dead connection (disk full, fatal error) cannot record this: the run stays 'staging' and the next
        # writer's recovery undoes it. Never let that second error hide the first.
        with contextlib.suppress(duckdb.Error):
            if committed:
                recovery.undo(con, run.run_id, run.source, started, run.message)
            _finish_run(con, run)
        raise
    finally:
        recovery._active.discard(run.run_id)
        with contextlib.suppress(duckdb.Error):   # a connection a fatal error invalidated cannot clean up
            _drop_temp(con)
            con.execute("RESET preserve_insertion_order")
            con.execute("RESET disabled_optimizers")
    return run


def _record_run(con, run: IngestResult, sha: str, started: dt.datetime) -> int:
    # On a lake, writers starting together race for the id counter: the loser takes the next id.
    return lake.retrying(lambda: _insert_run(con, run, sha, started))


def _insert_run(con, run: IngestResult, sha: str, started: dt.datetime) -> int:
    with transaction(con):
        run_id = ids.next_id(con, "ingest_runs")
        con.execute(
            "INSERT INTO ingest_runs (run_id, file, sha256, source, kind, started_at, finished_at, status, message, "
            "file_path, file_size, file_mtime_ns) VALUES (?, ?, ?, ?, ?, ?, CASE WHEN ? NOT IN ('running', 'staging') "
            "THEN CAST(current_timestamp AS TIMESTAMP) END, ?, ?, ?, ?, ?)",
            [run_id, run.file, sha, run.source, run.kind, started, run.status, run.status, run.message,
             *run.fingerprint],
        )
    return run_id


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


def _load_events(con, path, header, mapping: Mapping, run, tag, now, as_of, defaults,
                 checks: tuple[RowJudge, BatchValidator], limits: dict) -> None:
    """Stage the file in one light pass, let `judge` mark failing rows, quarantine them, let `validate`
    judge the batch, then write."""
    judge, validate = checks
    seed_known_names(con)
    first_load = not con.execute("SELECT count(*) FROM incident_current WHERE source = ?",
                                 [mapping.name]).fetchone()[0]
    numbered = mapping.uses_record_order()
    checked = f"_checked_{tag}"
    malformed = _stage(con, checked, path, header, mapping, f"{tag}a", as_of, defaults, numbered, not first_load)
    failing, verdict = judge(con, checked, path=path, as_of=as_of, numbered=numbered)
    if failing and not numbered:
        # Rejected rows need their line numbers: read the file again, numbered (clean files never pay this).
        numbered = True
        malformed = _stage(con, checked, path, header, mapping, f"{tag}b", as_of, defaults, numbered, not first_load)
        failing, verdict = judge(con, checked, path=path, as_of=as_of, numbered=numbered)
    rejects, bad_rows = row_checks.quarantine(con, checked, path, mapping.name, header, malformed, run, tag)
    batch = StagedBatch(checked=checked, rejects=rejects, path=Path(path), source=mapping.name)
    run.rows_read = con.execute(f"SELECT count(*) FROM {checked}").fetchone()[0] + bad_rows
    run.rejected = bad_rows + con.execute(f"SELECT count(*) FROM {checked} WHERE _reason IS NOT NULL").fetchone()[0]
    validate(con, batch, run, as_of=as_of, rows=verdict, **limits)
    upsert.classify(con, checked, run, now, first_load)
    if first_load and run.inserted:
        # A first load writes every good row: stream them from a second read instead of holding them.
        scan, _ = readfile.raw_scan(path, header, f"{tag}w", keep_rejects=False, numbered=numbered)
        staged = _staged_sql(mapping, header, defaults, scan, country_map_sql(con))
        upsert.write_all(con, staged, checked, mapping.name, path, run, now, numbered)
    elif run.inserted or run.updated:
        upsert.write_changed(con, checked, mapping.name, path, run, now)
    run.message = run.summary()


def _staged_sql(mapping: Mapping, header, defaults, scan: str, countries: str) -> str:
    """Every canonical column of every record, plus its country code (`countries`: a MAP literal of names to
    ISO3, see countries.country_map_sql), incident id and content hash."""
    stage = (f"SELECT {stage_projection(mapping, header, defaults)} "
             f"FROM (SELECT {clean_projection(mapping, header)} FROM ({scan}))")
    return (f"SELECT s.*, CAST(({countries})[s.country] AS VARCHAR) AS country_iso3, "
            f"{literal(mapping.name)} || ':' || s.source_event_id AS incident_id, "
            f"CASE WHEN s.source_updated_at IS NULL THEN {versions.hash_sql()} END AS row_hash FROM ({stage}) s")


def _stage(con, checked: str, path, header, mapping: Mapping, tag, as_of, defaults, numbered: bool,
           compare: bool) -> str | None:
    """Create temp table `checked` (see StagedBatch) and return the name of DuckDB's malformed-rows table.

    With `compare`, rows also carry their action against the warehouse and, for new and changed rows
    only, the rest of their columns (`_p_<column>`)."""
    # Unordered scans let DuckDB stream without keeping rows in file order: less memory on big files.
    con.execute(f"SET preserve_insertion_order = {'true' if numbered else 'false'}")
    scan, malformed = readfile.raw_scan(path, header, tag, numbered=numbered)
    light = ", ".join(c if c in upsert.CHECKED_COLUMNS else f"CASE WHEN {c} IS NOT NULL THEN true END AS {c}"
                      for c in COLUMNS)
    texts = ", ".join([*(f"_{c}_text" for c in CHECKED_TEXT), NUL_COLUMNS])
    staged, extra = _staged_sql(mapping, header, defaults, scan, country_map_sql(con)), ""
    if compare:
        # Newer revision time wins; equal or older is ignored. Without revision times, changed content wins.
        staged = (
            f"SELECT s.*, CASE WHEN c.incident_id IS NULL THEN 'insert' "
            f"WHEN s.source_updated_at IS NOT NULL AND c.ts IS NOT NULL THEN "
            f"  CASE WHEN s.source_updated_at > c.ts THEN 'update' ELSE 'unchanged' END "
            f"WHEN c.del THEN 'unchanged' WHEN s.row_hash IS DISTINCT FROM c.hash THEN 'update' "
            f"ELSE 'unchanged' END AS _action, c.first_ingested_at AS _first_seen FROM ({staged}) s "
            f"LEFT JOIN (SELECT incident_id, source_updated_at AS ts, row_hash AS hash, is_deleted AS del, "
            f"first_ingested_at FROM incident_current WHERE source = {literal(mapping.name)}) c USING (incident_id)")
        extra = ", _action, _first_seen, " + ", ".join(
            f"CASE WHEN _action <> 'unchanged' THEN {c} END AS _p_{c}" for c in upsert.PAYLOAD)
        # DuckDB underestimates the CSV scan; keep the hash table on the warehouse side, never on the file.
        con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {checked} AS SELECT _rec, {light}, {texts}, country_iso3, incident_id, "
            f"row_hash, CAST(NULL AS VARCHAR) AS _reason{extra} FROM ({staged})"
        )
    except duckdb.InvalidInputException as exc:
        raise IngestRefused(f"{path}: cannot be read as CSV ({str(exc).splitlines()[0][:200]}; mixed line "
                            f"endings or unbalanced quotes?)") from exc
    # Not in a `finally`: after a failed statement the transaction is aborted and even RESET fails, hiding
    # the real error; ingest_file resets it again after the rollback.
    con.execute("RESET disabled_optimizers")
    row_checks.resolve_late_countries(con, checked)
    return malformed
