"""Cross-source links on a real DuckDB warehouse: families, global one-to-one assignment, no chains, overrides."""

from __future__ import annotations

import pytest

from indicators.links import load_overrides, refresh_links
from tests.indicators.link_rows import bij, gtd, load, ucdp
from warehouse.db import transaction
from warehouse.places import refresh_places

DATTA_KHEL = (32.9686, 69.69)


def links(con) -> dict[str, str]:
    return dict(con.execute("SELECT incident_id, duplicate_of FROM incident_links WHERE kind = 'duplicate'").fetchall())


def parts(con) -> dict[str, str]:
    return dict(con.execute("SELECT incident_id, matched_with FROM incident_links WHERE kind = 'part'").fetchall())


def events(con) -> int:
    return con.execute("SELECT count(DISTINCT coalesce(duplicate_of, incident_id)) FROM incidents").fetchone()[0]


def run(con, **kw) -> int:
    with transaction(con):
        refresh_places(con)  # as indicators.refresh does: links compare the normalised places
        return refresh_links(con, **kw).links


def test_a_state_strike_never_links_to_a_gtd_event_but_to_a_ucdp_strike(con, tmp_path):
    lat, lon = DATTA_KHEL
    load(con, tmp_path, "bij_drone_strikes", [bij("Ob1", "2010-10-28", lat, lon)])
    # GTD records no state attacks: a bombing on the same day at the same place is another event.
    load(con, tmp_path, "gtd", [gtd("2010-10-28", lat + 0.01, lon)])
    load(con, tmp_path, "ucdp", [ucdp("188445", "2010-10-27", lat + 0.002, lon, headline="NWA drone attacks kill 8",
                                      end="2010-10-28", date_prec="2")])
    assert run(con) == 1
    assert links(con) == {"bij_drone_strikes:Ob1": "ucdp:188445"}
    score, reasons = con.execute("SELECT score, reasons FROM incident_links").fetchone()
    assert 0.55 <= score <= 1 and "state_strike" in reasons and "km" in reasons


def test_ucdp_state_based_event_without_strike_text_does_not_link_to_a_strike(con, tmp_path):
    lat, lon = DATTA_KHEL
    load(con, tmp_path, "bij_drone_strikes", [bij("Ob1", "2010-10-28", lat, lon)])
    load(con, tmp_path, "ucdp", [ucdp("1", "2010-10-28", lat, lon, side_a="Government of Pakistan", side_b="TTP",
                                      headline="Militants attack checkpost in North Waziristan")])
    assert run(con) == 0


def test_ucdp_battle_links_to_the_gtd_attack_it_describes_and_a_police_raid_does_not(con, tmp_path):
    load(con, tmp_path, "ucdp", [
        ucdp("10", "2012-05-03", 33.6, 71.4, side_a="Government of Pakistan", side_b="TTP",
             headline="Militants attack police post near Kohat", adm_1="Khyber Pakhtunkwa Province",
             adm_2="Kohat District"),
        ucdp("11", "2012-05-03", 24.9, 67.1, side_a="Government of Pakistan", side_b="TTP",
             headline="Police raid kills five militants in Karachi", adm_1="Sindh Province", adm_2="Karachi District"),
    ])
    load(con, tmp_path, "gtd", [gtd("2012-05-03", 33.61, 71.41, city="Kohat", provstate="Khyber Pakhtunkhwa"),
                                gtd("2012-05-03", 24.91, 67.11, city="Karachi", provstate="Sindh", gname="Unknown")])
    run(con)
    assert [(k.split(":")[0], v) for k, v in links(con).items()] == [("gtd", "ucdp:10")]


def test_one_to_one_by_best_total_not_first_come(con, tmp_path):
    # Two strikes in one day: Ob2 is nearest to U1, but U1 is the only match Ob1 has. A single pass that
    # lets Ob2 take U1 leaves Ob1 unlinked; the assignment links both.
    load(con, tmp_path, "bij_drone_strikes", [bij("Ob1", "2010-10-28", 32.90, 69.60),
                                              bij("Ob2", "2010-10-28", 32.97, 69.69)])
    load(con, tmp_path, "ucdp", [ucdp("1", "2010-10-28", 32.96, 69.68, headline="US drone strike kills 4"),
                                 ucdp("2", "2010-10-28", 33.05, 69.80, headline="Missiles hit compound")])
    run(con)
    assert links(con) == {"bij_drone_strikes:Ob1": "ucdp:1", "bij_drone_strikes:Ob2": "ucdp:2"}


