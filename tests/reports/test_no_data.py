"""The report draws no data as a labelled gap, names the sources behind each chart, and counts what date
precision left out of each grain."""

from __future__ import annotations

import datetime as dt
import re

from indicators.refresh import refresh
from publish.charts import _gaps, panel_png, panel_svg
from reports.panels import IndicatorPanel
from reports.weekly import build_weekly_report
from riskwatch.settings import Settings
from tests.conftest import write_csv
from tests.indicators.test_coverage import GTD_ROW
from validation.ingest import ingest_file

WATCHED = ["PAK"]


def _panel(values: list) -> IndicatorPanel:
    periods = [dt.date(2018, m, 1) for m in range(1, 13, 3)] + [dt.date(2019, 1, 1), dt.date(2019, 4, 1)]
    return IndicatorPanel("x", "X", "incidents", "quarter", "", periods=periods,
                          period_ends=[p + dt.timedelta(days=80) for p in periods], series={"PAK": values})


def test_chart_draws_no_data_as_a_labelled_gap_not_a_zero_bar():
    panel = _panel([1, 0, 0, 2, None, None])
    assert _gaps(panel) == [(4, 5)]
    svg = panel_svg(panel, dt.date(2019, 6, 30))
    assert "no data" in svg and "no data (no source covers the period)" in svg
    zero = panel_svg(_panel([1, 0, 0, 2, 0, 0]), dt.date(2019, 6, 30))
    assert "no data" not in zero
    assert panel_png(panel, dt.date(2019, 6, 30)).startswith(b"\x89PNG")   # the email chart draws it too


def _figure(html: str, name: str) -> str:
    return re.search(rf'<figure class="indicator" id="indicator-{name}">(.*?)</figure>', html, re.S).group(1)


def test_report_names_chart_sources_coverage_ended_and_precision_gaps(con, tmp_path):
    ingest_file(con, write_csv(tmp_path / "gtd.csv", [{**GTD_ROW, "eventid": "201811230010"},
                                                        {**GTD_ROW, "eventid": "201800000001", "imonth": "0",
                                                         "iday": "0"}]), "gtd", as_of=dt.date(2025, 12, 31))
    as_of = dt.date(2019, 6, 30)
    refresh(con, as_of, watched=WATCHED)
    settings = Settings(warehouse=tmp_path / "wh.duckdb", config={"pipeline": {
        "reports_dir": str(tmp_path / "reports"), "watched_countries": WATCHED}},
        environ={"RISKWATCH_OUTBOX": str(tmp_path / "outbox")})
    html = build_weekly_report(con, as_of, settings).path.read_text(encoding="utf-8")
    chinese = _figure(html, "chinese_nationals_attacks")
    assert "Sources covering this chart: gtd (PAK, 1 Dec 2007 &ndash; 31 Dec 2018)." in chinese
    assert "no data" in chinese
    assert "coverage ended" in html and "it covers PAK until 2018-12-31" in html
    assert "<strong>gtd</strong> is stale" not in html
    # The year-precision attack (imonth 0: 1 January 2018) is in no quarter or month of the indicator.
    gaps = re.search(r"<h4>Events left out by date precision</h4>(.*?)</table>", html, re.S).group(1)
    assert "<td>chinese_nationals_attacks</td><td>quarter</td><td>year precision</td><td class=\"num\">1</td>" in gaps
