"""Data Docs: one site, runs labelled by kind and as-of, the last N kept, every page offline."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from validation import docs_offline
from validation.docs import build_data_docs
from validation.gx_engine import CheckResult


def results(ok: bool) -> dict[str, list[CheckResult]]:
    n = 0 if ok else 2
    result = {"element_count": 10, "unexpected_count": n, "missing_count": 0, "missing_percent": 0.0,
              "unexpected_percent": 10.0 * n, "unexpected_percent_total": 10.0 * n,
              "unexpected_percent_nonmissing": 10.0 * n, "partial_unexpected_list": [95.5, 91.0][:n]}
    kwargs = {"column": "latitude", "min_value": -90, "max_value": 90}
    return {"incidents": [CheckResult("incidents", "latitude_in_range", "expect_column_values_to_be_between",
                                      "critical", ok, None, n, 10,
                                      {"kwargs": kwargs, "description": "latitude in range", "result": result})]}


def test_runs_are_labelled_pruned_and_every_page_opens_offline(tmp_path):
    site = tmp_path / "validation"
    for day in (1, 2, 3, 4):
        index = build_data_docs(results(day != 3), site, kind="validate", as_of=dt.date(2024, 11, day), keep_runs=2)
    html = index.read_text(encoding="utf-8")
    assert "validate-2024-11-04" in html and "validate-2024-11-03" in html
    assert "validate-2024-11-02" not in html and "validate-2024-11-01" not in html
    assert sorted(p.name for p in (site / "validations" / "incidents").iterdir()) == [
        "validate-2024-11-03", "validate-2024-11-04"]
    pages = list(site.rglob("*.html"))
    assert len(pages) == 4   # index, the suite's page, two runs
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not docs_offline.REMOTE_ASSET.search(text), page
        for ref in re.findall(r"(?:href|src)=\"([^\"#?]+\.(?:css|js))", text):
            assert (page.parent / ref).is_file(), (page, ref)   # every style and script is in the site
    assert "static/vendor/css/bootstrap.min.css" in html
    assert {p.name for p in (site / "static" / "images").iterdir()} <= {"favicon.ico", "full_logo_dark.png",
                                                                         "logo-long.png"}
    shipped = sum(p.stat().st_size for p in (site / docs_offline.VENDOR).rglob("*") if p.is_file())
    assert shipped < 1_000_000


def test_an_unknown_remote_asset_is_an_error(tmp_path):
    (tmp_path / "index.html").write_text('<script src="https://cdn.example.org/new-lib.js"></script>')
    with pytest.raises(ValueError, match="not shipped: https://cdn.example.org/new-lib.js"):
        docs_offline.make_offline(tmp_path)


def test_keep_runs_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="keep_runs"):
        build_data_docs(results(True), tmp_path, keep_runs=0)
