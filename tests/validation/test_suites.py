"""Indicator checks, freshness and the whole validate step (run_validation, `riskwatch validate`)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from indicators.definitions import DEFINITIONS_DIR, load_definitions
from riskwatch.cli import cli
from riskwatch.settings import Settings
from tests.conftest import SAMPLE, clone_warehouse
from validation import indicator_checks
from validation.gx_engine import ValidationError, import_gx
from validation.indicator_checks import applicable, check_indicators
from validation.ingest import ingest_file
from validation.suites import check_freshness, freshness_expectations, run_validation
from warehouse import db, ids

AS_OF = dt.date(2025, 12, 31)
FRESHNESS = {"acled": {"max_event_age_days": 14, "max_ingest_age_days": 8},
             "ucdp": {"max_event_age_days": 400, "max_ingest_age_days": 400}, "gtd": "never", "curated": "never"}


def put(con, indicator, series, grain, starts, values, as_of=AS_OF):
    steps = {"week": dt.timedelta(days=6)}
    con.executemany(
        "INSERT INTO indicator_value_rows VALUES (?, ?, ?, ?, ?, ?, true, current_timestamp, ?)",
        [(indicator, series, grain, s, s + steps.get(grain, dt.timedelta(days=27)), v, as_of)
         for s, v in zip(starts, values, strict=True)],
    )


def months(first: dt.date, last: dt.date) -> list[dt.date]:
    out = [first]
    while out[-1] < last:
        y, m = divmod(out[-1].month, 12)
        out.append(dt.date(out[-1].year + y, m + 1, 1))
    return out


def good_values(con) -> None:
    """Well-formed values as the engine writes them: every period up to the one holding AS_OF."""
    put(con, "suicide_attacks", "PAK", "month", months(dt.date(2025, 1, 1), dt.date(2025, 12, 1)), [1, 0, 2] * 4)
    quarters = [dt.date(2025, 1, 1), dt.date(2025, 4, 1), dt.date(2025, 7, 1), dt.date(2025, 10, 1)]
    put(con, "cross_border_strikes", "IRN->PAK", "quarter", quarters, [1, 0, 0, 3])
    weeks = [dt.date(2025, 12, 1) + dt.timedelta(weeks=i) for i in range(5)]  # ends Monday 2025-12-29
    put(con, "political_violence_events_baseline", "PAK:Sindh", "week", weeks, [0.0, 1.5, 2.25, 2.0, 1.75])


def failures(results_by_suite) -> dict[tuple[str, str], tuple]:
    return {(r.suite, r.check_name): (r.severity, r.unexpected_count, r.details["indicator"], r.details["message"])
            for rs in results_by_suite.values() for r in rs if not r.success}


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sample") / "riskwatch.duckdb"
    con = db.connect(path)
    ingest_file(con, SAMPLE / "ucdp_ged_pakistan.csv", "ucdp", as_of=AS_OF)
    ingest_file(con, SAMPLE / "curated_pakistan_acled.csv", "curated", as_of=AS_OF)
    good_values(con)
    con.close()
    return path


@pytest.fixture
def sample(sample_db, tmp_path):
    con = db.connect(clone_warehouse(sample_db, tmp_path / "riskwatch.duckdb"))
    yield con
    con.close()


def settings_for(tmp_path: Path, **config) -> Settings:
    return Settings(warehouse=tmp_path / "riskwatch.duckdb",
                    config={"pipeline": {"reports_dir": str(tmp_path / "reports")}, "freshness": FRESHNESS, **config})


def test_well_formed_values_pass_every_check(con):
    good_values(con)
    results = check_indicators(con)
    assert set(results) == {f"indicator_{name}" for name in load_definitions()}
    assert failures(results) == {}
    assert {r.element_count for r in results["indicator_suicide_attacks"] if r.check_name != "no_gaps"} == {12}
    assert [r.check_name for r in results["indicator_suicide_attacks"]] == [
        "no_gaps", "unique_periods", "non_negative", "integral", "max_value"]
    # A mean (the derived baseline) is not a count; fatalities are sums of whole numbers.
    assert "integral" not in {r.check_name for r in results["indicator_political_violence_events_baseline"]}
    assert "integral" in applicable(load_definitions()["political_violence_fatalities"])


@pytest.mark.parametrize(("bad", "check", "example"), [
    (("PAK", "month", [dt.date(2025, 7, 1)], [-1]), "non_negative", "AFG month 2025-07-01 = -1"),
    (("PAK", "month", [dt.date(2025, 7, 1)], [1.5]), "integral", "AFG month 2025-07-01 = 1.5"),
    (("PAK", "month", [dt.date(2025, 7, 1)], [101]), "max_value", "AFG month 2025-07-01 = 101"),
    (("PAK", "month", [dt.date(2025, 7, 1)], [2]), "unique_periods", "AFG month 2025-07-01"),
    (("PAK", "month", [dt.date(2025, 7, 1)], None), "no_gaps", "AFG month: 11 of 12 periods from 2025-01-01"),
    (("PAK", "month", [dt.date(2025, 12, 1)], None), "no_gaps", "AFG month: 11 of 12 periods"),  # ends early
])
def test_each_indicator_check_fails_on_a_crafted_bad_series(con, bad, check, example):
    good_values(con)
    series = months(dt.date(2025, 1, 1), dt.date(2025, 12, 1))
    _, grain, [when], value = bad
    if value is None:
        series.remove(when)
    put(con, "suicide_attacks", "AFG", grain, series, [1] * len(series))
    if value is not None and check == "unique_periods":
        put(con, "suicide_attacks", "AFG", grain, [when], value)
    elif value is not None:
        con.execute("UPDATE indicator_value_rows SET value = ? WHERE series = 'AFG' AND period_start = ?",
                    [value[0], when])
    failed = failures(check_indicators(con))
    assert list(failed) == [("indicator_suicide_attacks", check)]
    severity, unexpected, indicator, message = failed["indicator_suicide_attacks", check]
    assert (severity, indicator) == ("critical", "suicide_attacks")
    assert unexpected == (2 if check == "unique_periods" else 1) and example in message


def test_severity_and_bounds_come_from_the_yaml(con, tmp_path):
    folder = tmp_path / "defs"
    shutil.copytree(DEFINITIONS_DIR, folder)
    yml = folder / "suicide_attacks.yml"
    yml.write_text(yml.read_text().replace("max_value: 100", "max_value: 1\n  severity: warning"))
    good_values(con)
    failed = failures(check_indicators(con, load_definitions(folder)))
    assert failed == {("indicator_suicide_attacks", "max_value"): (
        "warning", 4, "suicide_attacks", "4 of 12 values fail: PAK month 2025-03-01 = 2; PAK month 2025-06-01 = 2; "
        "PAK month 2025-09-01 = 2")}


def test_gx_evaluation_error_raises_and_run_validation_gates_that_indicator(sample, tmp_path, monkeypatch):
    real = indicator_checks._expectations

    def broken(d, rows):   # an expectation on a column that is not there
        specs = real(d, rows)
        if d.name == "cross_border_strikes":
            specs["non_negative"] = ("rows", import_gx().expectations.ExpectColumnValuesToBeBetween(
                column="missing", min_value=0), {"column": "missing"})
        return specs

    monkeypatch.setattr(indicator_checks, "_expectations", broken)
    with pytest.raises(ValidationError, match="indicator_cross_border_strikes"):
        check_indicators(sample)
    summary = run_validation(sample, AS_OF, settings_for(tmp_path))
    assert summary.success is False and summary.critical_failures == 1
    assert sample.execute("SELECT suite, check_name, severity, indicator, message LIKE 'could not be evaluated%' "
                          "FROM failed_checks WHERE severity = 'critical'").fetchall() == [
        ("indicator_cross_border_strikes", "gx_evaluation", "critical", "cross_border_strikes", True)]


def test_run_validation_on_the_sample_passes_and_builds_data_docs(sample, tmp_path):
    summary = run_validation(sample, AS_OF, settings_for(tmp_path))
    assert summary.critical_failures == 0
    # The UCDP sample ends in 2019: stale for a 400-day expectation, which is a warning and nothing more.
    # UCDP spells provinces its own way ('Khyber Pakhtunkwa Province', 'Sindh Province', FATA): all resolve to
    # ISO 3166-2 codes (warehouse/places.yml), so the admin1 check passes.
    assert [(r.suite, r.check_name, r.severity) for r in summary.results if not r.success] == [
        ("freshness", "ucdp_event_age", "warning")]
    assert summary.warnings == 1 and summary.success is False
    assert [r.element_count for r in summary.results if r.check_name == "admin1_resolves"] == [21]
    stored = sample.execute("SELECT count(*), count(DISTINCT suite) FROM validation_results WHERE run_id = ?",
                            [summary.run_id]).fetchone()
    assert stored == (len(summary.results), len(load_definitions()) + 3)
    assert sample.execute("SELECT success, critical_failures, docs_path FROM validation_runs WHERE run_id = ?",
                          [summary.run_id]).fetchone() == (False, 0, summary.docs_path)
    assert sample.execute("SELECT suite, indicator, source, message FROM failed_checks WHERE suite = 'freshness'"
                          ).fetchall() == [
        ("freshness", None, "ucdp", "source stale: ucdp: newest event 2019-12-19, 2204 days before 2025-12-31 "
                                    "(expected <= 400)")]
    index = Path(summary.docs_path)
    assert index == (tmp_path / "reports" / "validation" / "index.html").resolve()
    html = index.read_text(encoding="utf-8")
    HTMLParser().feed(html)
    for suite in {r.suite for r in summary.results}:
        assert suite in html


def test_whole_warehouse_incident_checks_fail_on_corrupt_rows(sample, tmp_path):
    sample.execute("UPDATE incident_current SET latitude = 95 WHERE incident_id = 'curated:CUR-PAK-0001'")
    sample.execute("UPDATE incident_current SET event_date = DATE '2099-01-01', valid_from = TIMESTAMP '2025-06-01' "
                   "WHERE incident_id = 'curated:CUR-PAK-0002'")
    sample.execute("INSERT INTO incident_current SELECT * FROM incident_current WHERE incident_id = 'ucdp:51720'")
    failed = {(r.check_name, r.unexpected_count) for r in run_validation(sample, AS_OF, settings_for(tmp_path)).results
              if not r.success and r.suite == "incidents"}
    assert failed == {("latitude_in_range", 1), ("event_date_not_in_future", 1), ("ids_unique_per_source", 2)}


def test_stale_source_is_a_warning_never_critical(sample):
    sample.execute("INSERT INTO ingest_runs (run_id, file, source, started_at, finished_at, status) "
                   "VALUES (?, 'x.csv', 'acled', TIMESTAMP '2025-11-01', TIMESTAMP '2025-11-01', 'failed')",
                   [ids.next_id(sample, "ingest_runs")])
    results = {r.check_name: r for r in check_freshness(sample, AS_OF, freshness_expectations(
        Settings(config={"freshness": FRESHNESS})))}
    assert set(results) == {f"{s}_{k}_age" for s in ("acled", "curated", "ucdp") for k in ("event", "ingest")}
    assert all(r.severity == "warning" for r in results.values())
    acled = results["acled_ingest_age"]
    assert not acled.success and acled.details["message"] == (
        "source stale: acled: no last successful ingest (expected <= 8)")
    assert results["curated_event_age"].success and results["curated_event_age"].observed_value == 50
    with pytest.raises(ValueError, match=r"\[freshness\] acled"):
        freshness_expectations(Settings(config={"freshness": {"acled": {"severity": "critical"}}}))


def test_cli_validate_exits_0_on_the_sample_and_1_after_a_corrupt_value(sample_db, tmp_path):
    clone_warehouse(sample_db, tmp_path / "riskwatch.duckdb")
    config = tmp_path / "riskwatch.toml"
    config.write_text(f'[pipeline]\nreports_dir = "{tmp_path / "reports"}"\n\n[freshness]\nucdp = "never"\n')
    assert "validate" in cli.commands  # registered by riskwatch.cli
    args = ["--warehouse", str(tmp_path / "riskwatch.duckdb"), "--config", str(config), "validate",
            "--as-of", "2025-12-31"]
    ok = CliRunner().invoke(cli, args)
    assert ok.exit_code == 0, ok.output
    assert "0 critical failure(s), 0 warning(s)" in ok.output and "| indicator_suicide_attacks" in ok.output
    assert f"Data Docs: {(tmp_path / 'reports' / 'validation' / 'index.html').resolve()}" in ok.output

    con = db.connect(tmp_path / "riskwatch.duckdb")
    put(con, "cross_border_strikes", "PAK->AFG", "quarter", [dt.date(2025, 10, 1)], [-3])
    con.close()
    bad = CliRunner().invoke(cli, args + ["--failed-only"])
    assert bad.exit_code == 1
    # Column widths follow the longest failed check shown.
    assert re.search(r"\| indicator_cross_border_strikes +\| non_negative +\| critical +\| FAIL", bad.output)
    assert "alerts suppressed for cross_border_strikes" in bad.output
    con = db.connect(tmp_path / "riskwatch.duckdb", read_only=True)
    assert con.execute("SELECT DISTINCT indicator FROM failed_checks WHERE severity = 'critical'").fetchall() == [
        ("cross_border_strikes",)]
    con.close()
    # An ingest in between (its batch checks are a validation run too) must not hide the failure from the gate.
    con = db.connect(tmp_path / "riskwatch.duckdb")
    from tests.conftest import acled_row, write_csv
    ingest_file(con, write_csv(tmp_path / "late.csv", [acled_row(event_id_cnty="LATE1")]), "acled",
                as_of=dt.date(2025, 12, 31))
    assert con.execute("SELECT DISTINCT indicator FROM failed_checks WHERE severity = 'critical'").fetchall() == [
        ("cross_border_strikes",)]


def test_incident_expectations_fail_on_corrupted_current_rows(sample):
    from validation.suites import check_incidents

    assert all(r.success for r in check_incidents(sample, AS_OF))
    sample.execute("UPDATE incident_current SET latitude = 95.5 WHERE incident_id = 'curated:CUR-PAK-0001'")
    sample.execute("INSERT INTO incident_current SELECT * FROM incident_current WHERE incident_id = "
                   "'curated:CUR-PAK-0002'")
    sample.execute("UPDATE incident_current SET event_date = DATE '2031-01-01' WHERE incident_id = "
                   "'curated:CUR-PAK-0003'")
    failed = {r.check_name: (r.unexpected_count, r.details["message"]) for r in check_incidents(sample, AS_OF)
              if not r.success}
    assert failed == {
        "latitude_in_range": (1, failed["latitude_in_range"][1]),
        "ids_unique_per_source": (2, failed["ids_unique_per_source"][1]),
        "event_date_not_in_future": (1, failed["event_date_not_in_future"][1]),
    }
    assert "curated:CUR-PAK-0001" in failed["latitude_in_range"][1]
    assert "curated:CUR-PAK-0003" in failed["event_date_not_in_future"][1]
    assert "CUR-PAK-0002" in failed["ids_unique_per_source"][1]
