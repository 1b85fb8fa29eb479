"""Validation results: GX runs on small frames held to what SQL counted, annotated, stored in
validation_runs/_results."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from validation import gx_engine
from validation.gx_engine import Check, CheckResult, ValidationError
from warehouse import ids


def validate(suite: str, frame: pd.DataFrame, checks: list[Check], expected: dict[str, int]) -> list[CheckResult]:
    """gx_engine.run_suite, then insist that GX failed exactly the rows SQL counted (check name -> count)."""
    results = gx_engine.run_suite(suite, frame, checks)
    wrong = [f"{r.check_name}: GX {r.unexpected_count} unexpected (success={r.success}), SQL {expected[r.check_name]}"
             for r in results if r.check_name in expected
             and (r.unexpected_count != expected[r.check_name] or r.success != (expected[r.check_name] == 0))]
    if wrong:
        raise ValidationError(f"suite {suite!r}: GX and SQL disagree: " + "; ".join(wrong))
    return results


def annotate(result: CheckResult, message: str | None = None, *, indicator: str | None = None,
             source: str | None = None) -> CheckResult:
    # Kept in details: build_data_docs reads only kwargs/description/result from there.
    result.details.update(message=message, indicator=indicator, source=source)
    return result


def store_run(con, as_of: dt.date, results: list[CheckResult], *, started_at: dt.datetime | None = None,
              docs_path: str | None = None, kind: str = "full") -> int:
    """One validation_runs row and its validation_results; the run id."""
    critical = sum(1 for r in results if not r.success and r.severity == "critical")
    run_id = ids.next_id(con, "validation_runs")
    con.execute(
        "INSERT INTO validation_runs (run_id, as_of, started_at, finished_at, success, critical_failures, docs_path, "
        "kind) VALUES (?, ?, coalesce(?, CAST(current_timestamp AS TIMESTAMP)), CAST(current_timestamp AS TIMESTAMP), "
        "?, ?, ?, ?)", [run_id, as_of, started_at, all(r.success for r in results), critical, docs_path, kind],
    )
    if results:
        con.executemany(
            "INSERT INTO validation_results (run_id, suite, check_name, expectation, severity, success, "
            "observed_value, unexpected_count, element_count, indicator, source, message, run_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(current_timestamp AS TIMESTAMP))",
            [(run_id, r.suite, r.check_name, r.expectation, r.severity, r.success,
              None if r.observed_value is None else json.dumps(r.observed_value), r.unexpected_count,
              r.element_count, r.details.get("indicator"), r.details.get("source"), r.details.get("message"))
             for r in results],
        )
    return run_id
