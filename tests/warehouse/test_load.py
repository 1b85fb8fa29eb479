"""Loading semantics on real-shaped ACLED rows: upserts, revisions, deletions, atomicity."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import ACLED_COLUMNS, acled_row, write_csv
from validation.ingest import IngestRefused, ingest_file
from warehouse import versions

AS_OF = dt.date(2025, 12, 31)


def snapshot(con) -> dict:
    """Everything a load may touch, to compare before/after."""
    tables = ["incident_current", "incident_history", "rejected_rows", "country_names"]
    state = {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}
    state["runs_ok"] = con.execute("SELECT count(*) FROM ingest_runs WHERE status = 'success'").fetchone()
    return state


def test_both_acled_date_styles_and_inter_codes(con, tmp_path):
    f = write_csv(tmp_path / "a.csv", [
        acled_row(event_id_cnty="PAK1", event_date="2024-10-06", inter1="Rebel group"),
        acled_row(event_id_cnty="PAK2", event_date="06 October 2024", inter1="2", inter2="7"),
    ])
    run = ingest_file(con, f, "acled", as_of=AS_OF)
    assert (run.inserted, run.rejected) == (2, 0)
    rows = con.execute("SELECT incident_id, event_date, inter1, inter2, country_iso3, source_updated_at "
                       "FROM incidents ORDER BY 1").fetchall()
    assert rows[0][:5] == ("acled:PAK1", dt.date(2024, 10, 6), "Rebel group", "Civilians", "PAK")
    assert rows[1][:5] == ("acled:PAK2", dt.date(2024, 10, 6), "Rebel group", "Civilians", "PAK")
    assert rows[0][5] == dt.datetime(2024, 10, 9, 18, 53, 20)


def test_reingest_same_file_is_recognised_and_changes_nothing(con, tmp_path):
    f = write_csv(tmp_path / "a.csv", [acled_row(event_id_cnty=f"PAK{i}") for i in range(5)])
    ingest_file(con, f, "acled", as_of=AS_OF)
    before = snapshot(con)
    again = ingest_file(con, f, "acled", as_of=AS_OF)
    assert again.status == "skipped" and "nothing changed" in again.message
    forced = ingest_file(con, f, "acled", as_of=AS_OF, force=True)
    assert (forced.inserted, forced.updated, forced.unchanged) == (0, 0, 5)
    after = snapshot(con)
    assert after["incident_current"] == before["incident_current"]
    assert after["incident_history"] == before["incident_history"] == []


def test_newer_revision_updates_and_keeps_history(con, tmp_path):
    ingest_file(con, write_csv(tmp_path / "v1.csv", [acled_row(fatalities="3", timestamp="1728500000")]),
                "acled", as_of=AS_OF)
    run = ingest_file(con, write_csv(tmp_path / "v2.csv", [acled_row(fatalities="4", timestamp="1729000000")]),
                      "acled", as_of=AS_OF)
    assert (run.updated, run.inserted) == (1, 0)
    assert con.execute("SELECT fatalities FROM incidents").fetchall() == [(4,)]
    versions = con.execute("SELECT fatalities, valid_to IS NULL FROM incident_versions ORDER BY valid_from, "
                           "valid_to NULLS LAST").fetchall()
    assert versions == [(3, False), (4, True)]
    first_seen = con.execute("SELECT DISTINCT first_ingested_at FROM incident_versions").fetchall()
    assert len(first_seen) == 1   # a revision keeps the date the incident was first seen


def test_older_or_equal_revision_is_ignored(con, tmp_path):
    ingest_file(con, write_csv(tmp_path / "v2.csv", [acled_row(fatalities="4", timestamp="1729000000")]),
                "acled", as_of=AS_OF)
    older = ingest_file(con, write_csv(tmp_path / "v1.csv", [acled_row(fatalities="3", timestamp="1728500000")]),
                        "acled", as_of=AS_OF)
    equal = ingest_file(con, write_csv(tmp_path / "v2b.csv", [acled_row(fatalities="9", timestamp="1729000000")]),
                        "acled", as_of=AS_OF)
    assert (older.updated, older.unchanged, equal.updated, equal.unchanged) == (0, 1, 0, 1)
    assert con.execute("SELECT fatalities FROM incidents").fetchall() == [(4,)]


def test_deletions_file_removes_incident_from_view_but_keeps_history(con, tmp_path):
    ingest_file(con, write_csv(tmp_path / "a.csv", [acled_row(event_id_cnty="PAK1"),
                                                   acled_row(event_id_cnty="PAK2")]), "acled", as_of=AS_OF)
    deletions = tmp_path / "deleted.csv"
    deletions.write_text("event_id_cnty,deleted_timestamp\nPAK1,1730000000\nPAK404,1730000000\n")
    run = ingest_file(con, deletions, "acled", as_of=AS_OF)
    assert (run.kind, run.deleted, run.unchanged) == ("deletions", 1, 1)
    assert [r[0] for r in con.execute("SELECT incident_id FROM incidents").fetchall()] == ["acled:PAK2"]
    assert con.execute("SELECT count(*) FROM incident_versions WHERE incident_id = 'acled:PAK1'").fetchone() == (2,)
    # An export made before the deletion does not bring the event back.
    again = ingest_file(con, write_csv(tmp_path / "old.csv", [acled_row(event_id_cnty="PAK1")]), "acled",
                        as_of=AS_OF)
    assert again.unchanged == 1 and con.execute("SELECT count(*) FROM incidents").fetchone() == (1,)


REJECTIONS = [
    ({"event_id_cnty": ""}, "expect_column_values_to_not_be_null(source_event_id): missing id"),
    ({"event_date": "31/31/2024"}, "expect_column_values_to_not_be_null(event_date): unparseable"),
    ({"event_date": "2024-02-30"}, "expect_column_values_to_not_be_null(event_date): unparseable"),
    ({"event_date": "2031-01-01"}, "expect_column_values_to_be_between(event_date): impossible date 2031-01-01"),
    ({"event_date": "1850-01-01"}, "expect_column_values_to_be_between(event_date): impossible date 1850"),
    ({"latitude": "124.5"}, "expect_column_values_to_be_between(latitude): latitude 124.5 out of range"),
    ({"latitude": "north"}, "expect_column_values_to_match_regex(latitude): latitude 'north' is not a number"),
    ({"longitude": "-190"}, "expect_column_values_to_be_between(longitude): longitude -190 out of range"),
    ({"fatalities": "-2"}, "expect_column_values_to_be_between(fatalities): negative fatalities -2"),
    ({"fatalities": "many"}, "expect_column_values_to_match_regex(fatalities): fatalities 'many' is not a number"),
    ({"fatalities": "2.5"}, "expect_column_values_to_match_regex(fatalities): fatalities 2.5 is not a whole"),
    ({"country": "Atlantis"}, "expect_column_values_to_be_in_set(country): unknown country 'Atlantis'"),
    ({"country": ""}, "expect_column_values_to_not_be_null(country): missing country"),
]


@pytest.mark.parametrize("bad,reason", REJECTIONS, ids=[r[1].split(":")[0] + str(i) for i, r in enumerate(REJECTIONS)])
def test_each_rejection_reason_is_quarantined_with_line_and_raw(con, tmp_path, bad, reason):
    rows = [acled_row(event_id_cnty=f"PAK{i}") for i in range(7)]
    rows[0]["notes"] = "A note\nspanning two lines"   # quoted newline: line numbers must still be right
    rows[4] = acled_row(**{"event_id_cnty": "PAKBAD", **bad})
    f = write_csv(tmp_path / "bad.csv", rows)
    run = ingest_file(con, f, "acled", as_of=AS_OF)
    assert (run.inserted, run.rejected, run.rows_read) == (6, 1, 7)
    (source, file, line, got, raw), = con.execute(
        "SELECT source, file, line, reason, raw FROM rejected_incidents").fetchall()
    assert got.startswith(reason), got
    assert (source, file, line) == ("acled", str(f), 7)   # header + 2-line record + 3 rows before it
    assert '"event_id_cnty":' in raw and (bad.get("event_id_cnty", "PAKBAD") in raw)


def test_duplicate_id_in_file_keeps_latest_revision_and_rejects_the_other(con, tmp_path):
    rows = [acled_row(fatalities="1", timestamp="1728500000"), acled_row(fatalities="2", timestamp="1729500000")]
    rows += [acled_row(event_id_cnty=f"PAK{i}") for i in range(4)]
    run = ingest_file(con, write_csv(tmp_path / "dup.csv", rows), "acled", as_of=AS_OF)
    assert (run.inserted, run.rejected) == (5, 1)
    assert con.execute("SELECT fatalities FROM incidents WHERE source_event_id = 'PAK140001'").fetchall() == [(2,)]
    assert con.execute("SELECT line, reason LIKE 'expect_column_values_to_be_unique%' "
                       "FROM rejected_incidents").fetchall() == [(2, True)]


def test_malformed_csv_row_is_quarantined_with_its_text(con, tmp_path):
    f = write_csv(tmp_path / "m.csv", [acled_row(event_id_cnty=f"PAK{i}") for i in range(5)])
    with f.open("a") as fh:
        fh.write("PAK99,2024-10-06,too,few,fields\r\n")
    run = ingest_file(con, f, "acled", as_of=AS_OF)
    assert (run.inserted, run.rejected) == (5, 1)
    line, reason, raw = con.execute("SELECT line, reason, raw FROM rejected_incidents").fetchone()
    assert (line, raw) == (7, "PAK99,2024-10-06,too,few,fields") and reason.startswith("malformed CSV row")


@pytest.mark.parametrize("content,message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not a text file"),
    (b"", "empty"),
    (b"event_id_cnty,event_date\nPAK1,2024-10-06\n", "missing required column(s) event_type, country"),
    (b"{\"not\": \"a csv\"}\n", "not a CSV file"),
])
def test_refused_file_leaves_warehouse_unchanged(con, tmp_path, content, message):
    ingest_file(con, write_csv(tmp_path / "ok.csv", [acled_row()]), "acled", as_of=AS_OF)
    before = snapshot(con)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    with pytest.raises(IngestRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        ingest_file(con, bad, "acled", as_of=AS_OF)
    assert snapshot(con) == before


def test_too_many_rejected_rows_refuse_the_whole_file(con, tmp_path):
    rows = [acled_row(event_id_cnty=f"PAK{i}", latitude="999" if i % 2 else "24.9") for i in range(8)]
    with pytest.raises(IngestRefused, match=r"4 of 8 rows \(50%\) fail checks, over the 25% limit"):
        ingest_file(con, write_csv(tmp_path / "half.csv", rows), "acled", as_of=AS_OF)
    assert con.execute("SELECT count(*) FROM incident_current").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM rejected_rows").fetchone() == (0,)
    assert con.execute("SELECT status FROM ingest_runs").fetchall() == [("refused",)]


def test_crash_in_the_middle_of_a_load_leaves_warehouse_unchanged(con, tmp_path, monkeypatch):
    ingest_file(con, write_csv(tmp_path / "v1.csv", [acled_row(event_id_cnty=f"PAK{i}") for i in range(10)]),
                "acled", as_of=AS_OF)
    before = snapshot(con)
    real = versions.archive

    def crash_after_history_written(*args, **kwargs):
        real(*args, **kwargs)   # half done: history written, current rows not yet revised
        raise RuntimeError("power cut")

    monkeypatch.setattr(versions, "archive", crash_after_history_written)
    revised = [acled_row(event_id_cnty=f"PAK{i}", fatalities="7", timestamp="1739000000") for i in range(10)]
    revised += [acled_row(event_id_cnty=f"NEW{i}") for i in range(10)]
    with pytest.raises(RuntimeError, match="power cut"):
        ingest_file(con, write_csv(tmp_path / "v2.csv", revised), "acled", as_of=AS_OF)
    assert snapshot(con) == before
    assert con.execute("SELECT status, message FROM ingest_runs ORDER BY run_id DESC LIMIT 1").fetchone() == (
        "failed", "power cut")
    monkeypatch.setattr(versions, "archive", real)
    run = ingest_file(con, tmp_path / "v2.csv", "acled", as_of=AS_OF)
    assert (run.inserted, run.updated) == (10, 10)


def test_columns_in_any_order_and_extra_columns_kept_losslessly(con, tmp_path):
    cols = list(reversed(ACLED_COLUMNS)) + ["analyst_comment"]
    f = write_csv(tmp_path / "r.csv", [acled_row(analyst_comment="check with Dawn")], columns=cols)
    ingest_file(con, f, "acled", as_of=AS_OF)
    extra = con.execute("SELECT extra->>'analyst_comment', extra->>'iso' FROM incidents").fetchone()
    assert extra == ("check with Dawn", "586")
