"""No data is not zero (coverage windows) and dates at their true precision: given rows, then the real files."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest

from alerts.lifecycle import evaluate_alerts
from indicators.behind import incidents_behind
from indicators.compute import compute_indicators
from indicators.definitions import DEFINITIONS_DIR, DefinitionError, load_definitions
from indicators.refresh import refresh
from indicators.rules import evaluate_rules
from riskwatch.settings import Settings
from tests.conftest import SAMPLE, acled_row, shared, write_csv
from tests.indicators.link_rows import bij, load, ucdp
from validation.indicator_checks import check_indicators
from validation.ingest import ingest_file
from warehouse.sources.mapping import MappingError, load_mapping

WATCHED = ["PAK", "AFG", "IRN", "IND"]
TODAY = dt.date(2025, 12, 31)
GTD_ROW = {"iyear": "2018", "imonth": "11", "iday": "23", "provstate": "Sindh", "city": "Karachi",
           "latitude": "24.8", "longitude": "67.0", "attacktype1_txt": "Armed Assault",
           "targtype1_txt": "Government (Diplomatic)", "corp1": "Chinese Consulate", "natlty1_txt": "China",
           "gname": "Baloch Liberation Army (BLA)", "nkill": "7", "country_txt": "Pakistan",
           "summary": "Assailants attacked the Chinese consulate in Karachi."}


def quarters(con, indicator: str, series: str = "PAK") -> dict:
    rows = con.execute("SELECT period_start, value, covered FROM indicator_values WHERE indicator = ? AND "
                       "grain = 'quarter' AND series = ? ORDER BY 1", [indicator, series]).fetchall()
    return {p.isoformat(): (v, c) for p, v, c in rows}


def gtd(con, tmp_path, rows: list[dict], name: str = "gtd.csv"):
    return ingest_file(con, write_csv(tmp_path / name, rows), "gtd", as_of=TODAY)


def test_static_source_periods_after_its_declared_coverage_are_null_not_zero(con, tmp_path):
    gtd(con, tmp_path, [{**GTD_ROW, "eventid": "201811230010"}])
    refresh(con, dt.date(2019, 8, 1), watched=WATCHED)
    assert con.execute("SELECT source, country_iso3, start_date, end_date, basis FROM source_coverage").fetchall() \
        == [("gtd", "PAK", dt.date(2007, 12, 1), dt.date(2018, 12, 31), "declared")]
    assert quarters(con, "chinese_nationals_attacks") == {
        "2018-10-01": (1, True), "2019-01-01": (None, False), "2019-04-01": (None, False),
        "2019-07-01": (None, False)}
    # The months: zero where GTD covers the month and nothing happened, NULL after.
    months = con.execute("SELECT strftime(period_start, '%Y-%m'), value FROM indicator_values WHERE "
                         "indicator = 'chinese_nationals_attacks' AND grain = 'month' ORDER BY 1").fetchall()
    assert months[:3] == [("2018-11", 1), ("2018-12", 0), ("2019-01", None)]
    # The indicator checks judge values, not no-data: NULLs are neither negative nor gaps.
    assert [r.check_name for rs in check_indicators(con).values() for r in rs if not r.success] == []


def test_a_live_source_covers_up_to_its_newest_ingest_and_a_definition_can_narrow_the_sources(con, tmp_path):
    gtd(con, tmp_path, [{**GTD_ROW, "eventid": "201811230010"}])
    # An ACLED (live) event in Pakistan, ingested today: ACLED covers Pakistan from it up to today.
    ingest_file(con, write_csv(tmp_path / "a.csv", [acled_row(event_id_cnty="PAK1", event_date="2018-06-01",
                                                              actor2="Police Forces of Pakistan (2018-)")]),
                "acled", as_of=TODAY)
    refresh(con, dt.date(2019, 8, 1), watched=WATCHED)
    basis = con.execute("SELECT source, basis, end_date >= current_date FROM source_coverage ORDER BY 1").fetchall()
    assert basis == [("acled", "loaded (live)", True), ("gtd", "declared", False)]
    assert quarters(con, "chinese_nationals_attacks")["2019-04-01"] == (0, True)
    # The same indicator with ACLED excluded from it: GTD alone decides, and 2019 has no data again.
    folder = tmp_path / "defs"
    shutil.copytree(DEFINITIONS_DIR, folder)
    yml = folder / "chinese_nationals_attacks.yml"
    yml.write_text(yml.read_text() + "sources: {exclude: [acled]}\n")
    compute_indicators(con, dt.date(2019, 8, 1), watched=WATCHED, definitions=load_definitions(folder), full=True)
    assert quarters(con, "chinese_nationals_attacks")["2019-04-01"] == (None, False)
    yml.write_text(yml.read_text() + "sources: [acled]\n")
    with pytest.raises(DefinitionError, match="sources must be"):
        load_definitions(folder)


def test_interstate_clashes_are_no_data_where_only_sources_that_cannot_record_them_cover(con, tmp_path):
    """GTD (terrorism, no state forces) and BIJ (US drone strikes) cannot record a clash between two states: a
    quarter only they cover is NULL for interstate_clashes (with GTD contributing it would read 0: calm)."""
    load(con, tmp_path, "ucdp", [ucdp("1", "2019-10-15", 34.5, 74.0, side_a="Government of India",
                                      side_b="Government of Pakistan", adm_1="Azad Jammu & Kashmir", adm_2="")])
    # A GTD release reaching into 2020 widens GTD's coverage to its newest event (UCDP's export ends 2019).
    gtd(con, tmp_path, [{**GTD_ROW, "eventid": "202005100001", "iyear": "2020", "imonth": "5", "iday": "10",
                         "corp1": "Police station", "natlty1_txt": "Pakistan"}])
    refresh(con, dt.date(2020, 8, 1), watched=WATCHED)
    assert quarters(con, "interstate_clashes", "IND<>PAK") == {
        "2019-10-01": (1, True), "2020-01-01": (None, False), "2020-04-01": (None, False),
        "2020-07-01": (None, False)}
    assert load_definitions()["interstate_clashes"].sources == {"exclude": ["gtd", "bij_drone_strikes"]}


def test_a_source_of_some_perpetrators_covers_only_their_series(con, tmp_path):
    """BIJ records only US drone strikes (`coverage: perpetrators: [USA]`): it covers USA->PAK in 2004-2013, not
    IRN->PAK or a count of every perpetrator's events; without the scope those quarters read 0 instead of no data."""
    load(con, tmp_path, "bij_drone_strikes", [bij("Ob1", "2010-03-01", 33.0, 70.0)])
    strike = {"event_type": "Explosions/Remote violence", "sub_event_type": "Air/drone strike",
              "actor1": "Military Forces of Iran (1989-)", "actor2": "Jaish al-Adl", "admin1": "Balochistan"}
    # An Iranian strike in 2003 from a static ACLED-format dataset covering 2003 only (the IRN->PAK series
    # starts there), and one in 2024 from ACLED (live: it covers Pakistan from then to its ingest, today).
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "press.yml").write_text("name: press\nextends: acled\n"
                                    "coverage:\n  PAK: {start: 2003-01-01, end: 2003-12-31}\n")
    for source, event_id, day in (("press", "PAK0", "2003-05-01"), ("acled", "PAK1", "2024-07-16")):
        ingest_file(con, write_csv(tmp_path / f"{source}.csv", [acled_row(event_id_cnty=event_id, event_date=day,
                                                                          **strike)]),
                    source, as_of=TODAY, mapping_dirs=[maps])
    refresh(con, dt.date(2024, 12, 31), watched=WATCHED)
    assert con.execute("SELECT source, perpetrators FROM source_coverage ORDER BY 1").fetchall() == [
        ("acled", None), ("bij_drone_strikes", ["USA"]), ("press", None)]
    usa, irn = quarters(con, "cross_border_strikes", "USA->PAK"), quarters(con, "cross_border_strikes", "IRN->PAK")
    assert (usa["2010-01-01"], usa["2010-04-01"], usa["2013-10-01"]) == ((1, True), (0, True), (0, True))
    assert (usa["2014-01-01"], usa["2024-10-01"]) == ((None, False), (0, True))
    assert (irn["2003-04-01"], irn["2003-10-01"]) == ((1, True), (0, True))
    assert [irn[q] for q in ("2004-01-01", "2010-01-01", "2013-10-01", "2014-01-01")] == [(None, False)] * 4
    assert (irn["2024-07-01"], irn["2024-10-01"]) == ((1, True), (0, True))
    # A count of every perpetrator's events: BIJ could not have recorded them, so 2010-Q2 is no data, not 0;
    # the quarter holding the US strike counts it (a period holding counted events is covered).
    pv = quarters(con, "chinese_nationals_attacks")
    assert (pv["2010-04-01"], pv["2024-10-01"]) == ((None, False), (0, True))


