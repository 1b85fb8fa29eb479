"""Warehouse upkeep: on a lake, DuckLake's maintenance calls with the numbers they changed; on the embedded
file, a CHECKPOINT (nothing to merge or expire there).

DuckLake never deletes a data file by itself: every small ingest adds Parquet files (or inlined rows in the
catalog), every upsert delete files, every commit a snapshot that keeps the old files alive for time travel.
The order is DuckLake's own CHECKPOINT order (ducklake.select, "Checkpoint"): flush inlined rows, expire
snapshots past the retention, merge adjacent small files, rewrite files that are mostly deleted rows, then
delete the files scheduled for deletion and the orphaned ones (a killed writer's) once they are older than
the grace period, since a reader that started before may still be scanning them.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from warehouse import lake


@dataclass
class Maintenance:
    backend: str
    data_files_before: int = 0
    data_files_after: int = 0
    delete_files_before: int = 0
    delete_files_after: int = 0
    bytes_before: int = 0           # live data + delete files (lake) / the DuckDB file and its WAL (embedded)
    bytes_after: int = 0
    snapshots_before: int = 0
    snapshots_expired: int = 0
    snapshots_after: int = 0
    rows_flushed: int = 0           # inlined rows written out to Parquet
    files_merged: int = 0           # small files read by merge_adjacent_files ...
    files_merged_into: int = 0      # ... and the files they became
    files_rewritten: int = 0        # files with mostly deleted rows, rewritten without them
    files_deleted: int = 0          # scheduled-for-deletion and orphaned files removed from the data path
    bytes_deleted: int = 0
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def markdown(self, title: str) -> str:
        rows = [("data files", self.data_files_before, self.data_files_after),
                ("delete files", self.delete_files_before, self.delete_files_after),
                ("bytes", self.bytes_before, self.bytes_after),
                ("snapshots", self.snapshots_before, self.snapshots_after)]
        lines = [f"# {title}", "", f"backend: {self.backend}. {self.note}", "", "| | before | after |", "|---|---|---|"]
        lines += [f"| {name} | {before:,} | {after:,} |" for name, before, after in rows]
        lines += ["", "| step | result |", "|---|---|",
                  f"| flush inlined data | {self.rows_flushed:,} row(s) written to Parquet |",
                  f"| expire snapshots | {self.snapshots_expired:,} expired |",
                  f"| merge adjacent files | {self.files_merged:,} file(s) merged into {self.files_merged_into:,} |",
                  f"| rewrite data files | {self.files_rewritten:,} file(s) rewritten without deleted rows |",
                  f"| clean up old and orphaned files | {self.files_deleted:,} file(s), {self.bytes_deleted:,} bytes "
                  "deleted |"]
        return "\n".join(lines)


def maintain(con: duckdb.DuckDBPyConnection, snapshot_retention_days: float, file_grace_hours: float) -> Maintenance:
    """Run the upkeep on `con`'s warehouse (the embedded file needs the writer lock held: CHECKPOINT)."""
    if not lake.is_lake(con):
        return _checkpoint(con)
    ago = lambda **delta: dt.datetime.now(dt.UTC) - dt.timedelta(**delta)  # noqa: E731  (each step's own now)
    out = Maintenance(backend="ducklake", note=f"Snapshots older than {snapshot_retention_days:g} day(s) expired; "
                                               f"files unused for {file_grace_hours:g} hour(s) deleted.")
    out.data_files_before, out.delete_files_before, out.bytes_before = _files(con)
    out.snapshots_before = _snapshots(con)
    name = lake.ALIAS
    out.rows_flushed = _sum(con, f"CALL ducklake_flush_inlined_data('{name}')", "rows_flushed")
    out.snapshots_expired = len(_call(con, f"CALL ducklake_expire_snapshots('{name}', older_than => ?)",
                                      [ago(days=snapshot_retention_days)]))
    merged = _call(con, f"CALL ducklake_merge_adjacent_files('{name}')")
    out.files_merged = sum(r["files_processed"] for r in merged)
    out.files_merged_into = sum(r["files_created"] for r in merged)
    out.files_rewritten = _sum(con, f"CALL ducklake_rewrite_data_files('{name}')", "files_processed")
    for function in ("ducklake_cleanup_old_files", "ducklake_delete_orphaned_files"):
        sql = f"CALL {function}('{name}', older_than => ?, dry_run => ?)"
        delete_before = ago(hours=file_grace_hours)
        sizes = {r["path"]: _size(r["path"]) for r in _call(con, sql, [delete_before, True])}
        deleted = [r["path"] for r in _call(con, sql, [delete_before, False])]
        out.files_deleted += len(deleted)
        out.bytes_deleted += sum(sizes.get(p, 0) for p in deleted)
    out.data_files_after, out.delete_files_after, out.bytes_after = _files(con)
    out.snapshots_after = _snapshots(con)
    return out


def _checkpoint(con: duckdb.DuckDBPyConnection) -> Maintenance:
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    size = lambda: sum(_size(p) for p in (path, f"{path}.wal")) if path else 0  # noqa: E731
    out = Maintenance(backend="duckdb", data_files_before=1, data_files_after=1, bytes_before=size(),
                      note="An embedded DuckDB file has no small files or snapshots to expire: CHECKPOINT "
                           "folded its write-ahead log into it.")
    con.execute("CHECKPOINT")
    out.bytes_after = size()
    return out


def _call(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    """One maintenance call; retried when a concurrent writer's commit conflicts with it."""
    for attempt in range(5):
        try:
            cur = con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except duckdb.TransactionException as exc:
            if not lake.conflict(exc) or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _sum(con: duckdb.DuckDBPyConnection, sql: str, column: str) -> int:
    return int(sum(r[column] for r in _call(con, sql)))


def _files(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    row = con.execute(f"SELECT coalesce(sum(file_count), 0), coalesce(sum(delete_file_count), 0), "
                      f"coalesce(sum(file_size_bytes + delete_file_size_bytes), 0) "
                      f"FROM ducklake_table_info('{lake.ALIAS}')").fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def _snapshots(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"SELECT count(*) FROM ducklake_snapshots('{lake.ALIAS}')").fetchone()[0]


def _size(path: str) -> int:
    """A local file's size (0 when gone or on an object store, where DuckLake's listing has no sizes)."""
    try:
        return os.stat(Path(path)).st_size if "://" not in path else 0
    except OSError:
        return 0
