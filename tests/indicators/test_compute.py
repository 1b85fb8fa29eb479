"""Indicator definitions: given rows -> expected values on a real DuckDB warehouse."""

from __future__ import annotations

import datetime as dt

import pytest

from indicators.behind import incidents_behind
from indicators.compute import compute_indicators
from indicators.definitions import load_definitions
from indicators.refresh import refresh
from tests.conftest import SAMPLE, acled_row, write_csv
from validation.ingest import ingest_file

WATCHED = ["PAK", "AFG", "IRN", "IND"]
TODAY = dt.date(2025, 12, 31)


def values(con, indicator: str, grain: str, series: str | None = None) -> dict:
    rows = con.execute(
        "SELECT series, period_start, value, is_complete FROM indicator_values WHERE indicator = ? AND grain = ? "
        "AND (? IS NULL OR series = ?) ORDER BY series, period_start", [indicator, grain, series, series]
    ).fetchall()
    return {(s, p.isoformat()): (v, c) for s, p, v, c in rows}


def load(con, tmp_path, name: str, rows: list[dict], source: str = "acled"):
    return ingest_file(con, write_csv(tmp_path / name, rows), source, as_of=TODAY)


def chinese(event_id: str, date: str, ts: int = 1700000000, **kw) -> dict:
    return acled_row(event_id_cnty=event_id, event_date=date, timestamp=str(ts), **kw)


def test_chinese_nationals_quarters_and_months_zero_filled_to_current_period(con, tmp_path):
    load(con, tmp_path, "a.csv", [
        chinese("PAK1", "2024-02-10"), chinese("PAK2", "2024-08-01"), chinese("PAK3", "2024-09-30"),
        # Same actors but a protest: never an attack.
        chinese("PAK4", "2024-05-05", event_type="Protests", sub_event_type="Peaceful protest"),
    ])
    refresh(con, dt.date(2024, 11, 10), watched=WATCHED)
    q = values(con, "chinese_nationals_attacks", "quarter")
    assert q == {("PAK", "2024-01-01"): (1, True), ("PAK", "2024-04-01"): (0, True),
                 ("PAK", "2024-07-01"): (2, True), ("PAK", "2024-10-01"): (0, False)}
    m = values(con, "chinese_nationals_attacks", "month")
    assert len(m) == 10 and m[("PAK", "2024-03-01")] == (0, True) and m[("PAK", "2024-11-01")] == (0, False)
    assert sum(v for v, _ in m.values()) == 3


def test_as_of_cut_ignores_later_events_and_later_revisions(con, tmp_path):
    load(con, tmp_path, "v1.csv", [chinese("PAK1", "2024-03-30", ts=1711900000),      # known 2024-03-31
                                   chinese("PAK2", "2024-11-20", ts=1732200000)])     # after the as-of date
    # Revised on 2024-12-15: the event actually happened on 2 April (moves to Q2).
    load(con, tmp_path, "v2.csv", [chinese("PAK1", "2024-04-02", ts=1734300000)])
    refresh(con, dt.date(2024, 11, 10), watched=WATCHED)
    then = values(con, "chinese_nationals_attacks", "quarter")
    assert then[("PAK", "2024-01-01")] == (1, True) and then[("PAK", "2024-04-01")] == (0, True)
    assert then[("PAK", "2024-10-01")] == (0, False)
    refresh(con, dt.date(2025, 1, 15), watched=WATCHED)
    now = values(con, "chinese_nationals_attacks", "quarter")
    assert ("PAK", "2024-01-01") not in now      # the series now starts with the revised date
    assert now[("PAK", "2024-04-01")] == (1, True) and now[("PAK", "2024-10-01")] == (1, True)
    assert now[("PAK", "2025-01-01")] == (0, False)


