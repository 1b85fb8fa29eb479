"""Meaning checks fire on crafted copies of the real problems (issue 15) and pass on clean data."""

from __future__ import annotations

import datetime as dt

from tests.conftest import acled_row, write_csv
from validation.ingest import ingest_file
from validation.meaning import check_meaning

AS_OF = dt.date(2024, 11, 10)


def load(con, tmp_path, rows: list[str]) -> None:
    f = tmp_path / "n.csv"
    f.write_text("source_event_id,event_date,date_precision,country,admin1\n" + "\n".join(rows) + "\n")
    ingest_file(con, f, "native", as_of=AS_OF)


def weekly(con, values: list[float]) -> None:
    start = dt.date(2024, 11, 4) - dt.timedelta(weeks=len(values) - 1)
    con.executemany("INSERT INTO indicator_value_rows VALUES ('political_violence_fatalities', 'PAK', 'week', ?, ?, "
                    "?, true, current_timestamp, ?)",
                    [(start + dt.timedelta(weeks=i), start + dt.timedelta(weeks=i, days=6), v, AS_OF)
                     for i, v in enumerate(values)])


def failed(con) -> dict[str, tuple]:
    return {r.check_name: (r.severity, r.unexpected_count, r.details["indicator"], r.details["message"])
            for r in check_meaning(con, AS_OF) if not r.success}


def test_clean_data_passes(con, tmp_path):
    load(con, tmp_path, [f"N{i},2024-10-0{i},1,Pakistan,Khyber Pakhtunkhwa" for i in range(1, 6)])
    weekly(con, [3, 4, 2, 5, 3] * 8)
    results = check_meaning(con, AS_OF)
    assert {r.check_name for r in results} >= {"admin1_resolves", "date_precision_fits_weekly",
                                               "weekly_values_within_trailing_year"}
    assert failed(con) == {}


def test_each_meaning_check_fires_on_its_crafted_problem(con, tmp_path):
    load(con, tmp_path, ["N1,2024-10-01,1,Pakistan,Khyber Pakhtunkhwa",
                         "N2,2024-10-02,1,Pakistan,K.P.K.",                         # no ISO name, no alias
                         "N3,2024-10-01,4,Pakistan,Punjab"] + [f"M{i},2024-10-03,1,Pakistan,Sindh" for i in range(9)])
    weekly(con, [3, 4, 2, 5, 3] * 8 + [1428])                                         # one impossible week
    con.execute("INSERT INTO incident_tag_rows (incident_id, tag, detail, rule, tagged_at) VALUES "
                "('native:N1', 'cross_border_strike', NULL, 'crafted', current_timestamp)")
    got = failed(con)
    assert got["admin1_resolves"][:2] == ("warning", 1) and "'K.P.K.'" in got["admin1_resolves"][3]
    assert got["date_precision_fits_weekly"][:2] == ("warning", 1) and "native:N3" in got[
        "date_precision_fits_weekly"][3]
    assert got["cross_border_strikes_have_evidence"][:3] == ("critical", 1, "cross_border_strikes")
    assert got["weekly_values_within_trailing_year"][:2] == ("warning", 1) and "2024-11-04" in got[
        "weekly_values_within_trailing_year"][3]
    assert "series_covered_where_valued" not in got   # no coverage column in this warehouse yet


def test_values_where_the_source_does_not_cover_the_series_fire(con, tmp_path):
    weekly(con, [3, 4, 2, 5, 3] * 8)
    con.execute("ALTER TABLE indicator_value_rows ADD COLUMN covered BOOLEAN")
    con.execute("UPDATE indicator_value_rows SET covered = period_start < DATE '2024-10-21'")
    got = failed(con)
    assert got["series_covered_where_valued"][:2] == ("warning", 3)   # three weeks valued after coverage ended


def test_an_unresolved_admin1_is_its_own_warning_naming_source_spelling_and_rows(con, tmp_path):
    """Spellings resolve as the indicators resolve them (places.yml aliases included): UCDP's 'Khyber Pakhtunkwa
    Province', 'N.W.F.P.' and FATA are PK-KP and pass; one that resolves to nothing is named with its rows."""
    load(con, tmp_path, ["N1,2024-10-01,1,Pakistan,Khyber Pakhtunkwa Province",
                         "N2,2024-10-01,1,Pakistan,N.W.F.P.",
                         "N3,2024-10-01,1,Pakistan,Federally Administered Tribal Areas",
                         "N4,2024-10-01,1,Pakistan,Balochistan Province",
                         "N5,2024-10-01,1,Pakistan,Pakhtoonkhwa",
                         "N6,2024-10-02,1,Pakistan,Pakhtoonkhwa",
                         "N7,2024-10-02,1,Pakistan,Makran Division"])
    ingest_file(con, write_csv(tmp_path / "c.csv", [acled_row(event_id_cnty="C1", admin1="Pakhtoonkhwa")]), "curated",
                as_of=AS_OF)
    [r] = [r for r in check_meaning(con, AS_OF) if r.check_name == "admin1_resolves"]
    assert (r.success, r.severity, r.unexpected_count, r.element_count) == (False, "warning", 3, 7)
    assert r.details["source"] == "curated, native"
    assert r.details["message"] == (
        "admin1 unresolved: 3 spellings (4 rows) resolve to no ISO 3166-2 subdivision, each keeps a series of its "
        "own (add it to warehouse/places.yml): native PAK 'Pakhtoonkhwa' 2 rows; curated PAK 'Pakhtoonkhwa' 1 row; "
        "native PAK 'Makran Division' 1 row")
