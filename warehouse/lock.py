"""One writer at a time: an OS file lock beside the warehouse, held for the length of a writer flow."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_held: dict[str, int] = {}
_guard = threading.Lock()


class WriterBusy(RuntimeError):
    """Another riskwatch writer (ingest, refresh, alert, report run) holds the warehouse."""


def lock_path(warehouse: str | Path) -> Path:
    return Path(str(warehouse) + ".lock")


@contextmanager
def writer_lock(warehouse: str | Path, timeout: float = 0.0) -> Iterator[None]:
    """Hold the warehouse's writer lock; re-entrant within one process (a flow and its subflows)."""
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
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise WriterBusy(
                    f"another riskwatch run is writing {warehouse} (lock {path}); try again later") from None
            time.sleep(0.5)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    with _guard:
        _held[key] = 1
    try:
        yield
    finally:
        with _guard:
            del _held[key]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