def test_incremental_refresh_after_a_revision_equals_full_recompute(con, tmp_path):
    load(con, tmp_path, "v1.csv", [chinese(f"PAK{i}", f"2024-0{i}-15") for i in range(1, 8)])
    first = refresh(con, TODAY, watched=WATCHED).indicators
    assert first.mode == "full"
    assert refresh(con, TODAY, watched=WATCHED).indicators.mode == "unchanged"
    load(con, tmp_path, "v2.csv", [chinese("PAK2", "2024-10-02", ts=1734300000)])   # Q1 -> Q4
    inc = refresh(con, TODAY, watched=WATCHED).indicators
    assert inc.mode == "incremental" and 0 < inc.periods_recomputed < first.values_written
    after_incremental = {k: v for k, v in values(con, "chinese_nationals_attacks", "quarter").items()}
    revisions = con.execute("SELECT grain, period_start, old_value, new_value FROM indicator_revisions "
                            "WHERE indicator = 'chinese_nationals_attacks' ORDER BY 1, 2").fetchall()
    assert ("quarter", dt.date(2024, 1, 1), 3.0, 2.0) in revisions
    assert ("quarter", dt.date(2024, 10, 1), 0.0, 1.0) in revisions
    refresh(con, TODAY, watched=WATCHED, full=True)
    assert values(con, "chinese_nationals_attacks", "quarter") == after_incremental
    all_values = con.execute("SELECT count(*), count(DISTINCT (indicator, series, grain, period_start)) "
                             "FROM indicator_values").fetchone()
    assert all_values[0] == all_values[1]


def test_cross_border_strikes_series_and_what_is_not_a_strike(con, tmp_path):
    base = dict(event_type="Explosions/Remote violence", sub_event_type="Air/drone strike", actor2="Jaish al-Adl",
                notes="Missile and drone strikes hit militant hideouts.", timestamp="1710000000")
    load(con, tmp_path, "s.csv", [
        acled_row(event_id_cnty="PAK1", event_date="2024-01-16", actor1="Military Forces of Iran (1989-)",
                  admin1="Balochistan", **base),
        acled_row(event_id_cnty="IRN1", event_date="2024-01-18", actor1="Military Forces of Pakistan (2022-2024)",
                  country="Iran", admin1="Sistan and Baluchestan", latitude="27.8", longitude="62.6", **base),
        acled_row(event_id_cnty="PAK2", event_date="2024-02-01", actor1="Military Forces of Afghanistan (2021-)",
                  event_type="Battles", sub_event_type="Armed clash", actor2="Military Forces of Pakistan (2022-2024)",
                  timestamp="1710000000"),
        acled_row(event_id_cnty="PAK3", event_date="2024-02-02", actor1="Unidentified Armed Group (Pakistan)",
                  event_type="Explosions/Remote violence", sub_event_type="Remote explosive/landmine/IED",
                  timestamp="1710000000"),
        acled_row(event_id_cnty="PAK4", event_date="2024-03-01", actor1="Military Forces of Pakistan (2022-2024)",
                  sub_event_type="Air/drone strike", event_type="Explosions/Remote violence",   # at home
                  timestamp="1710000000"),
    ])
    refresh(con, dt.date(2024, 6, 30), watched=WATCHED)
    q = values(con, "cross_border_strikes", "quarter")
    assert q == {("IRN->PAK", "2024-01-01"): (1, True), ("IRN->PAK", "2024-04-01"): (0, True),
                 ("PAK->IRN", "2024-01-01"): (1, True), ("PAK->IRN", "2024-04-01"): (0, True)}
    # The border clash between two states' forces: its own, undirected series.
    assert values(con, "interstate_clashes", "quarter") == {
        ("AFG<>PAK", "2024-01-01"): (1, True), ("AFG<>PAK", "2024-04-01"): (0, True)}