def test_incremental_refresh_with_coverage_equals_full_recompute(con, tmp_path):
    gtd(con, tmp_path, [{**GTD_ROW, "eventid": "201811230010"}])
    refresh(con, TODAY, watched=WATCHED)
    ingest_file(con, write_csv(tmp_path / "a.csv", [acled_row(event_id_cnty="PAK1", event_date="2021-03-01")]),
                "acled", as_of=TODAY)
    assert refresh(con, TODAY, watched=WATCHED).indicators.mode == "incremental"
    snapshot = "SELECT * EXCLUDE (computed_at) FROM indicator_values ORDER BY ALL"
    incremental = con.execute(snapshot).fetchall()
    refresh(con, TODAY, watched=WATCHED, full=True)
    assert con.execute(snapshot).fetchall() == incremental
    q = quarters(con, "chinese_nationals_attacks")
    # ACLED covers Pakistan from its first event there (2021-03-01) to today: the gap between GTD's end and
    # that stays no data; from 2021-Q1 on the periods are counts, zero included.
    assert q["2019-01-01"] == (None, False) and q["2021-01-01"] == (1, True) and q["2025-10-01"] == (0, True)


def test_alert_rules_skip_uncovered_periods(con, tmp_path):
    gtd(con, tmp_path, [{**GTD_ROW, "eventid": "201811230010"}])
    refresh(con, TODAY, watched=WATCHED)
    defs = load_definitions()
    # The current and last complete quarters are uncovered: nothing is judged (not "0, no breach").
    assert [c for c in evaluate_rules(con, defs, TODAY, WATCHED) if c.indicator == "chinese_nationals_attacks"] == []
    past = evaluate_rules(con, defs, TODAY, WATCHED, all_periods=True)
    assert {(c.indicator, c.period_start.isoformat()) for c in past if c.breached} >= {
        ("chinese_nationals_attacks", "2018-10-01")}
    assert all(c.value is not None and c.period_start <= dt.date(2018, 12, 31) for c in past)


