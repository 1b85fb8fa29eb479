"""`riskwatch run` with a step failing (SMTP down for the weekly report): a summary of what the steps
before it did and which failed, exit 1, a short stderr with no traceback. Real Prefect, real SMTP refusal."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import SAMPLE


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_smtp_down_in_run_prints_the_steps_and_exits_1(prefect_harness, tmp_path):
    """Against the session's Prefect test server (PREFECT_API_URL): starting a temporary server of its own costs
    the run tens of seconds, and tests/robustness/test_run_signals.py covers that server."""
    from prefect.settings import PREFECT_API_URL

    inbox = tmp_path / "inbox" / "curated"
    inbox.mkdir(parents=True)
    shutil.copyfile(SAMPLE / "curated_pakistan_acled.csv", inbox / "curated_pakistan_acled.csv")
    (tmp_path / "riskwatch.toml").write_text("[pipeline]\nemail_retries = 0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_API_URL=PREFECT_API_URL.value(),
               RISKWATCH_SMTP_HOST="127.0.0.1", RISKWATCH_SMTP_PORT=str(closed_port()),
               RISKWATCH_REPORT_TO="analysts@example.org", RISKWATCH_ALERT_TO="analysts@example.org")
    # The console script, as an operator runs it (`python -m` would put the run folder, with its reports/
    # output folder, first on sys.path, shadowing the reports package).
    riskwatch = str(Path(sys.executable).with_name("riskwatch"))
    out = subprocess.run([riskwatch, "--warehouse", str(tmp_path / "wh.duckdb"), "run",
                          "--as-of", "2024-11-10"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 1, out.stderr
    assert "curated_pakistan_acled.csv: success: read 97, inserted 97" in out.stdout
    assert "indicators: " in out.stdout and "alerts: " in out.stdout
    assert "steps: ingest ok, refresh ok, alerts ok, report failed" in out.stdout
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: the run failed: report failed: "), out.stderr
    assert "refused" in errors[0].lower() or "connect" in errors[0].lower(), errors[0]
    assert len(out.stderr.strip().splitlines()) < 40, out.stderr