def test_a_ucdp_event_that_reports_several_strikes_takes_that_days_other_bij_strikes_as_parts(con, tmp_path):
    # UCDP codes the day's two strikes near Mir Ali as one event; BIJ lists each, and another strike the next day.
    load(con, tmp_path, "bij_drone_strikes", [bij("Ob1", "2011-05-16", 32.96, 70.21, killed="5"),
                                              bij("Ob2", "2011-05-16", 32.91, 70.26, killed="3"),
                                              bij("Ob3", "2011-05-17", 32.96, 70.20, killed="2")])
    load(con, tmp_path, "ucdp", [ucdp("1", "2011-05-16", 32.97, 70.20, deaths="7",
                                      headline="Pakistan officials say 2 US missile strikes kill 7 militants")])
    run(con)
    # The UCDP record never represents an event: it points at a BIJ strike, the other is its part, and each
    # BIJ strike still counts once (3 events, not 2 and not 4).
    assert links(con) == {"ucdp:1": "bij_drone_strikes:Ob1"}
    assert parts(con) == {"bij_drone_strikes:Ob2": "ucdp:1"}
    assert events(con) == 3
    reasons = con.execute("SELECT reasons FROM incident_links WHERE kind = 'part'").fetchone()[0]
    assert reasons.startswith("part of ucdp:1, its text reports several; same dates")


def test_a_strike_toll_that_sums_two_same_day_strikes_makes_the_second_a_part(con, tmp_path):
    lat, lon = DATTA_KHEL
    load(con, tmp_path, "bij_drone_strikes", [bij("Ob1", "2011-06-08", lat, lon, killed="20"),
                                              bij("Ob2", "2011-06-08", lat + 0.01, lon, killed="4"),
                                              bij("Ob3", "2011-06-08", lat - 0.01, lon, killed="9")])
    load(con, tmp_path, "ucdp", [ucdp("1", "2011-06-08", lat, lon, deaths="24",
                                      headline="Death toll in North Waziristan drone strike reaches 24")])
    run(con)
    # 20 + 4 fits in 24 (20 + 9 does not): the singular headline's toll covers two of BIJ's strikes.
    assert links(con) == {"ucdp:1": "bij_drone_strikes:Ob1"} and parts(con) == {"bij_drone_strikes:Ob2": "ucdp:1"}
    why = con.execute("SELECT reasons FROM incident_links WHERE kind = 'part'").fetchone()[0]
    assert "its toll sums several" in why


def test_a_point_known_to_25_km_links_a_strike_further_away_only_on_the_same_day_with_the_same_toll(con, tmp_path):
    # UCDP where_prec 2 codes 'a village near Miranshah' at the town's centre; BIJ names the village 32 km away.
    miranshah = (33.0086, 70.0697)
    load(con, tmp_path, "ucdp", [
        ucdp("1", "2010-09-04", *miranshah, where_prec="2", deaths="7", headline="US drone strike kills 7 militants"),
        ucdp("2", "2010-09-20", *miranshah, where_prec="2", deaths="30", headline="US drone strike kills 30"),
        ucdp("3", "2010-10-02", *miranshah, where_prec="1", deaths="5", headline="US drone strike kills 5"),
        ucdp("4", "2010-10-20", *miranshah, where_prec="2", deaths="6", headline="US drone strike kills 6")])
    load(con, tmp_path, "bij_drone_strikes", [
        bij("Ob1", "2010-09-04", 32.906, 69.749, killed="7"),    # 32 km, same day, same toll: linked
        bij("Ob2", "2010-09-20", 32.906, 69.749, killed="3"),    # 32 km, 3 vs 30 dead
        bij("Ob3", "2010-10-02", 32.906, 69.749, killed="5"),    # 32 km from an exactly located record
        bij("Ob4", "2010-10-21", 32.906, 69.749, killed="6")])   # 32 km and a day apart
    run(con)
    assert links(con) == {"bij_drone_strikes:Ob1": "ucdp:1"}
    assert "32.0 km (a place known to 25 km)" in con.execute("SELECT reasons FROM incident_links").fetchone()[0]


