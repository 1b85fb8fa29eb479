"""Places at their true identity: admin1 -> ISO 3166-2 (pycountry + warehouse/places.yml), admin2 normalised."""

from __future__ import annotations

import datetime as dt

import pytest

from indicators.compute import compute_indicators
from indicators.definitions import load_definitions
from tests.conftest import SAMPLE, shared, write_csv
from validation.ingest import ingest_file
from warehouse.places import refresh_places, resolve_admin1, unresolved_admin1

AS_OF = dt.date(2025, 12, 31)
WEEKLY = {k: v for k, v in load_definitions().items()
          if k in ("political_violence_events", "political_violence_fatalities")}


@pytest.mark.parametrize(("country", "name", "code"), [
    ("PAK", "Khyber Pakhtunkhwa", "PK-KP"),             # ACLED / GTD
    ("PAK", "Khyber Pakhtunkwa Province", "PK-KP"),     # UCDP (misspelt, with 'Province')
    ("PAK", "N.W.F.P.", "PK-KP"),                       # the name before 2010
    ("PAK", "Federally Administered Tribal Areas", "PK-KP"),  # merged in 2018: one consistent series
    ("PAK", "Balochistan Province", "PK-BA"),
    ("PAK", "balochistan", "PK-BA"),
    ("PAK", "Azad Jammu & Kashmir", "PK-JK"),
    ("PAK", "Azad Kashmir", "PK-JK"),
    ("PAK", "Islamabad Capital Territory", "PK-IS"),
    ("PAK", "Baluchistan", "PK-BA"),                    # spellings links.yml used to map itself
    ("PAK", "Federally Administered Tribal Areas Province", "PK-KP"),
    ("PAK", "Azad Kashmir Province", "PK-JK"),
    ("PAK", "Sindh Province", "PK-SD"),
    ("PAK", "Punjab", "PK-PB"),
    ("IND", "Punjab", "IN-PB"),                         # the country decides which Punjab
    ("AFG", "Herat", "AF-HER"),                         # accents ignored: pycountry writes Herāt
    ("PAK", "Atlantis", None),
    ("PAK", "", None),
    (None, "Sindh", None),
])
def test_admin1_spellings_resolve_to_iso_3166_2(country, name, code):
    assert resolve_admin1(country, name)[0] == code


def test_display_name_is_the_current_name():
    assert resolve_admin1("PAK", "N.W.F.P.") == ("PK-KP", "Khyber Pakhtunkhwa")
    assert resolve_admin1("PAK", "Azad Kashmir") == ("PK-JK", "Azad Jammu and Kashmir")


def test_an_alias_to_no_iso_code_is_refused(tmp_path):
    bad = tmp_path / "places.yml"
    bad.write_text("admin1:\n  PAK:\n    FATA: PK-TA\n")
    with pytest.raises(ValueError, match="PK-TA.*no ISO 3166-2 code"):
        resolve_admin1("PAK", "FATA", bad)


def _native(**row) -> dict:
    return {"event_date": "2024-11-05", "country": "Pakistan", "event_type": "Battles", "fatalities": "1", **row}


def test_one_province_one_series_whatever_the_spelling(con, tmp_path):
    rows = [_native(source_event_id="a", admin1="Khyber Pakhtunkhwa", admin2="North Waziristan"),
            _native(source_event_id="b", admin1="Khyber Pakhtunkwa Province", admin2="North Waziristan Agency",
                    latitude="33.0", longitude="70.1"),
            _native(source_event_id="c", admin1="Federally Administered Tribal Areas", admin2="NWA",
                    latitude="33.1", longitude="70.2"),
            _native(source_event_id="d", admin1="Balochistan Province", admin2="Quetta District",
                    latitude="30.2", longitude="67.0"),
            _native(source_event_id="e", admin1="Makran Coast", latitude="25.2", longitude="62.3"),  # no ISO unit
            _native(source_event_id="f", latitude="25.3", longitude="62.3")]                        # no admin1
    ingest_file(con, write_csv(tmp_path / "n.csv", rows), "native", as_of=AS_OF)
    assert refresh_places(con) == {"admin1": 5, "admin1_unresolved": 1, "admin2": 4}
    got = con.execute("SELECT source_event_id, admin1_code, admin1_name, admin2_norm FROM incidents "
                      "ORDER BY 1").fetchall()
    assert got == [("a", "PK-KP", "Khyber Pakhtunkhwa", "North Waziristan"),
                   ("b", "PK-KP", "Khyber Pakhtunkhwa", "North Waziristan"),
                   ("c", "PK-KP", "Khyber Pakhtunkhwa", "North Waziristan"),   # BIJ-style 'NWA'
                   ("d", "PK-BA", "Balochistan", "Quetta"),
                   ("e", None, None, None), ("f", None, None, None)]
    assert unresolved_admin1(con) == [{"country_iso3": "PAK", "name": "Makran Coast"}]
    compute_indicators(con, dt.date(2024, 11, 10), watched=["PAK"], definitions=WEEKLY)
    series = con.execute("SELECT series, series_label(series), value FROM indicator_values "
                         "WHERE indicator = 'political_violence_events' AND period_start = '2024-11-04' "
                         "ORDER BY 1").fetchall()
    # Three spellings of one province: one series keyed by the code, shown by its current name; an
    # unresolvable spelling keeps its own series (visible, not merged into 'unknown').
    assert series == [("PAK:Makran Coast", "PAK:Makran Coast", 1), ("PAK:PK-BA", "PAK: Balochistan", 1),
                      ("PAK:PK-KP", "PAK: Khyber Pakhtunkhwa", 3), ("PAK:unknown", "PAK:unknown", 1)]


