"""The validate step: indicator, incident and freshness suites -> validation_runs/_results + GX Data Docs.

Indicator and incident rules are GX expectations run by GX's SQL engine in DuckDB (gx_sql) on the stored
tables; freshness validates per-source ages (GX is imported lazily, so commands that do not validate never
pay for it). A suite GX cannot evaluate is recorded
as a failed critical check (of its indicator, if any) rather than skipped: a check that did not run must
gate alerts like one that failed.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from indicators.definitions import load_definitions
from riskwatch.settings import Settings
from validation.coverage import check_coverage_ended
from validation.docs import build_data_docs
from validation.freshness import check_freshness, freshness_expectations
from validation.gx_engine import CheckResult, ValidationError, import_gx, json_safe
from validation.gx_sql import validate_table
from validation.indicator_checks import SUITE_PREFIX, check_indicators
from validation.meaning import check_meaning
from validation.results import annotate, store_run
from warehouse.db import transaction

# Whole-warehouse rules over current incidents, as GX expectations on the view `_incidents_now` (check_incidents):
# name -> (expectation, kwargs, description).
INCIDENT_EXPECTATIONS = {
    "ids_unique_per_source": ("expect_compound_columns_to_be_unique", {"column_list": ["source", "source_event_id"]},
                              "one current incident per (source, source_event_id)"),
    # Not after as_of, unless ingested later than that (a run validating a past date must not flag the
    # events that happened since): an event dated after its own ingestion is never right.
    "event_date_not_in_future": ("expect_column_pair_values_a_to_be_greater_than_b",
                                 {"column_A": "latest_plausible_date", "column_B": "event_date", "or_equal": True,
                                  "ignore_row_if": "either_value_is_missing"},
                                 "event_date <= as_of (or <= its ingest date when ingested after as_of)"),
    "latitude_in_range": ("expect_column_values_to_be_between", {"column": "latitude", "min_value": -90,
                                                                 "max_value": 90}, "latitude in [-90, 90] or missing"),
    "longitude_in_range": ("expect_column_values_to_be_between", {"column": "longitude", "min_value": -180,
                                                                  "max_value": 180},
                           "longitude in [-180, 180] or missing"),
}


@dataclass
class ValidationSummary:
    run_id: int
    success: bool                  # every check passed
    critical_failures: int
    warnings: int                  # failed warning-severity checks
    results: list[CheckResult] = field(default_factory=list)
    docs_path: str | None = None


def check_incidents(con, as_of: dt.date) -> list[CheckResult]:
    """Whole-warehouse incident rules (critical: ingest rejects such rows, so a failure is corruption)."""
    gx = import_gx()
    con.execute("CREATE OR REPLACE TEMP VIEW _incidents_now AS SELECT incident_id, source, source_event_id, "
                f"event_date, greatest(DATE '{as_of.isoformat()}', CAST(valid_from AS DATE)) AS latest_plausible_date, "
                "latitude, longitude FROM incident_current WHERE NOT is_deleted")
    try:
        evrs = validate_table(con, "_incidents_now", [
            getattr(gx.expectations, e.title().replace("_", ""))(**kwargs)
            for e, kwargs, _ in INCIDENT_EXPECTATIONS.values()], index_columns=["incident_id"])
    finally:
        con.execute("DROP VIEW _incidents_now")
    results = []
    for (name, (expectation, kwargs, desc)), evr in zip(INCIDENT_EXPECTATIONS.items(), evrs, strict=True):
        res = evr.result or {}
        ids = [str(r.get("incident_id") or ":".join(map(str, r.values()))) for r in (res.get("unexpected_index_list")
                                                      or res.get("partial_unexpected_list") or [])][:3]
        res = json_safe({k: v for k, v in res.items() if k not in ("unexpected_index_list", "unexpected_list")})
        r = CheckResult("incidents", name, expectation, "critical", bool(evr.success), res.get("observed_value"),
                        res.get("unexpected_count"), res.get("element_count"),
                        {"kwargs": kwargs, "description": desc, "result": res})
        annotate(r, None if r.success else f"{r.unexpected_count} of {r.element_count} incidents fail, "
                 f"e.g. {', '.join(ids)}")
        results.append(r)
    return results


def _error_result(suite: str, exc: Exception, indicator: str | None = None) -> CheckResult:
    return annotate(CheckResult(suite, "gx_evaluation", "validation_error", "critical", False, None, None, None,
                                {}), f"could not be evaluated: {exc}", indicator=indicator)


def run_validation(con, as_of: dt.date, settings: Settings) -> ValidationSummary:
    """Run every suite, store the run and its results, build Data Docs under reports_dir/validation."""
    started = con.execute("SELECT CAST(current_timestamp AS TIMESTAMP)").fetchone()[0]
    by_suite: dict[str, list[CheckResult]] = {}
    defs = load_definitions()
    try:
        by_suite.update(check_indicators(con, defs))
    except ValidationError:  # find out which indicator(s) GX could not evaluate, keep the others
        for name, d in defs.items():
            try:
                by_suite.update(check_indicators(con, {name: d}))
            except ValidationError as exc:
                by_suite[SUITE_PREFIX + name] = [_error_result(SUITE_PREFIX + name, exc, indicator=name)]
    for suite, run in (("incidents", lambda: check_incidents(con, as_of)),
                       ("meaning", lambda: check_meaning(con, as_of)),
                       ("freshness", lambda: check_freshness(con, as_of, freshness_expectations(settings))),
                       ("coverage", lambda: check_coverage_ended(con, as_of))):
        try:
            by_suite[suite] = run()
        except ValidationError as exc:
            by_suite[suite] = [_error_result(suite, exc)]
    results = [r for rs in by_suite.values() for r in rs]
    with transaction(con):
        run_id = store_run(con, as_of, results, started_at=started)
    # Docs after the results are stored: gating must not depend on rendering HTML.
    documented = {s: rs for s, rs in by_suite.items() if rs and all(r.expectation != "validation_error" for r in rs)}
    index = build_data_docs(documented, settings.reports_dir / "validation", kind="validate", as_of=as_of,
                            keep_runs=int(settings.get("validation.docs_keep_runs")))
    con.execute("UPDATE validation_runs SET docs_path = ? WHERE run_id = ?", [str(index), run_id])
    return ValidationSummary(
        run_id=run_id, success=all(r.success for r in results),
        critical_failures=sum(1 for r in results if not r.success and r.severity == "critical"),
        warnings=sum(1 for r in results if not r.success and r.severity == "warning"),
        results=results, docs_path=str(index),
    )


def observed(result: CheckResult) -> Any:
    """What to show for a result: GX's observed value, else failing/total rows."""
    if result.observed_value is not None and not (isinstance(result.observed_value, float)
                                                  and math.isnan(result.observed_value)):
        return result.observed_value
    if result.unexpected_count is not None:
        return f"{result.unexpected_count}/{result.element_count} unexpected"
    return ""
