"""warehouse.gx_engine against real Great Expectations 1.x (no mocks)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import asdict
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from validation import gx_engine
from validation.docs import build_data_docs
from validation.gx_engine import SUPPORTED, Check, ValidationError, run_suite

REPO = Path(__file__).resolve().parents[2]

# expectation, kwargs, good frame, bad frame, (CheckResult field, expected value on the bad frame)
CASES = [
    ("expect_column_values_to_be_in_set", {"column": "f", "value_set": [True]},
     {"f": [True, True, True]}, {"f": [True, False, False, True]}, ("unexpected_count", 2)),
    ("expect_column_values_to_not_be_in_set", {"column": "iso", "value_set": ["XXX"]},
     {"iso": ["PAK", "AFG"]}, {"iso": ["PAK", "XXX", "XXX"]}, ("unexpected_count", 2)),
    ("expect_column_values_to_not_be_null", {"column": "x"},
     {"x": [1.0, 2.0]}, {"x": [1.0, None, None]}, ("unexpected_count", 2)),
    ("expect_column_values_to_be_between", {"column": "x", "min_value": 0, "max_value": 10},
     {"x": [0, 5, 10]}, {"x": [-1, 5, 11, 3]}, ("unexpected_count", 2)),
    ("expect_column_values_to_match_regex", {"column": "iso", "regex": "^[A-Z]{3}$"},
     {"iso": ["PAK", "IND"]}, {"iso": ["PAK", "pak", "PK"]}, ("unexpected_count", 2)),
    ("expect_column_values_to_be_unique", {"column": "id"},
     {"id": [1, 2, 3]}, {"id": [1, 1, 2, 3]}, ("unexpected_count", 2)),
    ("expect_compound_columns_to_be_unique", {"column_list": ["id", "src"]},
     {"id": [1, 1], "src": ["a", "b"]}, {"id": [1, 1, 2], "src": ["a", "a", "a"]}, ("unexpected_count", 2)),
    ("expect_column_proportion_of_unique_values_to_be_between", {"column": "id", "min_value": 0.9},
     {"id": [1, 2, 3, 4]}, {"id": [1, 1, 1, 2]}, ("observed_value", 0.5)),
    ("expect_column_to_exist", {"column": "x"}, {"x": [1]}, {"y": [1]}, ("success", False)),
    ("expect_table_row_count_to_be_between", {"min_value": 2, "max_value": 3},
     {"x": [1, 2, 3]}, {"x": [1, 2, 3, 4, 5]}, ("observed_value", 5)),
]


def test_every_supported_expectation_has_a_case():
    assert {case[0] for case in CASES} == set(SUPPORTED)


@pytest.mark.parametrize(("expectation", "kwargs", "good", "bad", "expected"), CASES, ids=[c[0] for c in CASES])
def test_expectation_passes_good_and_fails_bad(expectation, kwargs, good, bad, expected):
    checks = [Check("c", expectation, kwargs, severity="warning", description="d")]
    [ok] = run_suite("good", pd.DataFrame(good), checks)
    assert ok.success is True
    assert (ok.suite, ok.check_name, ok.expectation, ok.severity) == ("good", "c", expectation, "warning")
    [ko] = run_suite("bad", pd.DataFrame(bad), checks)
    assert ko.success is False
    field, value = expected
    assert getattr(ko, field) == value
    if field == "unexpected_count":
        assert ko.element_count == len(next(iter(bad.values())))
    json.dumps([asdict(ok), asdict(ko)], allow_nan=False)  # NaN in partial lists must not leak


def test_results_follow_check_order_and_only_named_columns_reach_gx():
    df = pd.DataFrame({"a": [1, None], "b": [True, False], "unused": ["x", "y"]})
    checks = [Check("b_true", "expect_column_values_to_be_in_set", {"column": "b", "value_set": [True]}),
              Check("a_nn", "expect_column_values_to_not_be_null", {"column": "a"}),
              Check("rows", "expect_table_row_count_to_be_between", {"min_value": 2, "max_value": 2})]
    results = run_suite("order", df, checks)
    assert [r.check_name for r in results] == ["b_true", "a_nn", "rows"]
    assert [r.success for r in results] == [False, False, True]
    assert results[1].details["result"]["partial_unexpected_list"] == [None]


def test_null_flags_are_skipped_by_in_set_so_flags_must_be_coalesced():
    # Pins the GX behaviour behind the "COALESCE flags to FALSE" rule in the module docstring.
    [r] = run_suite("nulls", pd.DataFrame({"f": [True, None, False]}),
                    [Check("f", "expect_column_values_to_be_in_set", {"column": "f", "value_set": [True]})])
    assert (r.unexpected_count, r.details["result"]["missing_count"]) == (1, 1)


@pytest.mark.parametrize(("check", "match"), [
    (Check("m", "expect_column_values_to_not_be_null", {"column": "missing"}), "does not exist"),
    (Check("m", "expect_column_values_to_be_in_set", {"column": "missing", "value_set": [True]}), "missing"),
    (Check("m", "expect_compound_columns_to_be_unique", {"column_list": ["iso", "missing"]}), "missing"),
    (Check("m", "expect_column_proportion_of_unique_values_to_be_between",
           {"column": "missing", "min_value": 0.5}), "missing"),
    (Check("s", "expect_column_values_to_be_between", {"column": "iso", "min_value": 0, "max_value": 1}), "s:"),
], ids=["not_null", "in_set", "compound", "proportion", "between_on_strings"])
def test_gx_evaluation_errors_raise_instead_of_reporting(check, match):
    df = pd.DataFrame({"iso": ["PAK", "AFG"], "f": [True, True]})
    good = Check("good", "expect_column_values_to_be_in_set", {"column": "f", "value_set": [True]})
    with pytest.raises(ValidationError, match=match):
        run_suite("broken", df, [good, check])


def test_exception_info_shapes():
    from great_expectations.validator.exception_info import ExceptionInfo

    messages = gx_engine.exception_messages
    assert messages(None) == [] and messages({}) == []
    assert messages({"raised_exception": False, "exception_message": None, "exception_traceback": None}) == []
    assert messages(ExceptionInfo(exception_traceback="tb", exception_message="boom")) == ["boom"]
    keyed = {"MetricConfigurationID(metric_name='col.x', metric_domain_kwargs_id='9f')": ExceptionInfo("tb", "gone")}
    assert messages(keyed) == ["col.x gone"]
    # A message without the flag, or a shape we do not know, is still an error, never trusted.
    assert messages({"raised_exception": False, "exception_message": "odd"}) == ["odd"]
    assert len(messages({"metric": "not a dict"})) == 1 and len(messages(["x"])) == 1


@pytest.mark.parametrize("check", [
    Check("c", "expect_something_made_up", {"column": "x"}),
    Check("c", "expect_table_columns_to_match_set", {"column_set": ["x"]}),  # real GX, not allowed
    Check("c", "expect_column_values_to_be_in_set", {"column": "x", "value_set": 3}),
    Check("c", "expect_column_values_to_be_between", {"column": "x", "min_value": "low"}),
    Check("c", "expect_column_values_to_not_be_null", {"column": "x", "meta": {}}),
], ids=["unknown", "unsupported", "bad_value_set", "bad_bound", "reserved_kwarg"])
def test_bad_specs_are_value_errors(check):
    with pytest.raises(ValueError):
        run_suite("spec", pd.DataFrame({"x": [1]}), [check])


def test_other_spec_errors():
    nn = Check("c", "expect_column_values_to_not_be_null", {"column": "x"})
    df = pd.DataFrame({"x": [1]})
    for suite, checks in [("dups", [nn, nn]), ("empty", []), ("a.b", [nn]), ("a/b", [nn])]:
        with pytest.raises(ValueError):
            run_suite(suite, df, checks)
    with pytest.raises(ValueError, match="severity"):
        Check("c", "expect_column_values_to_not_be_null", {"column": "x"}, severity="info")


def test_repeated_runs_do_not_clash_or_accumulate():
    checks = [Check("c", "expect_column_values_to_not_be_null", {"column": "x"})]
    for values, expected in [([1, 2], True), ([1, None], False), ([3], True)]:
        assert run_suite("same", pd.DataFrame({"x": values}), checks)[0].success is expected
    ctx = gx_engine.shared_context()
    assert (list(ctx.data_sources.all()), ctx.suites.all(), ctx.validation_definitions.all()) == ([], [], [])
    assert ctx.validation_results_store.list_keys() == []


def test_explicit_context_is_used():
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    [r] = run_suite("own_ctx", pd.DataFrame({"x": [1]}),
                    [Check("c", "expect_column_values_to_not_be_null", {"column": "x"})], context=ctx)
    assert r.success is True and list(ctx.data_sources.all()) == []


class _Index(HTMLParser):
    """<a href>s, plus inline script text: GX renders its suite/validation tables from JS data."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.hrefs += [v for k, v in attrs if tag == "a" and k == "href" and v]
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def test_data_docs_list_every_suite(tmp_path, monkeypatch):
    from great_expectations.data_context.data_context.context_factory import project_manager

    monkeypatch.chdir(tmp_path)
    df = pd.DataFrame({"x": [1.0, None], "f": [True, True]})
    results = {
        "incidents": run_suite("incidents", df, [
            Check("x_nn", "expect_column_values_to_not_be_null", {"column": "x"}, description="x set"),
            Check("f_ok", "expect_column_values_to_be_in_set", {"column": "f", "value_set": [True]},
                  severity="warning")]),
        "indicators": run_suite("indicators", df, [
            Check("rows", "expect_table_row_count_to_be_between", {"min_value": 1})]),
    }
    current = project_manager.get_current_project()
    index = build_data_docs(results, tmp_path / "docs")

    assert index == (tmp_path / "docs" / "index.html").resolve() and index.is_file()
    parser = _Index()
    parser.feed(index.read_text(encoding="utf-8"))
    parser.close()
    links, pages = " ".join(parser.hrefs + parser.scripts), {}
    assert "#Validation-Results" in parser.hrefs and "#Expectation-Suites" in parser.hrefs
    for suite in results:
        assert f'href="expectations/{suite}.html"' in links
        [pages[suite]] = set(re.findall(rf"validations/{suite}/[\w./-]+\.html", links))
        assert (index.parent / pages[suite]).is_file() and (index.parent / f"expectations/{suite}.html").is_file()
    incidents_page = (index.parent / pages["incidents"]).read_text(encoding="utf-8")
    assert "Failed" in incidents_page and "x set" in incidents_page  # the description replaces the template
    assert project_manager.get_current_project() is current
    assert not (tmp_path / "gx").exists() and not (REPO / "gx").exists()


def test_importing_gx_engine_does_not_import_great_expectations():
    code = "import sys, validation.gx_engine; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]