def test_places_yml_change_recomputes_the_series(con, tmp_path, monkeypatch):
    """The series keys depend on places.yml: a change to it is a definitions change (full recompute)."""
    ingest_file(con, write_csv(tmp_path / "n.csv", [_native(source_event_id="a", admin1="Tribal Areas")]),
                "native", as_of=AS_OF)
    first = compute_indicators(con, dt.date(2024, 11, 10), watched=["PAK"], definitions=WEEKLY)
    assert first.mode == "full"
    assert compute_indicators(con, dt.date(2024, 11, 10), watched=["PAK"], definitions=WEEKLY).mode == "unchanged"
    import warehouse.places as places

    edited = tmp_path / "places.yml"
    edited.write_text(places.PLACES.read_text(encoding="utf-8").replace("Tribal Areas: PK-KP", "Tribal Areas: PK-GB"))
    monkeypatch.setattr(places, "PLACES", edited)
    assert compute_indicators(con, dt.date(2024, 11, 10), watched=["PAK"], definitions=WEEKLY).mode == "full"
    assert con.execute("SELECT DISTINCT series FROM indicator_values WHERE value > 0").fetchall() == [("PAK:PK-GB",)]


def test_ucdp_and_gtd_give_at_most_nine_pakistan_admin1_series(con):
    ingest_file(con, SAMPLE / "ucdp_ged_pakistan.csv", "ucdp", as_of=AS_OF)
    ingest_file(con, shared("gtd/gtd_pakistan_2007_2018.csv"), "gtd", as_of=AS_OF, defaults={"country": "Pakistan"})
    compute_indicators(con, AS_OF, watched=["PAK"], definitions=WEEKLY)
    series = [r[0] for r in con.execute(
        "SELECT DISTINCT series FROM indicator_values WHERE indicator = 'political_violence_events' ORDER BY 1"
    ).fetchall()]
    spellings = con.execute("SELECT count(DISTINCT admin1) FROM incidents").fetchone()[0]
    print(f"\nUCDP + GTD: {spellings} admin1 spellings -> {len(series)} weekly series: {series}")
    assert len(series) <= 9 and spellings == 13   # + NULL admin1: the 14 series of issue 12
    assert series == ["PAK:PK-BA", "PAK:PK-GB", "PAK:PK-IS", "PAK:PK-JK", "PAK:PK-KP", "PAK:PK-PB", "PAK:PK-SD",
                      "PAK:unknown"]
    assert unresolved_admin1(con) == []


def test_an_admin2_spelling_that_names_no_district_has_no_admin2_norm(con, tmp_path):
    # BIJ writes the province ('KPK') or two agencies ('NWA/SWA') in its agency column: no district to compare.
    rows = [_native(source_event_id="a", admin1="Khyber Pakhtunkhwa", admin2="KPK"),
            _native(source_event_id="b", admin1="Federally Administered Tribal Areas", admin2="NWA/SWA Border"),
            _native(source_event_id="c", admin1="Federally Administered Tribal Areas", admin2="SWA")]
    ingest_file(con, write_csv(tmp_path / "n.csv", rows), "native", as_of=AS_OF)
    refresh_places(con)
    assert con.execute("SELECT source_event_id, admin2, admin2_norm FROM incidents ORDER BY 1").fetchall() == [
        ("a", "KPK", None), ("b", "NWA/SWA Border", None), ("c", "SWA", "South Waziristan")]
