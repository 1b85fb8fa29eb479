"""One writer at a time: an OS file lock beside the warehouse, held for the length of a writer flow."""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warehouse.db import holder

_held: dict[str, int] = {}
_guard = threading.Lock()


class WriterBusy(RuntimeError):
    """Another riskwatch writer (ingest, refresh, alert, report run) holds the warehouse."""


def lock_path(warehouse: str | Path) -> Path:
    return Path(str(warehouse) + ".lock")


@contextmanager
def writer_lock(warehouse: str | Path, timeout: float = 0.0, lake: object = None) -> Iterator[None]:
    """Hold the warehouse's writer lock; re-entrant within one process (a flow and its subflows).

    While another process holds it, waits up to `timeout` seconds (backoff 0.05 s doubling to 2 s), then
    raises WriterBusy naming the holder (its PID and command line). On a lake (`lake` given) there is no
    lock: writers commit side by side and DuckLake makes the one whose commit conflicts retry.
    """
    if lake is not None:
        yield
        return
    key = str(Path(warehouse).resolve())
    with _guard:
        if key in _held:
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _guard:
                _held[key] -= 1
        return
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline, pause = time.monotonic() + timeout, 0.05
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() + pause > deadline:
                os.close(fd)
                waited = f" after waiting {timeout:g} s" if timeout else ""
                raise WriterBusy(f"another riskwatch writer, {holder(_pid_in(path))}, is writing {warehouse} (lock "
                                 f"{path}){waited}; try again when it finishes") from None
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    clear_stale_temp(warehouse)
    with _guard:
        _held[key] = 1
    try:
        yield
    finally:
        with _guard:
            del _held[key]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _pid_in(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def clear_stale_temp(warehouse: str | Path) -> None:
    """With the writer lock ours: remove a snapshot copy a killed writer left half-written, and the spill
    folders of readers that are gone (`<warehouse>.reader-<pid>.tmp`, see snapshot.reader_temp_dir)."""
    Path(f"{warehouse}.snapshot.tmp").unlink(missing_ok=True)
    base = Path(warehouse)
    for folder in base.parent.glob(f"{glob.escape(base.name)}.reader-*.tmp"):
        pid = folder.name.rsplit("-", 1)[-1].removesuffix(".tmp")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)
