"""Loading a file: stage through its source mapping, quarantine bad rows, upsert by (source, id).

One file = one transaction: all of it or nothing. Superseded versions move to incident_history.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from warehouse import readfile
from warehouse.canonical import COLUMNS, CONTENT
from warehouse.countries import resolve_new_names
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def row_checks() -> list[dict[str, str]]:
    return yaml.safe_load(_CHECKS.read_text(encoding="utf-8"))["row_checks"]


def reason_sql(as_of: dt.date) -> str:
    whens = []
    for check in row_checks():
        fails = check["fails"].replace("{as_of}", as_of.isoformat())
        message = check["message"].replace("{as_of}", as_of.isoformat())
        label = literal(f"{check['expectation']}({check['column']}): ")
        whens.append(f"WHEN coalesce({fails}, false) THEN {label} || coalesce({message}, '?')")
    return "CASE " + " ".join(whens) + " END"


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
    sha = readfile.sha256_of(path)
    started = _now(con)
    run = IngestResult(run_id=0, file=str(path), source=mapping.name, kind=kind, status="running")
    previous = con.execute(
        "SELECT run_id, finished_at FROM ingest_runs WHERE sha256 = ? AND source = ? AND status = 'success' "
        "ORDER BY run_id DESC LIMIT 1",
        [sha, mapping.name],
    ).fetchone()
    if previous and not force:
        run.status = "skipped"
        run.message = f"already ingested by run {previous[0]} at {previous[1]:%Y-%m-%d %H:%M}: nothing changed"
        run.run_id = _record_run(con, run, sha, started)
        return run
    con.execute("BEGIN TRANSACTION")
    try:
        run.run_id = _record_run(con, run, sha, started)
        tag = f"{run.run_id}_{next(_tags)}"
        if kind == "deletions":
            _load_deletions(con, path, header, mapping, run, tag, started)
        else:
            _load_events(con, path, header, mapping, run, tag, started, as_of or dt.date.today(), defaults,
                         max_reject_fraction)
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
    return run


def _record_run(con, run: IngestResult, sha: str, started: dt.datetime) -> int:
    return con.execute(
        "INSERT INTO ingest_runs (file, sha256, source, kind, started_at, finished_at, status, message) "
        "VALUES (?, ?, ?, ?, ?, CASE WHEN ? <> 'running' THEN CAST(current_timestamp AS TIMESTAMP) END, ?, ?) "
        "RETURNING run_id",
        [run.file, sha, run.source, run.kind, started, run.status, run.status, run.message],
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


def _load_events(con, path, header, mapping: Mapping, run, tag, now, as_of, defaults, max_reject_fraction) -> None:
    cols, malformed = readfile.load_raw(con, path, "_raw", tag, header)
    con.execute(f"CREATE TEMP TABLE _stage AS SELECT {stage_projection(mapping, cols, defaults)} "
                f"FROM (SELECT {clean_projection(mapping, cols)} FROM _raw)")
    resolve_new_names(con, "SELECT country FROM _stage")
    con.execute(
        f"CREATE TEMP TABLE _checked AS SELECT s.*, cn.iso3 AS country_iso3, "
        f"coalesce({reason_sql(as_of)}, CASE WHEN row_number() OVER (PARTITION BY s.source_event_id "
        f"ORDER BY s.source_updated_at DESC NULLS LAST, s._rec) > 1 THEN "
        f"'expect_column_values_to_be_unique(source_event_id): id ''' || s.source_event_id || "
        f"''' appears again earlier in the file with a newer or equal revision; that one is kept' END) AS _reason "
        f"FROM _stage s LEFT JOIN country_names cn ON cn.name = s.country"
    )
    bad_rows = _quarantine(con, path, mapping.name, cols, malformed, run)
    run.rows_read = con.execute("SELECT count(*) FROM _checked").fetchone()[0] + bad_rows
    run.rejected = bad_rows + con.execute("SELECT count(*) FROM _checked WHERE _reason IS NOT NULL").fetchone()[0]
    if run.rows_read and run.rejected / run.rows_read > max_reject_fraction:
        raise IngestRefused(
            f"{path}: {run.rejected} of {run.rows_read} rows ({run.rejected / run.rows_read:.0%}) fail checks, "
            f"over the {max_reject_fraction:.0%} limit; nothing loaded (see the reasons with --dry-run or fix "
            f"the file). First: {_first_reason(con)}"
        )
    _upsert(con, mapping.name, path, run, now)


def _first_reason(con) -> str:
    row = con.execute("SELECT reason FROM _rejects ORDER BY line LIMIT 1").fetchone()
    return row[0] if row else "?"


def _quarantine(con, path, source, cols, malformed, run) -> int:
    """Write rejected rows with reason, file, source line and raw text; return the malformed count."""
    skipped: dict[int, tuple[str, str]] = {}
    if malformed:
        for line, csv_line, err in con.execute(
            f"SELECT line, csv_line, error_type || ': ' || error_message FROM {malformed}"
        ).fetchall():
            skipped[int(line)] = (csv_line.strip("\r\n"), err.splitlines()[0][:300])
    bad = con.execute("SELECT _rec FROM _checked WHERE _reason IS NOT NULL").fetchall()
    lines = readfile.source_lines(path, {r for (r,) in bad}, set(skipped))
    con.execute("CREATE TEMP TABLE _lines (rec BIGINT, line BIGINT)")
    if lines:
        con.executemany("INSERT INTO _lines VALUES (?, ?)", list(lines.items()))
    raw_json = "to_json(struct_pack(" + ", ".join(f"{ident(c)} := r.{ident(c)}" for c in cols) + "))"
    con.execute(
        f"CREATE TEMP TABLE _rejects AS SELECT coalesce(l.line, c._rec + 1) AS line, c._reason AS reason, "
        f"CAST({raw_json} AS VARCHAR) AS raw FROM _checked c JOIN _raw r USING (_rec) "
        f"LEFT JOIN _lines l ON l.rec = c._rec WHERE c._reason IS NOT NULL"
    )
    if skipped:
        con.executemany(
            "INSERT INTO _rejects VALUES (?, ?, ?)",
            [(line, f"malformed CSV row: {err}", raw) for line, (raw, err) in skipped.items()],
        )
    # A corrected re-export can repeat an old bad row: keep one record of each rejection.
    con.execute(
        "INSERT INTO rejected_rows SELECT ?, ?, r.line, r.reason, r.raw, ?, CAST(current_timestamp AS TIMESTAMP) "
        "FROM _rejects r WHERE NOT EXISTS (SELECT 1 FROM rejected_rows x WHERE x.source = ? AND x.file = ? "
        "AND x.line = r.line AND x.reason = r.reason AND x.raw IS NOT DISTINCT FROM r.raw)",
        [source, str(path), run.run_id, source, str(path)],
    )
    return len(skipped)


def _hash_sql(prefix: str = "") -> str:
    parts = ", ".join(f"coalesce(CAST({prefix}{c} AS VARCHAR), '\x01')" for c in CONTENT)
    return f"md5(concat_ws('\x1f', {parts}))"


def _upsert(con, source: str, path: Path, run: IngestResult, now: dt.datetime) -> None:
    data_cols = [c for c in COLUMNS] + ["country_iso3", "extra"]
    ints = {c for c, t in COLUMNS.items() if t == "INTEGER"}
    select = ", ".join(f"CAST({c} AS INTEGER) AS {c}" if c in ints else c for c in data_cols)
    con.execute(
        f"CREATE TEMP TABLE _good AS SELECT {literal(source)} || ':' || source_event_id AS incident_id, "
        f"{literal(source)} AS source, {select}, _rec FROM _checked WHERE _reason IS NULL"
    )
    con.execute(f"ALTER TABLE _good ADD COLUMN row_hash VARCHAR; UPDATE _good SET row_hash = {_hash_sql()}")
    # Newer revision time wins; equal or older is ignored. Without revision times, changed content wins.
    con.execute(
        "CREATE TEMP TABLE _diff AS SELECT g.incident_id, CASE "
        "WHEN c.incident_id IS NULL THEN 'insert' "
        "WHEN g.source_updated_at IS NOT NULL AND c.source_updated_at IS NOT NULL THEN "
        "  CASE WHEN g.source_updated_at > c.source_updated_at THEN 'update' ELSE 'unchanged' END "
        "WHEN c.is_deleted THEN 'unchanged' "
        "WHEN g.row_hash <> c.row_hash THEN 'update' ELSE 'unchanged' END AS action, "
        "c.first_ingested_at FROM _good g LEFT JOIN incident_current c USING (incident_id)"
    )
    counts = dict(con.execute("SELECT action, count(*) FROM _diff GROUP BY action").fetchall())
    run.inserted, run.updated, run.unchanged = (counts.get(k, 0) for k in ("insert", "update", "unchanged"))
    if run.updated:
        _supersede(con, "SELECT incident_id FROM _diff WHERE action = 'update'", now)
    if run.inserted or run.updated:
        cols = ", ".join(data_cols)
        con.execute(
            f"INSERT INTO incident_current (incident_id, source, {cols}, row_hash, is_deleted, first_ingested_at, "
            f"valid_from, ingest_run_id, source_file, source_line) "
            f"SELECT g.incident_id, g.source, {', '.join('g.' + c for c in data_cols)}, g.row_hash, false, "
            f"coalesce(d.first_ingested_at, $now), $now, $run, $file, g._rec + 1 "
            f"FROM _good g JOIN _diff d USING (incident_id) WHERE d.action IN ('insert', 'update')",
            {"now": now, "run": run.run_id, "file": str(path)},
        )
    run.message = _summary(run)


def _supersede(con, ids_sql: str, now: dt.datetime) -> None:
    """Move the current versions of `ids_sql` to incident_history, closed at `now`."""
    con.execute(
        f"INSERT INTO incident_history SELECT *, $now AS valid_to FROM incident_current "
        f"WHERE incident_id IN ({ids_sql})",
        {"now": now},
    )
    con.execute(f"DELETE FROM incident_current WHERE incident_id IN ({ids_sql})")


def _load_deletions(con, path: Path, header: list[str], mapping: Mapping, run: IngestResult, tag: str,
                    now: dt.datetime) -> None:
    dele = mapping.deletions
    cols, _ = readfile.load_raw(con, path, "_raw", tag, header)
    deleted_at = stage_projection(
        Mapping(name="d", columns={"source_event_id": dele.id, "source_updated_at": dele.deleted_at}), cols
    )
    con.execute(f"CREATE TEMP TABLE _del AS SELECT {literal(mapping.name)} || ':' || source_event_id AS incident_id, "
                f"source_updated_at AS deleted_at FROM (SELECT {deleted_at} FROM _raw)")
    run.rows_read = con.execute("SELECT count(*) FROM _del").fetchone()[0]
    con.execute(
        "CREATE TEMP TABLE _gone AS SELECT c.incident_id, max(d.deleted_at) AS deleted_at FROM incident_current c "
        "JOIN _del d USING (incident_id) WHERE NOT c.is_deleted AND d.deleted_at IS NOT NULL AND "
        "(c.source_updated_at IS NULL OR c.source_updated_at < d.deleted_at) GROUP BY c.incident_id"
    )
    run.deleted = con.execute("SELECT count(*) FROM _gone").fetchone()[0]
    run.rejected = con.execute("SELECT count(*) FROM _del WHERE deleted_at IS NULL").fetchone()[0]
    run.unchanged = run.rows_read - run.deleted - run.rejected
    if run.deleted:
        con.execute("CREATE TEMP TABLE _tomb AS SELECT c.* REPLACE (true AS is_deleted, g.deleted_at AS "
                    "source_updated_at, $now AS valid_from, $run AS ingest_run_id) FROM incident_current c "
                    "JOIN _gone g USING (incident_id)", {"now": now, "run": run.run_id})
        _supersede(con, "SELECT incident_id FROM _gone", now)
        con.execute("INSERT INTO incident_current SELECT * FROM _tomb")
    run.message = _summary(run)


def _summary(run: IngestResult) -> str:
    return (f"read {run.rows_read}, inserted {run.inserted}, updated {run.updated}, unchanged {run.unchanged}, "
            f"rejected {run.rejected}" + (f", deleted {run.deleted}" if run.kind == "deletions" else ""))