def test_an_event_counts_only_in_grains_its_date_precision_supports(con, tmp_path):
    base = dict(actor1="TTP: Tehreek-i-Taliban Pakistan", actor2="Military Forces of Pakistan (2018-)",
                event_type="Battles", sub_event_type="Armed clash", admin1="Khyber Pakhtunkhwa", fatalities="4")
    rows = [acled_row(event_id_cnty="PAK1", event_date="2024-03-06", time_precision="1", **base),
            acled_row(event_id_cnty="PAK2", event_date="2024-03-06", time_precision="2", **base),   # week
            acled_row(event_id_cnty="PAK3", event_date="2024-03-15", time_precision="3", **base)]   # month
    ingest_file(con, write_csv(tmp_path / "a.csv", rows), "acled", as_of=TODAY)
    assert con.execute("SELECT source_event_id, date_precision FROM incidents ORDER BY 1").fetchall() == [
        ("PAK1", 1), ("PAK2", 3), ("PAK3", 4)]
    native = [{"source_event_id": "Y1", "event_date": "2024-01-01", "date_end": "2024-12-31",
               "date_precision": "5", "country": "Pakistan", "admin1": "Khyber Pakhtunkhwa",
               "event_type": "Battles", "actor2": "Civilians (China)", "fatalities": "40"}]
    ingest_file(con, write_csv(tmp_path / "n.csv", native), "native", as_of=TODAY)
    refresh(con, dt.date(2024, 12, 31), watched=WATCHED)
    weekly = dict(con.execute("SELECT period_start, value FROM indicator_values WHERE grain = 'week' AND "
                              "indicator = 'political_violence_fatalities' AND value > 0").fetchall())
    # Day and week precision count in their week; the month one and the year one (1 January) do not.
    assert weekly == {dt.date(2024, 3, 4): 8}
    gaps = con.execute("SELECT indicator, grain, period_start, reason, events, value FROM indicator_precision_gaps "
                       "WHERE indicator IN ('political_violence_fatalities', 'chinese_nationals_attacks') "
                       "ORDER BY ALL").fetchall()
    assert gaps == [
        ("chinese_nationals_attacks", "month", dt.date(2024, 1, 1), "year precision", 1, 1.0),
        ("chinese_nationals_attacks", "quarter", dt.date(2024, 1, 1), "year precision", 1, 1.0),
        ("political_violence_fatalities", "week", dt.date(2024, 1, 1), "year precision", 1, 40.0),
        ("political_violence_fatalities", "week", dt.date(2024, 3, 11), "month precision", 1, 4.0)]
    # acled_row's notes name Chinese engineers: the three ACLED events (day, week, month precision) are in
    # the quarter and its months, the year-precision one in neither.
    assert quarters(con, "chinese_nationals_attacks")["2024-01-01"] == (3, True)
    behind = incidents_behind(con, load_definitions()["political_violence_fatalities"], "PAK:Khyber Pakhtunkhwa",
                              "week", dt.date(2024, 3, 11), dt.date(2024, 12, 31), WATCHED)
    assert behind == []


