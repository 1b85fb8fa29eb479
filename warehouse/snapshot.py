"""A read snapshot of the warehouse, so readers are never blocked for the length of a run.

DuckDB lets one process write a file and nobody else open it meanwhile. Writer flows publish a copy
(`<warehouse>.snapshot`) after each step; `riskwatch sql` and reports fall back to it while a run
holds the file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def snapshot_path(warehouse: str | Path) -> Path:
    return Path(str(warehouse) + ".snapshot")


def publish_snapshot(warehouse: str | Path) -> Path | None:
    """Copy the (closed, checkpointed) warehouse file atomically; None when there is nothing to copy."""
    src = Path(warehouse)
    if not src.is_file():
        return None
    dst = snapshot_path(src)
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    return dst
