"""Ingest checks: GX expectations on the staged columns decide what is quarantined; results stored; critical
failures and GX evaluation errors refuse the file."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import SAMPLE, acled_row, write_csv
from validation import ingest as batch_checks
from validation import row_rules
from validation.ingest import IngestRefused, ingest_file, source_vocabulary
from warehouse.canonical import CHECKED_TEXT, COLUMNS, NUL_COLUMNS

AS_OF = dt.date(2025, 12, 31)


def stored(con, **where) -> dict[str, tuple]:
    """check_name -> (success, severity, unexpected_count, indicator, message) of stored incident results."""
    cond = "".join(f" AND {k} = ?" for k in where)
    rows = con.execute(f"SELECT check_name, success, severity, unexpected_count, indicator, message "
                       f"FROM validation_results WHERE suite = 'incidents'{cond} ORDER BY run_id", list(where.values()))
    return {r[0]: r[1:] for r in rows.fetchall()}


def state(con) -> dict:
    tables = ["incident_current", "rejected_rows", "validation_runs", "validation_results"]
    return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}


def rows(n: int, prefix: str = "PAK", **overrides) -> list[dict]:
    return [acled_row(event_id_cnty=f"{prefix}{i}", **overrides) for i in range(n)]


@pytest.mark.parametrize(("path", "source", "count"), [
    (SAMPLE / "ucdp_ged_pakistan.csv", "ucdp", 5834), (SAMPLE / "curated_pakistan_acled.csv", "curated", 97)])
def test_bundled_samples_pass_every_check_and_results_are_stored(con, monkeypatch, path, source, count):
    returned = []
    real = batch_checks.check_batch

    def spy(*args, **kwargs):
        returned.extend(real(*args, **kwargs))
        return returned

    monkeypatch.setattr(batch_checks, "check_batch", spy)
    run = ingest_file(con, path, source, as_of=AS_OF)
    assert run.rejected == 0
    results = stored(con, source=source)
    assert {r.check_name for r in returned} == set(results)
    assert "event_type_in_vocabulary" in results and "expect_column_values_to_be_between(latitude)" in results
    assert {"rejected_fraction", "rows_vs_previous_export", "columns_suddenly_null", "unique_ids_loaded",
            "coordinates_share_vs_source",
            "expect_column_pair_values_a_to_be_greater_than_b(date_end)"} <= set(results)
    assert all(ok for ok, *_ in results.values()), results
    assert all(indicator is None and message.startswith(f"{path.name} (ingest run {run.run_id})")
               for _, _, _, indicator, message in results.values())
    assert {r.element_count for r in returned if r.expectation == "expect_column_values_to_be_in_set"} == {count}
    assert con.execute("SELECT success, critical_failures, as_of, kind FROM validation_runs").fetchall() == [
        (True, 0, AS_OF, "ingest")]


@pytest.mark.parametrize(("override", "check"), [
    ({"latitude": "99.5"}, "expect_column_values_to_be_between(latitude)"),
    ({"longitude": "east"}, "expect_column_values_to_match_regex(longitude)"),
    ({"event_date": "2999-01-01"}, "expect_column_values_to_be_between(event_date)"),
    ({"event_date": "sometime"}, "expect_column_values_to_not_be_null(event_date)"),
    ({"fatalities": "2.5"}, "expect_column_values_to_match_regex(fatalities)#13"),
    ({"fatalities": "-2"}, "expect_column_values_to_be_between(fatalities)"),
    ({"country": "Atlantis"}, "expect_column_values_to_be_in_set(country)"),
    ({"event_id_cnty": ""}, "expect_column_values_to_not_be_null(source_event_id)"),
    ({"event_id_cnty": "PAK1"}, "expect_column_values_to_be_unique(source_event_id)"),
])
def test_each_row_check_fails_on_a_bad_row_which_is_quarantined(con, tmp_path, override, check):
    bad = acled_row(**{"event_id_cnty": "BAD", **override})
    run = ingest_file(con, write_csv(tmp_path / "a.csv", rows(5) + [bad]), "acled", as_of=AS_OF)
    assert (run.inserted, run.rejected) == (5, 1)
    results = stored(con)
    ok, severity, unexpected, _, message = results[check]
    # GX's unexpected rows: both copies of a repeated id; the newest copy loads.
    assert (ok, severity, unexpected) == (False, "warning", 2 if "unique" in check else 1)
    reason = con.execute("SELECT reason FROM rejected_incidents").fetchone()[0]
    assert reason.startswith(check.split("#")[0] + ":") and f"line 7: {reason}" in message
    assert all(r[0] for name, r in results.items() if name != check)


def test_end_dates_unparseable_or_before_the_start_are_quarantined(con, tmp_path):
    f = tmp_path / "n.csv"
    f.write_text("source_event_id,event_date,date_end,country\nN1,2024-03-01,2024-03-05,Pakistan\n"
                 "N2,2024-03-01,2024-02-20,Pakistan\nN3,2024-03-01,next week,Pakistan\nN4,2024-03-01,,Pakistan\n"
                 + "".join(f"M{i},2024-03-01,,Pakistan\n" for i in range(8)))
    run = ingest_file(con, f, "native", as_of=AS_OF)
    assert (run.inserted, run.rejected) == (10, 2)
    assert con.execute("SELECT line, reason FROM rejected_incidents ORDER BY line").fetchall() == [
        (3, "expect_column_pair_values_a_to_be_greater_than_b(date_end): end date 2024-02-20 before start date "
            "2024-03-01"),
        (4, "unexpected_rows_expectation(date_end): unparseable end date 'next week'")]


def test_an_invalid_newest_revision_leaves_the_valid_older_one_to_load(con, tmp_path):
    batch = rows(5) + [acled_row(event_id_cnty="PAK1", latitude="123", timestamp="1739000000")]
    run = ingest_file(con, write_csv(tmp_path / "a.csv", batch), "acled", as_of=AS_OF)
    assert (run.inserted, run.rejected) == (5, 1)
    results = stored(con)
    assert results["expect_column_values_to_be_between(latitude)"][:3] == (False, "warning", 1)
    # GX sees the id twice; the invalid copy is quarantined for its latitude and the other loads.
    assert results["expect_column_values_to_be_unique(source_event_id)"][:3] == (False, "warning", 2)
    assert results["unique_ids_loaded"][0] is True
    assert con.execute("SELECT reason LIKE 'expect_column_values_to_be_between(latitude)%' "
                       "FROM rejected_incidents").fetchall() == [(True,)]


def test_event_type_outside_the_source_vocabulary_is_a_warning_and_loads(con, tmp_path):
    batch = rows(3) + rows(2, "X", event_type="Bombing") + rows(1, "Y", event_type="")
    run = ingest_file(con, write_csv(tmp_path / "a.csv", batch), "acled", as_of=AS_OF)
    assert (run.inserted, run.rejected) == (6, 0)
    ok, severity, unexpected, _, message = stored(con)["event_type_in_vocabulary"]
    assert (ok, severity, unexpected) == (False, "warning", 2)   # GX: a missing value is not outside the set
    assert "'Bombing' (2)" in message
    assert con.execute("SELECT check_name FROM validation_results WHERE NOT success").fetchall() == [
        ("event_type_in_vocabulary",)]
    assert con.execute("SELECT count(*) FROM failed_checks").fetchone() == (0,)   # ingest warnings never gate


def test_vocabularies_come_from_the_mapping_files_and_follow_extends():
    assert "Battles" in source_vocabulary("acled")["event_type"]
    assert source_vocabulary("curated") == source_vocabulary("acled")
    assert source_vocabulary("ucdp")["event_type"] == ["State-based conflict", "Non-state conflict",
                                                      "One-sided violence"]
    assert "Bombing/Explosion" in source_vocabulary("gtd")["event_type"]
    assert source_vocabulary("bij_drone_strikes") == {} and source_vocabulary("no_such_source") == {}


def test_too_many_rejected_rows_refuse_and_nothing_is_stored(con, tmp_path):
    batch = rows(6) + rows(3, "BAD", latitude="123")
    with pytest.raises(IngestRefused, match=r"3 of 9 rows \(33%\) fail checks, over the 25% limit"):
        ingest_file(con, write_csv(tmp_path / "a.csv", batch), "acled", as_of=AS_OF)
    assert all(not v for v in state(con).values())


def test_a_column_suddenly_all_null_refuses_the_batch(con, tmp_path):
    ingest_file(con, write_csv(tmp_path / "jan.csv", rows(30)), "acled", as_of=AS_OF)
    before = state(con)
    with pytest.raises(IngestRefused, match=r"column\(s\) admin1, notes empty in all 25 rows but filled in >= 50% "
                                            r"of acled's 30 current incidents"):
        ingest_file(con, write_csv(tmp_path / "feb.csv", rows(25, "NEW", admin1="", notes="")), "acled", as_of=AS_OF)
    assert state(con) == before
    # Small batches may legitimately lack a column; another source has no history to compare with.
    ingest_file(con, write_csv(tmp_path / "small.csv", rows(19, "S", admin1="")), "acled", as_of=AS_OF)
    ingest_file(con, write_csv(tmp_path / "cur.csv", rows(25, "C", admin1="")), "curated", as_of=AS_OF)
    assert stored(con, source="curated")["columns_suddenly_null"][0] is True


def test_a_reexport_with_less_than_half_the_rows_is_refused(con, tmp_path):
    (tmp_path / "may").mkdir()
    (tmp_path / "jun").mkdir()
    ingest_file(con, write_csv(tmp_path / "may" / "acled_pak.csv", rows(40)), "acled", as_of=AS_OF)
    before = state(con)
    with pytest.raises(IngestRefused, match=r"18 rows, down 55% from the 40 rows of the previous export .*"
                                            r"acled_pak.csv \(ingest run 1\)"):
        ingest_file(con, write_csv(tmp_path / "jun" / "acled_pak.csv", rows(18)), "acled", as_of=AS_OF)
    assert state(con) == before
    # Exactly half is allowed; a different file name (a delta) is not compared; the limit is a parameter.
    ingest_file(con, write_csv(tmp_path / "jun" / "acled_pak.csv", rows(20, "B")), "acled", as_of=AS_OF)
    ingest_file(con, write_csv(tmp_path / "jun" / "acled_delta.csv", rows(2, "D")), "acled", as_of=AS_OF)
    assert stored(con)["rows_vs_previous_export"][0] is True


def test_gx_evaluation_error_refuses_the_load(con, tmp_path, monkeypatch):
    real = row_rules.row_rules

    def broken():  # a rule pointing at a column that is not there
        return [*real(), row_rules.RowRule("expect_column_values_to_not_be_null", {"column": "no_such_column"}, "'?'")]

    monkeypatch.setattr(row_rules, "row_rules", broken)
    with pytest.raises(IngestRefused, match=r"row rules could not be evaluated, nothing loaded: .*no_such_column"):
        ingest_file(con, write_csv(tmp_path / "a.csv", rows(5)), "acled", as_of=AS_OF)
    assert all(not v for v in state(con).values())
    assert con.execute("SELECT status FROM ingest_runs").fetchall() == [("refused",)]


def test_the_quarantined_rows_are_exactly_gx_unexpected_rows(con, tmp_path, monkeypatch):
    # A stricter rule exists only as a GX expectation; nothing else knows it, so the quarantine is GX's verdict.
    real = row_rules.row_rules
    strict = row_rules.RowRule("expect_column_values_to_be_between", {"column": "fatalities", "max_value": 2},
                               "'fatalities ' || _fatalities_text || ' over 2'")
    monkeypatch.setattr(row_rules, "row_rules", lambda: [*real(), strict])
    batch = rows(8, fatalities="1") + rows(2, "BIG", fatalities="3")
    run = ingest_file(con, write_csv(tmp_path / "a.csv", batch), "acled", as_of=AS_OF)
    assert (run.inserted, run.rejected) == (8, 2)
    assert con.execute("SELECT line, reason FROM rejected_incidents ORDER BY line").fetchall() == [
        (10, "expect_column_values_to_be_between(fatalities): fatalities 3 over 2"),
        (11, "expect_column_values_to_be_between(fatalities): fatalities 3 over 2")]
    assert stored(con)["expect_column_values_to_be_between(fatalities)#31"][:3] == (False, "warning", 2)


def test_no_rule_reads_a_precomputed_flag_column():
    # _nul_columns names the source columns holding a NUL byte (text, NULL when none): GX expects it empty.
    staged = set(COLUMNS) | {f"_{c}_text" for c in CHECKED_TEXT} | {"country_iso3", NUL_COLUMNS}
    for rule in row_rules.row_rules():
        columns = {v for k, v in rule.kwargs.items() if k in ("column", "column_A", "column_B")}
        assert columns <= staged, rule
        assert all(isinstance(v, (str, int, float, bool, list)) for v in rule.kwargs.values())


def test_thresholds_are_parameters(con, tmp_path, monkeypatch):
    real = batch_checks.check_batch
    monkeypatch.setattr(batch_checks, "check_batch",
                        lambda *a, **k: real(*a, **{**k, "max_row_drop": 0.9, "null_min_rows": 5}))
    (tmp_path / "b").mkdir()
    ingest_file(con, write_csv(tmp_path / "x.csv", rows(10)), "acled", as_of=AS_OF)
    ingest_file(con, write_csv(tmp_path / "b" / "x.csv", rows(2, "B")), "acled", as_of=AS_OF)  # 80% drop: allowed
    with pytest.raises(IngestRefused, match=r"column\(s\) admin1 empty in all 6 rows"):
        ingest_file(con, write_csv(tmp_path / "y.csv", rows(6, "C", admin1="")), "acled", as_of=AS_OF)


def test_check_batch_uses_the_as_of_it_is_given(con, tmp_path, monkeypatch):
    real = batch_checks.check_batch
    monkeypatch.setattr(batch_checks, "check_batch", lambda *a, **k: real(*a, **{**k, "as_of": AS_OF}))
    batch = rows(5) + [acled_row(event_id_cnty="LATE", event_date="2026-01-05")]
    ingest_file(con, write_csv(tmp_path / "a.csv", batch), "acled", as_of=AS_OF)
    assert stored(con)["expect_column_values_to_be_between(event_date)"][:3] == (False, "warning", 1)
    assert con.execute("SELECT as_of FROM validation_runs").fetchall() == [(AS_OF,)]



def test_a_collapsed_share_of_events_with_coordinates_is_a_warning_and_loads(con, tmp_path):
    ingest_file(con, write_csv(tmp_path / "jan.csv", rows(30)), "acled", as_of=AS_OF)
    batch = rows(5, "NEW") + rows(20, "NOLOC", latitude="", longitude="")
    run = ingest_file(con, write_csv(tmp_path / "feb.csv", batch), "acled", as_of=AS_OF)
    assert (run.inserted, run.rejected) == (25, 0)
    got = stored(con)
    ok, severity, _, _, message = got["coordinates_share_vs_source"]
    assert (ok, severity) == (False, "warning") and "share of events with coordinates is 20%" in message
    assert got["fatalities_share_vs_source"][0] is True
