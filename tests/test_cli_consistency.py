"""CLI consistency (issue 17): --version, date errors that say what is wrong, no tracebacks, `run` exits 1
when an inbox file is refused and prints where to see the flow run, all reasons of a refused file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from riskwatch.cli import cli
from tests.conftest import acled_row, riskwatch_in_process, write_csv

RISKWATCH = str(Path(sys.executable).with_name("riskwatch"))


def _riskwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([RISKWATCH, "--warehouse", str(cwd / "wh.duckdb"), *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, env={**os.environ, "NO_COLOR": "1"})


def test_version():
    done = subprocess.run([RISKWATCH, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "riskwatch 0.1.0"


@pytest.mark.parametrize(("args", "says"), [
    (["report", "--as-of", "2024-13-01"], "2024-13-01: month 13 out of range (1-12)"),
    (["report", "--as-of", "2023-02-29"], "2023-02-29: day 29 out of range for February 2023 (1-28)"),
    (["demo", "--as-of", "yesterday"], "'yesterday' is not a date: write it as YYYY-MM-DD, e.g. 2024-11-10"),
    (["backfill", "--from", "11/10/2024"], "'11/10/2024' is not a date: write it as YYYY-MM-DD"),
])
def test_date_errors_say_what_is_wrong_without_a_traceback(tmp_path, args, says):
    done = _riskwatch(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert says in done.stderr and "Traceback" not in done.stderr + done.stdout
    assert len([line for line in done.stderr.splitlines() if line.strip()]) <= 3      # click usage + the error


def test_help_shows_the_date_format_in_words():
    out = CliRunner().invoke(cli, ["report", "--help"]).output
    assert "--as-of YYYY-MM-DD" in out and "%Y" not in out


def no_traceback(done) -> None:
    """In process, a traceback would be an exception escaping the command (not SystemExit from click)."""
    assert done.exception is None or isinstance(done.exception, SystemExit), repr(done.exception)
    assert "Traceback" not in done.output


def test_refused_file_keeps_every_reason(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = [acled_row(event_id_cnty=f"PAK9{i}", event_date="2024-13-45" if i % 2 else "2024-11-01",
                      fatalities="-3" if i == 6 else "1", latitude="95" if i == 0 else "30") for i in range(10)]
    done = riskwatch_in_process(tmp_path / "wh.duckdb", "ingest", str(write_csv(tmp_path / "bad.csv", rows)),
                                "--source", "acled")
    assert done.exit_code == 1
    no_traceback(done)
    for reason in ("(event_date) (5 rows, first line 3)", "(latitude) (1 row, first line 2)",
                   "(fatalities) (1 row, first line 8)"):
        assert reason in done.stderr


def test_run_exits_1_when_an_inbox_file_is_refused_and_prints_the_flow_run(prefect_harness, tmp_path):
    """Through the installed command against the test harness's Prefect server (PREFECT_API_URL), NO_COLOR set:
    the refused file makes the exit code 1, the flow run's page is printed, Prefect's log lines carry no colour."""
    from prefect.settings import PREFECT_API_URL

    inbox = tmp_path / "inbox" / "acled"
    inbox.mkdir(parents=True)
    write_csv(inbox / "good.csv", [acled_row(event_id_cnty="PAK1", event_date="2024-11-01")])
    (inbox / "broken.csv").write_text("not,a,acled\nfile,at,all\n", encoding="utf-8")
    api = PREFECT_API_URL.value()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RISKWATCH_"))}
    done = subprocess.run([RISKWATCH, "--warehouse", str(tmp_path / "wh.duckdb"), "run", "--as-of", "2024-11-10",
                           "--no-report"], capture_output=True, text=True, timeout=400, cwd=tmp_path,
                          env={**env, "NO_COLOR": "1", "PREFECT_API_URL": api})
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "broken.csv" in out and "error: 1 input file(s) refused" in done.stderr
    assert "good.csv: success" in out
    assert f"flow run: {api.removesuffix('/api')}/runs/flow-run/" in done.stdout
    assert "Flow run" in out and "\x1b[" not in out                 # Prefect logged, without ANSI codes
    assert "Traceback" not in out


def test_validate_prints_its_checks_in_each_format(tmp_path, monkeypatch):
    """--format on every command that prints rows: validate's checks as JSON (summary lines to stderr).
    In process (CliRunner keeps stdout and stderr apart), from tmp_path as the processes ran: reports/ lands there."""
    import json

    from tests.conftest import SAMPLE

    monkeypatch.chdir(tmp_path)
    wh = tmp_path / "wh.duckdb"
    assert riskwatch_in_process(wh, "ingest", str(SAMPLE / "curated_pakistan_acled.csv"), "--source",
                                "curated").exit_code == 0
    done = riskwatch_in_process(wh, "validate", "--as-of", "2024-11-10", "--format", "json")
    checks = json.loads(done.stdout)
    assert checks and {"suite", "check", "severity", "result", "observed", "message"} == set(checks[0])
    assert "checks in" in done.stderr
    no_traceback(done)
    md = riskwatch_in_process(wh, "validate", "--as-of", "2024-11-10", "--format", "markdown").stdout
    assert md.splitlines()[0] == "| suite | check | severity | result | observed | message |"