def test_coverage_declarations_are_checked():
    assert load_mapping("ucdp").coverage == {"PAK": (dt.date(1989, 1, 1), dt.date(2019, 12, 31))}
    assert load_mapping("bij_drone_strikes").coverage == {"PAK": (dt.date(2004, 1, 1), dt.date(2013, 12, 31))}
    assert load_mapping("bij_drone_strikes").perpetrators == ["USA"]
    assert load_mapping("acled").coverage == {} and load_mapping("acled").perpetrators is None


@pytest.mark.parametrize("spec", ["coverage: 2019", "coverage: {PAK: {start: 2019-01-01}}",
                                  "coverage: {PAK: {start: 2019-01-01, end: 2018-01-01}}",
                                  "coverage: {Pakistan: {start: 2019-01-01, end: 2020-01-01}}",
                                  "coverage: {PAK: {start: 2019-01-01, end: 2020-01-01}, perpetrators: USA}",
                                  "coverage: {PAK: {start: 2019-01-01, end: 2020-01-01}, perpetrators: [Iran]}",
                                  "coverage: {perpetrators: [USA]}"])
def test_a_bad_coverage_declaration_is_refused(tmp_path, spec):
    path = tmp_path / "press.yml"
    path.write_text(f"name: press\ncolumns: {{source_event_id: ref}}\n{spec}\n")
    with pytest.raises(MappingError, match="coverage"):
        load_mapping(str(path))


def test_curated_sample_has_full_coverage_and_unchanged_counts(con):
    ingest_file(con, SAMPLE / "curated_pakistan_acled.csv", "curated", as_of=TODAY)
    refresh(con, dt.date(2025, 11, 30), watched=WATCHED)
    assert con.execute("SELECT count(*) FILTER (WHERE NOT covered) FROM indicator_values").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM indicator_precision_gaps").fetchone()[0] == 0


# ---- the real files (../shared/data; skipped when absent) ----

