"""Files written all or nothing: a hidden temp file beside the target, fsynced, then renamed over it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Yield a file object; on a clean exit it replaces `target`, on an error the target is untouched.

    The temp file sits in the target's folder (os.replace is atomic only within a filesystem) and starts
    with a dot, so readers globbing for the target's pattern never see a half-written file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; reports, outbox mail and exports are shared files
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