def test_a_nato_helicopter_raid_is_not_one_of_the_cia_drone_strikes_bij_lists(con, tmp_path):
    lat, lon = DATTA_KHEL
    load(con, tmp_path, "bij_drone_strikes", [bij("Ob1", "2010-09-25", lat, lon)])
    load(con, tmp_path, "ucdp", [ucdp("1", "2010-09-25", lat, lon, side_a="Government of Afghanistan", side_b="Taleban",
                                      headline="NATO helicopters entered Pakistan to kill insurgents")])
    assert run(con) == 0


def test_three_sources_one_event_one_canonical_no_chains(con, tmp_path):
    load(con, tmp_path, "acled", [{
        "event_id_cnty": "PAK1", "event_date": "2012-05-03", "year": "2012", "event_type": "Explosions/Remote violence",
        "sub_event_type": "Remote explosive/landmine/IED", "actor1": "TTP: Tehreek-i-Taliban Pakistan",
        "actor2": "Police Forces of Pakistan (2008-2013)", "country": "Pakistan", "admin1": "Khyber Pakhtunkhwa",
        "admin2": "Kohat", "location": "Kohat", "latitude": "33.60", "longitude": "71.40", "geo_precision": "1",
        "notes": "A roadside bomb hit a police van in Kohat.", "fatalities": "4", "timestamp": "1336000000"}])
    load(con, tmp_path, "ucdp", [ucdp("10", "2012-05-03", 33.6, 71.4, side_a="Government of Pakistan", side_b="TTP",
                                      headline="Bomb kills police in Kohat", adm_1="Khyber Pakhtunkwa Province",
                                      adm_2="Kohat District")])
    load(con, tmp_path, "gtd", [gtd("2012-05-04", 33.62, 71.42, city="Kohat", provstate="Khyber Pakhtunkhwa")])
    run(con)
    got = links(con)
    assert set(got.values()) == {"acled:PAK1"} and len(got) == 2
    assert con.execute("SELECT count(*) FROM incident_links l JOIN incident_duplicates d "
                       "ON d.incident_id = l.duplicate_of").fetchone()[0] == 0


def acled(event_id: str, lat: float, event_type: str, sub: str) -> dict:
    return {"event_id_cnty": event_id, "event_date": "2012-05-03", "year": "2012", "event_type": event_type,
            "sub_event_type": sub, "actor1": "TTP: Tehreek-i-Taliban Pakistan", "country": "Pakistan",
            "admin1": "Khyber Pakhtunkhwa", "latitude": str(lat), "longitude": "71.40", "geo_precision": "1",
            "notes": "Attack in Kohat.", "fatalities": "4", "timestamp": "1336000000"}


def test_a_cluster_never_holds_two_records_of_one_source(con, tmp_path):
    # Pairwise links A1-U (ACLED-UCDP), A2-G (ACLED-GTD) and G-U (GTD-UCDP) would put two ACLED events into
    # one through U and G: the weakest link that joins them is dropped.
    load(con, tmp_path, "acled", [acled("PAK1", 33.60, "Battles", "Armed clash"),
                                  acled("PAK2", 33.735, "Explosions/Remote violence", "Remote explosive/landmine/IED")])
    load(con, tmp_path, "ucdp", [ucdp("1", "2012-05-03", 33.627, 71.40, side_a="Government of Pakistan", side_b="TTP",
                                      headline="Attack on police")])
    load(con, tmp_path, "gtd", [gtd("2012-05-03", 33.69, 71.40)])
    run(con)
    events = con.execute("SELECT coalesce(duplicate_of, incident_id) AS ev, list(source ORDER BY source) "
                         "FROM incidents "
                         "GROUP BY 1 ORDER BY 1").fetchall()
    assert all(len(s) == len(set(s)) for _, s in events), events
    assert len(events) == 2 and sorted(len(s) for _, s in events) == [2, 2], events


def test_overrides_confirm_and_forbid_pairs_on_every_refresh(con, tmp_path):
    lat, lon = DATTA_KHEL
    load(con, tmp_path, "bij_drone_strikes", [bij("Ob1", "2010-10-28", lat, lon), bij("Ob2", "2010-11-20", lat, lon)])
    load(con, tmp_path, "ucdp", [ucdp("1", "2010-10-28", lat, lon, headline="US drone strike"),
                                 ucdp("2", "2010-11-24", lat, lon, headline="US drone strike")])
    assert links(con) == {} and run(con) == 1
    over = tmp_path / "over.yml"
    over.write_text(
        "confirmed:\n  - {incident_id: 'bij_drone_strikes:Ob2', other: 'ucdp:2', note: 'same strike, dated late'}\n"
        "forbidden:\n  - {incident_id: 'ucdp:1', other: 'bij_drone_strikes:Ob1', note: 'different compounds'}\n")
    for _ in range(2):
        run(con, overrides=over)
        assert links(con) == {"bij_drone_strikes:Ob2": "ucdp:2"}
    assert con.execute("SELECT score, rule FROM incident_links").fetchone() == (1.0, "link_overrides.yml")


