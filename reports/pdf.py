"""The weekly report as PDF, printed by headless Chromium when it is installed."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import duckdb

from reports.weekly import ReportResult

log = logging.getLogger(__name__)


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if found := shutil.which(name):
            return found
    return None


def chromium(args: list[str], timeout: float = 90) -> None:
    """Run headless Chromium with the given extra arguments (RuntimeError when it fails)."""
    exe = chromium_path()
    if exe is None:
        raise RuntimeError("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="riskwatch-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={profile}", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")


def write_pdf(html_path: str | Path, pdf_path: str | Path | None = None) -> Path | None:
    """Print the report to PDF with headless Chromium; None (and a log line) when Chromium is absent."""
    html_path = Path(html_path).resolve()
    target = Path(pdf_path) if pdf_path else html_path.with_suffix(".pdf")
    if chromium_path() is None:
        log.warning("chromium not found: no PDF of %s", html_path.name)
        return None
    chromium([f"--print-to-pdf={target.resolve()}", "--no-pdf-header-footer", html_path.as_uri()])
    if not target.is_file() or target.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no PDF at {target}")
    return target


def attach_pdf(con: duckdb.DuckDBPyConnection, result: ReportResult, pdf: Path) -> None:
    result.pdf_path = pdf
    if result.report_id is not None:
        con.execute("UPDATE reports SET pdf_path = ? WHERE report_id = ?", [str(pdf.resolve()), result.report_id])
