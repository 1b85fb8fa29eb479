"""Batch-level checks on a staged file: a batch that fails one is refused whole."""

from __future__ import annotations

from warehouse.readfile import IngestRefused


def _first_reason(con) -> str:
    row = con.execute("SELECT reason FROM _rejects ORDER BY line LIMIT 1").fetchone()
    return row[0] if row else "?"


def check_batch(con, path, run, *, max_reject_fraction: float) -> None:
    """Raise IngestRefused when the staged batch (`_checked`, `_rejects`) must not load."""
    if run.rows_read and run.rejected / run.rows_read > max_reject_fraction:
        raise IngestRefused(
            f"{path}: {run.rejected} of {run.rows_read} rows ({run.rejected / run.rows_read:.0%}) fail checks, "
            f"over the {max_reject_fraction:.0%} limit; nothing loaded. First: {_first_reason(con)}"
        )
