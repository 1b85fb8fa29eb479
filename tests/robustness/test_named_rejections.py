"""Values that used to load silently (NULL, a tab as an id, a NUL byte) or with the wrong reason are
named rejections: the row goes to rejected_incidents with its check, the rest of the file loads."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.conftest import acled_row, write_csv
from validation.ingest import ingest_file

AS_OF = dt.date(2025, 12, 31)
TS_FORMAT = "unexpected_rows_expectation(source_updated_at): unparseable revision time"
BETWEEN = "expect_column_values_to_be_between"

CASES = [
    ({"timestamp": "abc"}, TS_FORMAT + " 'abc'"),
    ({"timestamp": "-1"}, TS_FORMAT + " '-1'"),
    ({"timestamp": "1.5e9"}, TS_FORMAT + " '1.5e9'"),
    ({"timestamp": "99999999999999"}, "unparseable revision time '99999999999999'"),
    ({"timestamp": "99999999999"}, BETWEEN + "(source_updated_at): impossible revision time 99999999999"),
    ({"event_id_cnty": "\t"}, 'expect_column_values_to_not_match_regex(source_event_id): id "\\t" is blank'),
    ({"event_id_cnty": "PAK\n1"}, 'id "PAK\\n1" is blank or holds a control character'),
    ({"event_id_cnty": "\u00a0"}, "expect_column_values_to_not_match_regex(source_event_id)"),
    ({"notes": "before\x00after"}, "expect_column_values_to_be_null(_nul_columns): NUL byte in notes"),
    ({"actor2": "x\x00"}, "NUL byte in actor2"),
    ({"fatalities": "99999999999"}, BETWEEN + "(fatalities): fatalities 99999999999 out of range"),
    ({"fatalities": "2.5"}, "_match_regex(fatalities): fatalities 2.5 is not a whole number"),
    ({"fatalities": "-3"}, BETWEEN + "(fatalities): negative fatalities -3"),
    ({"geo_precision": "99999999999"}, BETWEEN + "(geo_precision): geo_precision 99999999999 out of range"),
    ({"geo_precision": "abc"}, "_match_regex(geo_precision): geo_precision 'abc' is not a number"),
    ({"time_precision": "1.5"}, "(date_precision): date_precision 1.5 is not a whole number"),
]


@pytest.mark.parametrize(("override", "reason"), CASES, ids=[json.dumps(c[0]) for c in CASES])
def test_bad_value_is_a_named_rejection_and_the_rest_loads(con, tmp_path, override, reason):
    good = [acled_row(event_id_cnty=f"PAK{i}") for i in range(4)]
    f = write_csv(tmp_path / "acled.csv", [*good, acled_row(**{"event_id_cnty": "BAD1", **override})])
    run = ingest_file(con, f, "acled", as_of=AS_OF)
    assert (run.status, run.inserted, run.rejected) == ("success", 4, 1)
    (line, got), = con.execute("SELECT line, reason FROM rejected_incidents").fetchall()
    assert reason in got and line == 6
    assert con.execute("SELECT list(source_event_id ORDER BY 1) FROM incidents").fetchone()[0] == [
        f"PAK{i}" for i in range(4)]


def test_valid_values_next_to_the_bad_ones_still_load(con, tmp_path):
    f = write_csv(tmp_path / "acled.csv", [
        acled_row(event_id_cnty="PAK1", timestamp="1728500000", fatalities="0", geo_precision="3"),
        acled_row(event_id_cnty="PAK2", timestamp="", fatalities="", notes="tab\tand newline\nare fine in notes"),
    ])
    run = ingest_file(con, f, "acled", as_of=AS_OF)
    assert (run.inserted, run.rejected) == (2, 0)
    assert con.execute("SELECT source_updated_at IS NULL, fatalities FROM incidents ORDER BY 1").fetchall() == [
        (False, 0), (True, None)]


def test_native_json_nul_escape_and_iso_revision_time(con, tmp_path):
    f = tmp_path / "curated.json"
    f.write_text(json.dumps([
        *({"source_event_id": f"N1{i}", "event_date": "2024-10-06", "country": "Pakistan",
           "source_updated_at": "2024-10-07T10:00:00"} for i in range(9)),
        {"source_event_id": "N2", "event_date": "2024-10-06", "country": "Pakistan", "notes": "a\u0000b"},
        {"source_event_id": "N3", "event_date": "2024-10-06", "country": "Pakistan", "source_updated_at": "soon"},
        {"source_event_id": "N4", "event_date": "2024-10-06", "country": "Pakistan", "fatalities_high": "1e12"},
    ]))
    run = ingest_file(con, f, "native", as_of=AS_OF)
    assert (run.inserted, run.rejected) == (9, 3)
    reasons = [r for (r,) in con.execute("SELECT reason FROM rejected_incidents ORDER BY line").fetchall()]
    assert ["NUL byte in notes" in reasons[0], "revision time 'soon'" in reasons[1],
            "fatalities_high 1e12 out of range" in reasons[2]] == [True, True, True]