def test_overrides_file_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("confirmed:\n  - {incident_id: 'ucdp:1', other: 'ucdp:2', note: x}\n")
    with pytest.raises(ValueError, match="one source"):
        load_overrides(bad)
    bad.write_text("forbidden:\n  - {incident_id: 'ucdp:1'}\n")
    with pytest.raises(ValueError, match="needs incident_id, other and note"):
        load_overrides(bad)


def test_links_command_lists_weakest_first_side_by_side_in_every_format(con, tmp_path, warehouse_path):
    import json

    from tests.conftest import riskwatch_in_process

    lat, lon = DATTA_KHEL
    load(con, tmp_path, "bij_drone_strikes", [bij("Ob1", "2010-10-28", lat, lon), bij("Ob2", "2010-11-20", lat, lon)])
    load(con, tmp_path, "ucdp", [ucdp("1", "2010-10-28", lat, lon, headline="US drone strike"),
                                 ucdp("2", "2010-11-21", lat + 0.1, lon, headline="US missiles kill 3")])
    run(con)
    con.close()

    def rw(*args):   # the command in this process: the test is about what it prints, not about the process
        out = riskwatch_in_process(warehouse_path, "links", *args)
        assert out.exit_code == 0 and out.exception is None, out.output
        return out.stdout

    rows = json.loads(rw("--format", "json"))
    assert [r["incident_id"] for r in rows] == ["bij_drone_strikes:Ob2", "bij_drone_strikes:Ob1"]
    assert rows[0]["score"] < rows[1]["score"] and rows[0]["b_notes"].startswith("US missiles")
    table = rw("--limit", "1")
    assert "| field " in table and "bij_drone_strikes:Ob2" in table and "ucdp:2" in table and "1 day(s) apart" in table
    none = rw("--format", "csv", "--source", "gtd").strip().splitlines()
    assert len(none) == 1 and none[0].startswith("incident_id,matched_with,duplicate_of,score,reasons")


def test_incremental_refresh_recomputes_the_period_an_event_leaves_when_a_new_record_joins_it(con, tmp_path):
    import datetime as dt

    from indicators.refresh import refresh
    from tests.conftest import acled_row, write_csv
    from validation.ingest import ingest_file

    def quarters():
        return dict(con.execute("SELECT period_start::VARCHAR, value FROM indicator_values WHERE indicator = "
                                "'chinese_nationals_attacks' AND grain = 'quarter'").fetchall())

    # UCDP dates the attack 30 Mar - 2 Apr (counted in Q1 while it is the only record) ...
    load(con, tmp_path, "ucdp", [ucdp("7", "2024-03-30", 24.9008, 67.1681, side_a="BLA", side_b="Civilians",
                                      violence="3", headline="Gunmen attack Chinese engineers near Karachi airport",
                                      end="2024-04-02", date_prec="2", deaths="3", adm_1="Sindh Province",
                                      adm_2="Karachi District")])
    refresh(con, dt.date(2024, 6, 30), watched=["PAK"])
    # Q2: no data (None), not 0 — the UCDP mapping declares coverage to 2019, widened only to this event's dates.
    assert quarters() == {"2024-01-01": 1, "2024-04-01": None}
    # ... then ACLED reports it on 2 April: ACLED's record represents the event, which moves to Q2.
    ingest_file(con, write_csv(tmp_path / "a.csv", [acled_row(event_date="2024-04-02", timestamp="1712100000")]),
                "acled", as_of=dt.date(2024, 6, 30))
    result = refresh(con, dt.date(2024, 6, 30), watched=["PAK"])
    assert result.indicators.mode == "incremental" and links(con) == {"ucdp:7": "acled:PAK140001"}
    # Q1 no longer holds an event (the series now starts in Q2); without the link's dates in the refresh
    # scope Q1 would keep its old 1 and the attack would count twice.
    assert quarters().get("2024-01-01", 0) == 0 and quarters()["2024-04-01"] == 1
