"""riskwatch backtest on real DuckDB warehouses: the bundled sample through the CLI, and a revised ACLED
record to show each period is judged as known at its end."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from alerts.backtest import replay, rule_table, scratch_copy, yearly_totals
from alerts.episodes import Episode, load_episodes
from indicators.definitions import Definition
from indicators.refresh import refresh
from indicators.rules import evaluate_rules
from riskwatch.cli import cli
from riskwatch.settings import load_settings
from tests.conftest import SAMPLE, acled_row, write_csv
from validation.ingest import ingest_file
from warehouse import db

WATCHED = ["PAK", "AFG", "IRN", "IND"]
CHINA = Definition(
    name="chinese_nationals_attacks", title="Attacks on Chinese nationals", grains=["quarter"],
    sql="SELECT country_iso3 AS series, event_key, event_date, 1 AS value FROM events WHERE actor2 LIKE '%(China)%'",
    alerts=[{"name": "attack", "title": "An attack", "type": "static", "grain": "quarter", "severity": "warning",
             "threshold": 1, "budget": 0.5}])


def _sha(path: Path) -> str:
    """What changes when the warehouse changes: the file's hash, or on a lake its latest snapshot id."""
    if load_settings(path).lake is None:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    con = db.connect(path, read_only=True)
    try:
        return str(con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('lake')").fetchone()[0])
    finally:
        con.close()


def test_a_revision_after_the_period_end_is_left_out(tmp_path):
    """The 2024-10-06 attack first reported without its Chinese victims (revised on 2025-02-01): as known at
    the end of 2024-Q4 nothing alerted, although today's data would."""
    path = tmp_path / "w.duckdb"
    con = db.connect(path)
    first = acled_row(actor2="Civilians (Pakistan)", timestamp=str(int(dt.datetime(2024, 10, 7).timestamp())))
    q3 = acled_row(event_id_cnty="PAK130001", event_date="2024-08-20", location="Gwadar",
                   timestamp=str(int(dt.datetime(2024, 8, 22).timestamp())))
    ingest_file(con, write_csv(tmp_path / "a.csv", [first, q3]), "acled")
    later = acled_row(timestamp=str(int(dt.datetime(2025, 2, 1).timestamp())))
    ingest_file(con, write_csv(tmp_path / "b.csv", [later]), "acled")
    refresh(con, dt.date(2025, 3, 1), watched=WATCHED)
    con.close()
    before = _sha(path)
    copy = scratch_copy(path, load_settings(path).lake)
    defs = {"chinese_nationals_attacks": CHINA}
    bt = replay(copy, defs, dt.date(2024, 1, 1), dt.date(2025, 3, 31), WATCHED)
    assert bt.history_dates >= 1
    # Only Q3 alerts: at the end of Q4 the October attack was not yet known as one on Chinese nationals.
    assert [(c.series, c.period_start) for c in bt.alerts] == [("PAK", dt.date(2024, 7, 1))]
    assert bt.fired_on[("chinese_nationals_attacks", "attack", "PAK", dt.date(2024, 7, 1))] == dt.date(2024, 8, 20)
    # Today's values (what a naive replay would judge) do breach in Q4.
    current = evaluate_rules(copy, defs, dt.date(2025, 3, 31), WATCHED, all_periods=True)
    assert {c.period_start for c in current if c.breached} == {dt.date(2024, 7, 1), dt.date(2024, 10, 1)}
    [row] = rule_table(bt, defs)
    assert row["alerts"] == 1 and row["median_lead_days"] == 41.0            # 20 Aug -> 30 Sep
    assert row["budget"] == 0.5 and row["over_budget"] is True               # 1 in 1.25 years > 0.5 a year
    assert yearly_totals(bt) == {2024: 1, 2025: 0}
    assert _sha(path) == before                                   # the warehouse is never touched


@pytest.mark.skipif(not (SAMPLE / "curated_pakistan_acled.csv").exists(), reason="bundled sample missing")
def test_cli_backtest_on_the_sample_reports_rules_years_and_episodes(tmp_path):
    path = tmp_path / "w.duckdb"
    con = db.connect(path)
    ingest_file(con, SAMPLE / "curated_pakistan_acled.csv", "curated")
    refresh(con, dt.date(2025, 11, 30), watched=WATCHED)
    con.close()
    before = _sha(path)
    runner = CliRunner()
    assert "Examples:" in runner.invoke(cli, ["backtest", "--help"]).output
    out = tmp_path / "bt" / "sample.csv"
    result = runner.invoke(cli, ["--warehouse", str(path), "backtest", "--from", "2018-01-01", "--to", "2024-12-31",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "median" in result.output and "episodes in the data" in result.output
    with out.with_suffix(".episodes.csv").open(encoding="utf-8") as fh:
        episodes = {r["date"]: r for r in csv.DictReader(fh)}
    # The sample has the 2024 Karachi airport attack: alerted the same day; the 2025 strikes are out of range.
    assert episodes["2024-10-06"]["in_data"] == "True" and episodes["2024-10-06"]["fired_on"] == "2024-10-06"
    assert episodes["2025-05-07"]["in_data"] == "False"
    assert all(r["alerted"] == "True" for r in episodes.values() if r["in_data"] == "True")
    with out.open(encoding="utf-8") as fh:
        rules = list(csv.DictReader(fh))
    assert any(r["indicator"] == "chinese_nationals_attacks" and r["series"] == "PAK" for r in rules)
    assert out.with_suffix(".years.csv").is_file()
    html = tmp_path / "bt.html"
    assert runner.invoke(cli, ["--warehouse", str(path), "backtest", "--from", "2024-01-01", "--to", "2024-12-31",
                               "--out", str(html)]).exit_code == 0
    assert "Known episodes" in html.read_text(encoding="utf-8")
    assert _sha(path) == before
    con = db.connect(path, read_only=True)
    assert con.execute("SELECT count(*) FROM alert_rows").fetchone()[0] == 0
    con.close()
    # Unhappy paths: one-line errors.
    bad = tmp_path / "bad.yml"
    bad.write_text("chinese_nationals_attacks:\n  - {name: x, type: static, severity: warning, thresold: 1}\n")
    failed = runner.invoke(cli, ["--warehouse", str(path), "backtest", "--from", "2024-01-01", "--to", "2024-12-31",
                                 "--rules", str(bad)])
    assert failed.exit_code == 1 and "thresold" in failed.output
    backwards = runner.invoke(cli, ["--warehouse", str(path), "backtest", "--from", "2024-01-01", "--to", "2023-01-01"])
    assert backwards.exit_code == 1 and "before --from" in backwards.output


def test_episodes_file_is_checked(tmp_path):
    shipped = load_episodes()
    assert all(e.sources and e.sources[0].startswith("https://") for e in shipped)
    assert {e.indicator for e in shipped} == {"chinese_nationals_attacks", "cross_border_strikes"}
    bad = tmp_path / "e.yml"
    bad.write_text("episodes:\n  - {date: 2024-13-01, place: x, what: y, indicator: z, sources: [u]}\n")
    with pytest.raises(ValueError, match="episode #1: date"):
        load_episodes(bad)
    bad.write_text("episodes:\n  - {date: 2024-01-01, place: x}\n")
    with pytest.raises(ValueError, match="missing what, indicator, sources"):
        load_episodes(bad)
    assert isinstance(shipped[0], Episode)
