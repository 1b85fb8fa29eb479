"""Opening the warehouse: one DuckDB file, migrations applied once, friendly errors on locks."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from riskwatch.settings import Lake, load_settings

FROM_SETTINGS = object()   # db.connect's default `lake`: ask the settings


class WarehouseBusy(RuntimeError):
    """Another process holds the write lock on the DuckDB file."""


class WarehouseMissing(RuntimeError):
    """A read-only open of a warehouse that was never created."""


class NotAWarehouse(RuntimeError):
    """The warehouse path holds a file that is not a DuckDB database (a CSV given as --warehouse, ...)."""


def ensure_duckdb_file(path: Path) -> None:
    """NotAWarehouse when `path` exists and is not a DuckDB file.

    DuckDB files carry the magic bytes DUCK at offset 8. Checked before connecting because DuckDB may
    open some other files (a CSV) without complaint, and a load into them would report success and keep
    nothing.
    """
    if path.is_file():
        with path.open("rb") as fh:
            head = fh.read(12)
        if head[8:12] != b"DUCK":
            what = "an empty file" if not head else "not a DuckDB database"
            raise NotAWarehouse(f"--warehouse {path} exists and is {what}; give the warehouse's .duckdb file "
                                f"(or a new path), and the data file to `riskwatch ingest`")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every schema/NNN_*.sql file, in order."""
    found = []
    for entry in resources.files("warehouse.schema").iterdir():
        match = re.fullmatch(r"(\d{3})_(.+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations not yet recorded in schema_migrations, and the views when their text changed.

    On a lake another process may be migrating at the same moment: a conflicting commit is retried after
    re-reading what that process applied.
    """
    from warehouse import lake

    if not lake.is_lake(con):
        return _apply_migrations(con, on_lake=False)
    return lake.retrying(lambda: _apply_migrations(con, on_lake=True), attempts=5)


def _apply_migrations(con: duckdb.DuckDBPyConnection, on_lake: bool) -> list[int]:
    """Every pending migration and the views in ONE transaction: an upgrade is all or nothing, and a new lake
    is made in one catalog commit (0.5 s) instead of one per migration (4 s)."""
    from warehouse.lake import lake_ddl

    create = ("CREATE TABLE IF NOT EXISTS schema_migrations "
              "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP DEFAULT current_timestamp)")
    applied = []
    with transaction(con):
        con.execute(lake_ddl(create) if on_lake else create)
        done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
        for version, name, sql in migrations():
            if version in done:
                continue
            con.execute(lake_ddl(sql) if on_lake else sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
            applied.append(version)
        _apply_views(con)
    return applied


def _apply_views(con: duckdb.DuckDBPyConnection) -> bool:
    """Re-create the public views from schema/views.sql when its text differs from the last applied."""
    sql = resources.files("warehouse.schema").joinpath("views.sql").read_text(encoding="utf-8")
    digest = hashlib.sha256(sql.encode()).hexdigest()
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_views (sha256 VARCHAR, applied_at TIMESTAMP DEFAULT current_timestamp)"
    )
    if con.execute("SELECT count(*) FROM schema_views WHERE sha256 = ?", [digest]).fetchone()[0]:
        return False
    con.execute(sql)
    con.execute("DELETE FROM schema_views")
    con.execute("INSERT INTO schema_views (sha256) VALUES (?)", [digest])
    return True


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, or ROLLBACK when the block raises (anything, KeyboardInterrupt included)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        # After a fatal error (disk full) DuckDB has already ended the transaction; a failing ROLLBACK
        # ("no transaction is active") must not hide the real cause.
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def records(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The rows of an executed query as dicts keyed by column name."""
    return [dict(zip([d[0] for d in cur.description], r, strict=True)) for r in cur.fetchall()]


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    """Run `sql` and return its rows as dicts."""
    return records(con.execute(sql, params or []))


def holder(pid: int | str | None, fallback: str = "") -> str:
    """'PID 123 (riskwatch run ...)': a process named by its command line when /proc has it."""
    if not pid:
        return fallback or "an unknown process"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = fallback
    return f"PID {pid}" + (f" ({cmd[:120]})" if cmd else "")


def _lock_holder(exc: Exception) -> str:
    """The holder DuckDB names in its lock error ("Conflicting lock is held in <program> (PID n)")."""
    match = re.search(r"held in (.*?) \(PID (\d+)\)", str(exc))
    return holder(match.group(2), match.group(1)) if match else "another process"


def _open_waiting(target: str, read_only: bool, config: dict, busy_timeout: float) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, retried with backoff (0.05 s doubling to 2 s) while another process holds the file."""
    deadline, pause = time.monotonic() + busy_timeout, 0.05
    while True:
        try:
            return duckdb.connect(target, read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() + pause > deadline:
                waited = f" after waiting {busy_timeout:g} s" if busy_timeout else ""
                raise WarehouseBusy(f"warehouse {target} is held by {_lock_holder(exc)}{waited}; try again when it "
                                    "finishes ([warehouse] busy_timeout_seconds sets the wait)") from exc
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
    recover: bool = True,
    busy_timeout: float = 0.0,
    temp_directory: str | Path | None = None,
    lake: Lake | None | object = FROM_SETTINGS,
    snapshot_version: int | None = None,
    snapshot_time: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open (and, when writable, create, migrate and repair interrupted loads of) the warehouse at `path`.

    `:memory:` gives a throwaway embedded warehouse, handy in tests. While another process holds the file,
    waits up to `busy_timeout` seconds, then raises WarehouseBusy naming the holder. `lake`: the DuckLake to
    open instead of the file (default: what the settings say for `path`, see riskwatch.settings.Settings.lake);
    `snapshot_version` / `snapshot_time` open a lake read-only as it was then (time travel).
    """
    if lake is FROM_SETTINGS:
        lake = None if str(path) == ":memory:" else load_settings(path).lake
    config: dict[str, str | int] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    if temp_directory:
        config["temp_directory"] = str(temp_directory)
    if isinstance(lake, Lake):
        return _connect_lake(lake, read_only, config, recover, snapshot_version, snapshot_time)
    target = str(path)
    if target != ":memory:":
        p = Path(target)
        if read_only and not p.exists():
            raise WarehouseMissing(f"no warehouse at {p}: run `riskwatch ingest` or `riskwatch demo` first")
        if not read_only:
            p.parent.mkdir(parents=True, exist_ok=True)
        ensure_duckdb_file(p)
    replayed = target != ":memory:" and not read_only and Path(f"{target}.wal").exists()
    con = _open_waiting(target, read_only, config, busy_timeout)
    if not read_only:
        if replayed:
            # DuckDB replayed a WAL a crash left behind; a write plus CHECKPOINT makes that state durable
            # in the file before recovery judges it.
            # A .wal beside the file can also belong to another connection of this same process (one DuckDB
            # instance per file and process): then nothing was replayed and its open transaction must stay.
            try:
                con.execute("CREATE TABLE _wal_replayed (i INTEGER); DROP TABLE _wal_replayed; CHECKPOINT")
            except duckdb.TransactionException:
                pass
        _clear_stale_spill(Path(f"{target}.tmp") if not temp_directory else Path(temp_directory))
        apply_migrations(con)
        if recover:
            from warehouse.recovery import recover as repair

            done = repair(con)
            if done.published or done.undone:
                logging.getLogger("riskwatch").warning("%s: %s", target, done.summary())
    return con


def _connect_lake(lake: Lake, read_only: bool, config: dict, recover: bool, snapshot_version: int | None,
                  snapshot_time: str | None) -> duckdb.DuckDBPyConnection:
    from warehouse import lake as lakes

    past = snapshot_version is not None or bool(snapshot_time)
    try:
        con = lakes.connect(lake, read_only=read_only or past, config=config, snapshot_version=snapshot_version,
                            snapshot_time=snapshot_time)
    except lakes.LakeError as exc:
        if read_only and str(exc).startswith("no lake"):
            raise WarehouseMissing(str(exc)) from exc
        raise
    if not (read_only or past):
        apply_migrations(con)
        if recover:
            from warehouse.recovery import recover as repair

            done = repair(con)
            if done.published or done.undone:
                logging.getLogger("riskwatch").warning("lake %s: %s", lake.metadata_schema, done.summary())
    return con


def _clear_stale_spill(folder: Path) -> None:
    """Remove DuckDB's spill files of a killed writer: with the file lock ours, nobody else spills there."""
    if folder.is_dir():
        for f in folder.iterdir():
            if f.is_file():
                f.unlink(missing_ok=True)