def test_weekly_violence_by_admin1_counts_each_real_event_once_across_sources(con, tmp_path):
    load(con, tmp_path, "acled.csv", [
        acled_row(event_id_cnty="PAK1", event_date="2024-11-05", fatalities="3", admin1="Sindh"),
        acled_row(event_id_cnty="PAK2", event_date="2024-11-06", fatalities="1", admin1="Sindh",
                  latitude="25.39", longitude="68.37"),   # Hyderabad: 150 km away, a different event
        acled_row(event_id_cnty="PAK3", event_date="2024-11-07", admin1="Sindh", event_type="Protests",
                  sub_event_type="Peaceful protest"),
    ])
    # The same Karachi attack reported by another source a day later, 2 km away, with a higher toll.
    native = [{"source_event_id": "N1", "event_date": "2024-11-06", "country": "Pakistan", "admin1": "Sindh",
               "latitude": "24.91", "longitude": "67.15", "event_type": "Explosions/Remote violence",
               "fatalities": "4", "notes": "Bombing near Karachi airport."}]
    load(con, tmp_path, "native.csv", native, source="native")
    refresh(con, dt.date(2024, 11, 14), watched=WATCHED)
    assert con.execute("SELECT incident_id, duplicate_of FROM incidents WHERE duplicate_of IS NOT NULL").fetchall() == [
        ("native:N1", "acled:PAK1")]
    events = values(con, "political_violence_events", "week", "PAK:PK-SD")
    fatalities = values(con, "political_violence_fatalities", "week", "PAK:PK-SD")
    assert events == {("PAK:PK-SD", "2024-11-04"): (2, True), ("PAK:PK-SD", "2024-11-11"): (0, False)}
    assert fatalities[("PAK:PK-SD", "2024-11-04")] == (5, True)   # max(3, 4) + 1
    baseline = values(con, "political_violence_events_baseline", "week", "PAK:PK-SD")
    assert baseline == {("PAK:PK-SD", "2024-11-04"): (0, True), ("PAK:PK-SD", "2024-11-11"): (2, False)}


def test_tag_based_monthly_indicators(con, tmp_path):
    load(con, tmp_path, "t.csv", [
        acled_row(event_id_cnty="PAK1", event_date="2024-08-26", actor1="BLA: Baloch Liberation Army",
                  actor2="Civilians (Pakistan)", admin1="Balochistan", sub_event_type="Suicide bomb",
                  notes="A suicide bomber attacked a gas pipeline camp.", timestamp="1725000000"),
    ])
    refresh(con, dt.date(2024, 9, 30), watched=WATCHED)
    for name in ("baloch_separatist_attacks", "suicide_attacks", "cpec_energy_attacks"):
        assert values(con, name, "month") == {("PAK", "2024-08-01"): (1, True), ("PAK", "2024-09-01"): (0, True)}, name


def test_curated_sample_mission_indicators_match_the_hand_count(con):
    ingest_file(con, SAMPLE / "curated_pakistan_acled.csv", "curated", as_of=TODAY)
    refresh(con, dt.date(2025, 11, 30), watched=WATCHED)
    nonzero = con.execute(
        "SELECT indicator, series, strftime(period_start, '%Y-%m'), value FROM indicator_values WHERE grain = "
        "'quarter' AND value > 0 AND indicator IN ('chinese_nationals_attacks', 'cross_border_strikes') "
        "ORDER BY 1, 3, 2").fetchall()
    chinese_q = [(p, v) for i, s, p, v in nonzero if i == "chinese_nationals_attacks"]
    assert chinese_q == [("2018-07", 1), ("2018-10", 1), ("2021-07", 2), ("2022-04", 1), ("2023-07", 1),
                         ("2024-01", 1), ("2024-10", 2)]
    strikes = {(s, p): v for i, s, p, v in nonzero if i == "cross_border_strikes"}
    assert strikes == {
        ("IND->PAK", "2019-01"): 1, ("PAK->IND", "2019-01"): 1, ("PAK->IND", "2020-10"): 1,
        ("PAK->AFG", "2022-04"): 2, ("AFG->PAK", "2022-10"): 1, ("IRN->PAK", "2024-01"): 1,
        ("PAK->IRN", "2024-01"): 1, ("PAK->AFG", "2024-01"): 2, ("PAK->AFG", "2024-10"): 2,
        ("IND->PAK", "2025-04"): 6, ("PAK->IND", "2025-04"): 3, ("PAK->AFG", "2025-10"): 2}


