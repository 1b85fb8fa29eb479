"""The Prefect flows on the bundled sample: the whole pipeline, twice, through a real (test) Prefect API."""

from __future__ import annotations

import email
import json
from pathlib import Path

import duckdb
import pytest

from flows.demo import DEMO_AS_OF, SAMPLE_FILES
from flows.schedules import inventory
from riskwatch.settings import load_settings
from tests.conftest import ROOT
from warehouse import db
from warehouse.lock import writer_lock


@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("RISKWATCH_SMTP_HOST", "RISKWATCH_OUTBOX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RISKWATCH_ALERT_TO", "analysts@example.org")
    monkeypatch.setenv("RISKWATCH_REPORT_TO", "desk@example.org")
    monkeypatch.setenv("RISKWATCH_CONFIG", str(ROOT / "riskwatch.toml"))
    return tmp_path


def indicator_rows(path: Path) -> list[tuple]:
    con = db.connect(path, read_only=True)
    try:
        return con.execute("SELECT indicator, series, grain, period_start, value, is_complete "
                           "FROM indicator_values ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_pipeline_twice_second_run_ingests_and_sends_nothing(prefect_harness, demo_env):
    from flows.pipeline import pipeline

    wh = str(demo_env / "wh.duckdb")
    first = pipeline(warehouse=wh, as_of=DEMO_AS_OF, files=SAMPLE_FILES)
    assert [r["status"] for r in first["ingested"]] == ["success", "success"]
    assert first["alerts"]["new"] >= 1 and first["alerts"]["sent"] >= 1
    outbox = sorted((demo_env / "reports" / "outbox").glob("*.eml"))
    critical = [email.message_from_bytes(p.read_bytes()) for p in outbox]
    subjects = [m["Subject"] for m in critical]
    assert any("[riskwatch CRITICAL] Attacks on Chinese nationals (PAK): 2 in 2024-Q4" in s for s in subjects), subjects
    values_after_first = indicator_rows(Path(wh))
    report = Path(first["report"]["path"])
    html = (demo_env / report if not report.is_absolute() else report).read_text(encoding="utf-8")
    assert "2024-11-04" in html or "4 November 2024" in html or "4–10 November 2024" in html
    assert "<svg" in html

    from prefect.artifacts import Artifact

    summary = Artifact.get("riskwatch-run-summary")
    assert summary is not None and "rows ingested | 5931 inserted" in summary.data
    assert "Attacks on Chinese nationals" in str(Artifact.get("riskwatch-new-alerts").data)

    second = pipeline(warehouse=wh, as_of=DEMO_AS_OF, files=SAMPLE_FILES)
    assert [r["status"] for r in second["ingested"]] == ["skipped", "skipped"]
    assert second["refresh"]["indicators"]["indicators"]["mode"] == "unchanged"
    assert (second["alerts"]["new"], second["alerts"]["escalated"], second["alerts"]["sent"]) == (0, 0, 0)
    assert sorted((demo_env / "reports" / "outbox").glob("*.eml")) == outbox
    assert indicator_rows(Path(wh)) == values_after_first


@pytest.mark.embedded_only("the OS lock beside the warehouse file")
def test_writer_lock_excludes_a_second_writer_but_not_readers(tmp_path):
    wh = tmp_path / "wh.duckdb"
    duckdb.connect(str(wh)).close()
    with writer_lock(wh):
        with writer_lock(wh):   # a subflow of the same run: re-entrant
            pass
        import subprocess
        import sys
        code = ("from warehouse.lock import writer_lock, WriterBusy\n"
                f"try:\n    with writer_lock({str(wh)!r}):\n        print('got it')\n"
                "except WriterBusy as e:\n    print('busy')\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert out.stdout.strip() == "busy"
        duckdb.connect(str(wh), read_only=True).close()
    with writer_lock(wh):   # released after the first holder left
        pass


def test_schedule_inventory_snapshot():
    """A schedule change is a visible diff: update tests/flows/schedules.json with it."""
    settings = load_settings(config_path=ROOT / "riskwatch.toml", environ={})
    expected = json.loads((Path(__file__).parent / "schedules.json").read_text())
    got = [{**d, "parameters": list(d["parameters"])} for d in inventory(settings)]
    assert got == expected


def test_runner_deployments_build_with_timezone():
    from flows.schedules import runner_deployments

    settings = load_settings(config_path=ROOT / "riskwatch.toml", environ={})
    built = runner_deployments(settings)
    assert [d.name for d in built] == ["daily-ingest-refresh-alert", "weekly-report", "weekly-maintenance"]
    weekly = built[1].schedules[0].schedule
    assert (weekly.cron, weekly.timezone) == ("0 7 * * 1", "Asia/Karachi")