def test_real_gtd_subset_alone_as_of_2025_12_31_has_no_data_after_2018_and_backfill_raises_nothing_there(con):
    path = shared("gtd/gtd_pakistan_2007_2018.csv")
    ingest_file(con, path, "gtd", as_of=TODAY, defaults={"country": "Pakistan"})
    refresh(con, TODAY, watched=WATCHED, since=dt.date(2007, 12, 1))
    after = con.execute("SELECT count(*), count(*) FILTER (WHERE covered OR value IS NOT NULL) FROM indicator_values "
                        "WHERE period_end > DATE '2018-12-31' AND period_start > DATE '2018-12-31'").fetchone()
    before = con.execute("SELECT count(*) FILTER (WHERE NOT covered) FROM indicator_values "
                         "WHERE period_end <= DATE '2018-12-31'").fetchone()[0]
    print(f"\nGTD subset alone as of {TODAY}: {after[0]} values after 2018-12-31, {after[1]} covered; "
          f"{before} uncovered before")
    assert after[0] > 2900 and after[1] == 0 and before == 0
    run = evaluate_alerts(con, TODAY, Settings(config={"pipeline": {"watched_countries": WATCHED}}, environ={}),
                          backfill=True)
    late = con.execute("SELECT count(*), count(*) FILTER (WHERE period_start > DATE '2018-12-31') FROM alerts"
                       ).fetchone()
    print(f"backfill: {late[0]} past breaches recorded, {late[1]} after the coverage; {run.past_breaches}")
    assert late[0] > 0 and late[1] == 0


def test_real_ucdp_and_gtd_weeks_hold_no_month_or_year_precision_event(con):
    ucdp = SAMPLE / "ucdp_ged_pakistan.csv"
    ingest_file(con, ucdp, "ucdp", as_of=TODAY)
    refresh(con, TODAY, watched=WATCHED)
    # UCDP alone: the weekly fatalities are exactly the best estimates of the rows dated to a week or finer,
    # read from the file itself (date_prec 1-3), and the 1,428 deaths of a whole-year row are in no week.
    raw = duckdb.sql(f"SELECT sum(best_est) FILTER (WHERE date_prec <= 3), sum(best_est) FILTER (WHERE date_prec "
                     f"= 4), sum(best_est) FILTER (WHERE date_prec = 5) FROM read_csv('{ucdp}')").fetchone()
    weekly = con.execute("SELECT sum(value) FROM indicator_values WHERE indicator = 'political_violence_fatalities'"
                         ).fetchone()[0]
    gaps = dict(con.execute("SELECT reason, sum(value) FROM indicator_precision_gaps WHERE indicator = "
                            "'political_violence_fatalities' GROUP BY 1").fetchall())
    print(f"\nUCDP alone: weekly fatalities {weekly:,.0f} (file, date_prec<=3: {raw[0]:,}); left out of weeks: {gaps}")
    assert (weekly, gaps) == (raw[0], {"month precision": raw[1], "year precision": raw[2]})
    ingest_file(con, shared("gtd/gtd_pakistan_2007_2018.csv"), "gtd", as_of=TODAY, defaults={"country": "Pakistan"})
    refresh(con, TODAY, watched=WATCHED)
    coarse = con.execute(
        "SELECT count(*) FROM indicator_values v JOIN incidents i ON i.date_precision >= 4 "
        "AND v.grain = 'week' AND i.event_date BETWEEN v.period_start AND v.period_end "
        "AND v.series = i.country_iso3 || ':' || coalesce(i.admin1_code, nullif(trim(i.admin1), ''), 'unknown') "
        "AND v.indicator = 'political_violence_fatalities' AND v.value >= i.fatalities AND i.fatalities > 100"
    ).fetchone()[0]
    week = con.execute("SELECT sum(value) FROM indicator_values WHERE indicator = 'political_violence_fatalities' "
                       "AND period_start = DATE '2008-12-29'").fetchone()[0]
    print(f"UCDP + GTD: week of 2008-12-29: {week:,.0f} fatalities (was 1,428 + these)")
    assert week < 1428 and coarse == 0
    assert con.execute("SELECT count(*) FROM indicator_values WHERE grain = 'week' AND NOT covered AND "
                       "period_start < DATE '2019-12-30'").fetchone()[0] == 0