def test_incidents_behind_a_value_as_of_2024_11_10(con):
    ingest_file(con, SAMPLE / "curated_pakistan_acled.csv", "curated", as_of=TODAY)
    as_of = dt.date(2024, 11, 10)
    refresh(con, as_of, watched=WATCHED)
    assert values(con, "chinese_nationals_attacks", "quarter")[("PAK", "2024-10-01")] == (2, False)
    rows = incidents_behind(con, load_definitions()["chinese_nationals_attacks"], "PAK", "quarter",
                            dt.date(2024, 10, 1), as_of, WATCHED)
    assert [(r["event_date"].isoformat(), r["location"].split()[0]) for r in rows] == [
        ("2024-10-06", "Karachi"), ("2024-11-05", "Karachi")]
    # Why each counted: the tag the definition counts by (not the event's other tags: suicide attack, Baloch
    # separatist), its evidence and confidence, and the source of the record that carries it.
    assert rows[0]["reasons"] == [{
        "tag": "target:chinese_nationals", "detail": None, "confidence": "coded", "source": "curated",
        "evidence": 'actor2=Civilians (China); assoc_actor_2=Labor Group (China); notes ~ "convoy carrying Chinese"'}]
    assert rows[0]["why"] == ['target:chinese_nationals: coded, actor2=Civilians (China); assoc_actor_2=Labor Group '
                              '(China); "convoy carrying Chinese" in notes (curated)']
    # A count by event type and province rests on the coded type and the ISO 3166-2 code of the spelling.
    week = incidents_behind(con, load_definitions()["political_violence_events"], "PAK:PK-SD", "week",
                            dt.date(2024, 11, 4), as_of, WATCHED)
    assert [r["why"] for r in week] == [["coded, in the query of coded fields: event_type=Violence against "
                                         "civilians; admin1=Sindh -> PK-SD (curated)"]]


def test_why_a_strike_counted_is_its_coded_perpetrator(con, tmp_path):
    """ACLED codes who acted (actor1) and what (sub_event_type): that is the evidence, confidence coded."""
    load(con, tmp_path, "s.csv", [acled_row(
        event_id_cnty="PAK1", event_date="2024-01-16", event_type="Explosions/Remote violence",
        sub_event_type="Air/drone strike", actor1="Military Forces of Iran (1989-)", actor2="Jaish al-Adl",
        admin1="Balochistan", notes="Iranian drone strikes hit <b>Panjgur</b>.", timestamp="1710000000")])
    refresh(con, dt.date(2024, 6, 30), watched=WATCHED)
    [row] = incidents_behind(con, load_definitions()["cross_border_strikes"], "IRN->PAK", "quarter",
                             dt.date(2024, 1, 1), dt.date(2024, 6, 30), WATCHED)
    assert row["why"] == ["cross_border_strike IRN->PAK: coded, actor1=Military Forces of Iran (1989-); "
                          "sub_event_type=Air/drone strike (acled)"]


def test_backfill_since_recomputes_only_from_that_date(con, tmp_path):
    load(con, tmp_path, "a.csv", [chinese("PAK1", "2023-02-10"), chinese("PAK2", "2024-08-01")])
    refresh(con, TODAY, watched=WATCHED)
    con.execute("UPDATE indicator_value_rows SET value = 99 WHERE period_start IN ('2023-01-01', '2024-07-01')")
    result = compute_indicators(con, TODAY, watched=WATCHED, since=dt.date(2024, 1, 1))
    assert result.mode == "incremental"
    q = values(con, "chinese_nationals_attacks", "quarter")
    assert q[("PAK", "2024-07-01")] == (1, True) and q[("PAK", "2023-01-01")] == (99, True)


@pytest.mark.parametrize("name", sorted(load_definitions()))
def test_every_definition_is_a_documented_pair(name):
    d = load_definitions()[name]
    assert d.title and d.description and d.grains and d.path.with_suffix(".sql").exists()
