"""Coverage ended (a closed dataset past its declared end) is its own warning, distinct from "source stale"."""

from __future__ import annotations

import datetime as dt

from indicators.refresh import refresh
from riskwatch.settings import Settings
from tests.conftest import write_csv
from tests.indicators.test_coverage import GTD_ROW
from validation.coverage import check_coverage_ended
from validation.freshness import check_freshness, freshness_expectations
from validation.ingest import ingest_file

WATCHED = ["PAK"]


def test_coverage_ended_is_a_warning_of_its_own_not_staleness(con, tmp_path):
    ingest_file(con, write_csv(tmp_path / "gtd.csv", [{**GTD_ROW, "eventid": "201811230010"}]), "gtd",
                as_of=dt.date(2025, 12, 31))
    refresh(con, dt.date(2025, 12, 31), watched=WATCHED)
    [ended] = check_coverage_ended(con, dt.date(2025, 12, 31))
    assert (ended.suite, ended.check_name, ended.severity, ended.success) == ("coverage", "gtd_PAK_coverage",
                                                                             "warning", False)
    assert ended.details["message"] == ("coverage ended: gtd covers PAK until 2018-12-31, 2557 days before "
                                        "2025-12-31: later periods have no data from it (not zero)")
    assert ended.observed_value == 2557 and ended.details["source"] == "gtd"
    # The same source is not stale: a closed dataset has no freshness expectation ([freshness] gtd = "never").
    fresh = check_freshness(con, dt.date(2025, 12, 31), freshness_expectations(Settings()))
    assert [r.check_name for r in fresh if r.details["source"] == "gtd"] == ["gtd_event_age", "gtd_ingest_age"]
    assert all(r.success for r in fresh if r.details["source"] == "gtd")
    # Within its window the check passes.
    refresh(con, dt.date(2018, 12, 31), watched=WATCHED)
    [inside] = check_coverage_ended(con, dt.date(2018, 12, 31))
    assert inside.success and inside.details["message"] == "gtd covers PAK until 2018-12-31"


def test_live_sources_are_never_coverage_ended(con, tmp_path):
    from tests.conftest import acled_row

    ingest_file(con, write_csv(tmp_path / "a.csv", [acled_row()]), "acled", as_of=dt.date(2025, 12, 31))
    refresh(con, dt.date(2025, 12, 31), watched=WATCHED)
    assert check_coverage_ended(con, dt.date(2025, 12, 31)) == []
