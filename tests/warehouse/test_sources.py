"""Every source adapter on real data shapes: UCDP (both schemas), GTD (full and subset), BIJ, native."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.conftest import SAMPLE, shared, write_csv
from validation.ingest import ingest_file
from warehouse.countries import iso3
from warehouse.sources.mapping import MappingError, available, load_mapping

AS_OF = dt.date(2025, 12, 31)


def test_real_ucdp_file_loads_every_row_and_reingest_changes_nothing(con):
    path = SAMPLE / "ucdp_ged_pakistan.csv"
    run = ingest_file(con, path, "ucdp", as_of=AS_OF)
    assert (run.rows_read, run.inserted, run.rejected) == (5834, 5834, 0)
    loaded, spanning, low_high = con.execute(
        "SELECT count(*), count(*) FILTER (date_end > event_date), "
        "count(*) FILTER (fatalities_low IS NOT NULL AND fatalities_high IS NOT NULL) FROM incidents"
    ).fetchone()
    # Kept as published: in 200 rows of this old GED export best lies outside [low, high].
    assert (loaded, spanning, low_high) == (5834, 285, 5834)
    row = con.execute("SELECT event_date, date_end, date_precision, geo_precision, country_iso3, admin1, actor1, "
                      "actor2, fatalities, event_type, extra->>'relid' FROM incidents "
                      "WHERE source_event_id = '51720'").fetchone()
    assert row == (dt.date(1990, 3, 27), dt.date(1990, 3, 27), 1, 1, "PAK", "Sindh Province", "Mohajir", "Sindhi",
                   1, "Non-state conflict", "PAK-1990-2-X3576-6")
    forced = ingest_file(con, path, "ucdp", as_of=AS_OF, force=True)
    assert (forced.inserted, forced.updated, forced.unchanged) == (0, 0, 5834)


def test_current_ucdp_schema_best_high_low_and_iso_dates(con, tmp_path):
    rows = [{"id": "487651", "relid": "PAK-2024-1-X", "year": "2024", "type_of_violence": "1",
             "side_a": "Government of Iran", "side_b": "Jaish al-Adl", "country": "Pakistan",
             "adm_1": "Balochistan province", "adm_2": "Panjgur district", "where_coordinates": "Panjgur town",
             "latitude": "26.9644", "longitude": "64.0903", "where_prec": "2", "date_prec": "1",
             "date_start": "2024-01-16", "date_end": "2024-01-17", "best": "2", "high": "4", "low": "2",
             "source_headline": "Iran strikes militant bases in Pakistan"}]
    run = ingest_file(con, write_csv(tmp_path / "ged251.csv", rows), "ucdp", as_of=AS_OF)
    assert run.inserted == 1
    assert con.execute("SELECT event_date, date_end, fatalities, fatalities_low, fatalities_high, actor1, notes "
                       "FROM incidents").fetchone() == (
        dt.date(2024, 1, 16), dt.date(2024, 1, 17), 2, 2, 4, "Government of Iran",
        "Iran strikes militant bases in Pakistan")


def test_gtd_processed_subset_derives_stable_ids(con, tmp_path):
    path = shared("gtd/gtd_pakistan_2007_2018.csv")
    run = ingest_file(con, path, "gtd", as_of=AS_OF, defaults={"country": "Pakistan"})
    assert (run.rows_read, run.inserted, run.rejected) == (12237, 12237, 0)
    ids = {r[0] for r in con.execute("SELECT source_event_id FROM incidents").fetchall()}
    # A second warehouse gets the same ids from the same file: they depend on the row only.
    con.execute("DELETE FROM incident_current")
    ingest_file(con, path, "gtd", as_of=AS_OF, defaults={"country": "Pakistan"}, force=True)
    assert {r[0] for r in con.execute("SELECT source_event_id FROM incidents").fetchall()} == ids
    chinese = con.execute("SELECT count(*) FROM incidents WHERE target_name ILIKE '%chin%'").fetchone()[0]
    assert chinese >= 6


def test_gtd_full_export_with_unknown_day_and_month(con, tmp_path):
    base = {"iyear": "2018", "provstate": "Sindh", "city": "Karachi", "latitude": "24.8", "longitude": "67.0",
            "attacktype1_txt": "Armed Assault", "targtype1_txt": "Government (Diplomatic)",
            "corp1": "Chinese Consulate", "natlty1_txt": "China", "gname": "Baloch Liberation Army (BLA)",
            "nkill": "7", "country_txt": "Pakistan", "summary": "11/23/2018: Assailants attacked the Chinese "
            "consulate in Karachi."}
    rows = [{**base, "eventid": "201811230010", "imonth": "11", "iday": "23"},
            {**base, "eventid": "201811000001", "imonth": "11", "iday": "0"},
            {**base, "eventid": "201800000001", "imonth": "0", "iday": "0", "nkill": ""}]
    run = ingest_file(con, write_csv(tmp_path / "globalterrorismdb.csv", rows), "gtd", as_of=AS_OF)
    assert (run.inserted, run.rejected) == (3, 0)
    got = con.execute("SELECT source_event_id, event_date, date_precision, fatalities, target_nationality "
                      "FROM incidents ORDER BY 1").fetchall()
    assert got == [("201800000001", dt.date(2018, 1, 1), 5, None, "China"),
                   ("201811000001", dt.date(2018, 11, 1), 4, 7, "China"),
                   ("201811230010", dt.date(2018, 11, 23), 1, 7, "China")]


def test_bij_mapped_csv_mixed_dates_and_unreported(con):
    path = shared("bij_drone_strikes/bij_pakistan_drone_strikes.csv")
    run = ingest_file(con, path, "bij_drone_strikes", as_of=AS_OF)
    assert (run.rows_read, run.inserted, run.rejected) == (383, 383, 0)
    first = con.execute("SELECT event_date, perpetrator_iso3, country_iso3, fatalities, fatalities_high "
                        "FROM incidents WHERE source_event_id IN ('B1', 'B2') ORDER BY 1").fetchall()
    assert first == [(dt.date(2004, 6, 17), "USA", "PAK", 6, 8), (dt.date(2005, 5, 8), "USA", "PAK", 2, 2)]
    assert con.execute("SELECT min(event_date), max(event_date) FROM incidents").fetchone() == (
        dt.date(2004, 6, 17), dt.date(2013, 12, 25))


def test_native_csv_and_json(con, tmp_path):
    record = {"source_event_id": "K-2024-11-05", "event_date": "2024-11-05", "country": "Pakistan",
              "admin1": "Sindh", "location": "Karachi", "latitude": 24.86, "longitude": 67.01,
              "event_type": "Violence against civilians", "actor2": "Civilians (China)", "fatalities": 0,
              "notes": "A guard opened fire on two Chinese nationals.", "source_updated_at": "2024-11-06T10:00:00"}
    write_csv(tmp_path / "curated.csv", [record])
    (tmp_path / "curated.json").write_text(json.dumps([{**record, "source_event_id": "K-json"}]))
    (tmp_path / "curated.jsonl").write_text(json.dumps({**record, "source_event_id": "K-jsonl"}) + "\n")
    for name in ("curated.csv", "curated.json", "curated.jsonl"):
        assert ingest_file(con, tmp_path / name, "native", as_of=AS_OF).inserted == 1
    rows = con.execute("SELECT source_event_id, event_date, latitude, fatalities, source_updated_at FROM incidents "
                       "ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == ["K-2024-11-05", "K-json", "K-jsonl"]
    assert {r[1:] for r in rows} == {(dt.date(2024, 11, 5), 24.86, 0, dt.datetime(2024, 11, 6, 10))}


def test_custom_mapping_file_turns_any_csv_into_a_source(con, tmp_path):
    mapping = tmp_path / "press_log.yml"
    mapping.write_text(
        "name: press_log\nrequired: [ref, when, where]\nnull_values: ['n/a']\ncolumns:\n"
        "  source_event_id: ref\n  event_date: {column: when, formats: ['%d.%m.%Y']}\n"
        "  country: {const: Pakistan}\n  location: where\n  fatalities: killed\n"
        "  event_type: {const: Violence against civilians}\n"
    )
    f = write_csv(tmp_path / "log.csv", [{"ref": "1", "when": "05.11.2024", "where": "Karachi", "killed": "n/a"}])
    run = ingest_file(con, f, str(mapping), as_of=AS_OF)
    assert run.inserted == 1
    assert con.execute("SELECT incident_id, event_date, fatalities FROM incidents").fetchone() == (
        "press_log:1", dt.date(2024, 11, 5), None)


def test_unknown_source_and_bad_mapping_are_clear_errors(tmp_path):
    with pytest.raises(MappingError, match="unknown source 'acledd'"):
        load_mapping("acledd")
    bad = tmp_path / "bad.yml"
    bad.write_text("columns:\n  source_event_id: id\n  deaths: killed\n")
    with pytest.raises(MappingError, match="not canonical columns: deaths"):
        load_mapping(str(bad))
    assert {"acled", "ucdp", "gtd", "native", "bij_drone_strikes"} <= set(available())


@pytest.mark.parametrize("name,code", [
    ("Pakistan", "PAK"), ("Iran", "IRN"), ("Government of United States of America", "USA"),
    ("Military Forces of Iran (1989-)", "IRN"), ("Democratic Republic of Congo", "COD"), ("Turkey", "TUR"),
    ("China Market", None), ("Balochistan", None), ("Atlantis", None), ("", None),
])
def test_country_names_resolve_through_pycountry(name, code):
    assert iso3(name) == code
