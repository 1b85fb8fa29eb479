"""Readers read a snapshot, never the warehouse file, so no reader can make a writer fail.

DuckDB lets one process write a file and nobody else open it meanwhile (a read-only open blocks writers
too). Every writer (flow tasks and CLI commands) publishes a copy, `<warehouse>.snapshot`, when it closes
the warehouse; readers (`riskwatch sql`, `alerts list`) open that copy read-only and say how old it is.
A reader finding the snapshot missing or older than the warehouse refreshes it, but only while no writer
holds the writer lock (a copy of a file being written would be torn); otherwise it reads the older one.
Readers spill to their own folder (`<warehouse>.reader-<pid>.tmp`), removed when they exit.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import shutil
from pathlib import Path

import duckdb

from warehouse import db
from warehouse.lock import WriterBusy, writer_lock

log = logging.getLogger("riskwatch")


class SnapshotError(OSError):
    """The snapshot could not be written (disk full, permissions); the warehouse itself is untouched."""


def snapshot_path(warehouse: str | Path) -> Path:
    return Path(str(warehouse) + ".snapshot")


def publish_snapshot(warehouse: str | Path) -> Path | None:
    """Copy the closed warehouse file atomically; None when there is nothing (consistent) to copy.

    Call with the warehouse closed and the writer lock held. A leftover .wal means the file alone is not
    the committed state (the next writer replays it), so the old snapshot stays.
    """
    src = Path(warehouse)
    if not src.is_file() or Path(f"{src}.wal").exists():
        return None
    dst = snapshot_path(src)
    tmp = dst.with_name(dst.name + ".tmp")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SnapshotError(f"cannot write the read snapshot {dst}: {exc.strerror or exc} (the warehouse is "
                            "intact; readers keep the previous snapshot)") from exc
    return dst


def publish_quietly(warehouse: str | Path, lake: object = None) -> Path | None:
    """publish_snapshot for the end of a writer: a failure is a warning, never the writer's failure.

    Nothing to do on a lake (`lake` given): readers read its latest snapshot directly."""
    if lake is not None:
        return None
    try:
        return publish_snapshot(warehouse)
    except SnapshotError as exc:
        log.warning("%s", exc)
        return None


def _stale(warehouse: Path, snap: Path) -> bool:
    return not snap.is_file() or snap.stat().st_mtime_ns < warehouse.stat().st_mtime_ns


def reader_temp_dir(warehouse: str | Path) -> Path:
    return Path(f"{warehouse}.reader-{os.getpid()}.tmp")


def open_snapshot(warehouse: str | Path) -> tuple[duckdb.DuckDBPyConnection, str, bool]:
    """(read-only connection to the snapshot, one line saying how old its data is, whether it holds
    everything the warehouse holds now)."""
    wh = Path(warehouse)
    if not wh.is_file():
        raise db.WarehouseMissing(f"no warehouse at {wh}: run `riskwatch ingest` or `riskwatch demo` first")
    db.ensure_duckdb_file(wh)       # never copy a CSV (or anything else) into a "snapshot"
    snap = snapshot_path(wh)
    writing = False
    if _stale(wh, snap):
        try:
            with writer_lock(wh):
                publish_snapshot(wh)
        except WriterBusy:
            writing = True
        except SnapshotError as exc:
            if not snap.is_file():
                raise
            log.warning("%s", exc)
    if not snap.is_file():
        if Path(f"{wh}.wal").exists() and not writing:
            raise db.WarehouseBusy(f"{wh} has a .wal a killed writer left: run `riskwatch doctor`, then read again")
        raise db.WarehouseBusy(f"a writer holds {wh} and no read snapshot exists yet; try again when it finishes")
    spill = reader_temp_dir(wh)
    atexit.register(shutil.rmtree, spill, ignore_errors=True)
    con = db.connect(snap, read_only=True, temp_directory=spill)
    return con, age_note(wh, snap, writing), not writing and not _stale(wh, snap)


def age_note(warehouse: Path, snap: Path, writing: bool) -> str:
    taken = dt.datetime.fromtimestamp(snap.stat().st_mtime)
    minutes = max(0, int((dt.datetime.now() - taken).total_seconds() // 60))
    note = f"data as of {taken:%Y-%m-%d %H:%M} (read snapshot of {warehouse}, {minutes} min old)"
    if writing:
        note += "; a writer is running: its changes show when it finishes"
    elif _stale(warehouse, snap):
        note += "; the warehouse changed since and could not be copied"
    return note
