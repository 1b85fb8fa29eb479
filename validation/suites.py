"""The validate step: indicator, incident and freshness suites -> validation_runs/_results + GX Data Docs.

Rules are DuckDB SQL producing boolean flags or ages; GX validates those small frames (gx_engine imports
GX lazily, so commands that do not validate never pay for it). A suite GX cannot evaluate is recorded
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
from validation.docs import build_data_docs
from validation.freshness import check_freshness, freshness_expectations
from validation.gx_engine import CheckResult, ValidationError
from validation.indicator_checks import SUITE_PREFIX, check_indicators
from validation.results import annotate, flag_check, store_run, validate
from warehouse.db import transaction

# Whole-warehouse rules over current incidents: name -> (flag SQL, description).
INCIDENT_FLAGS = {
    "ids_unique_per_source": ("count(*) OVER (PARTITION BY source, source_event_id) = 1",
                              "one current incident per (source, source_event_id)"),
    # Not after as_of, unless ingested later than that (a run validating a past date must not flag the
    # events that happened since): an event dated after its own ingestion is never right.
    "event_date_not_in_future": ("event_date <= greatest($as_of, CAST(valid_from AS DATE))",
                                 "event_date <= as_of (or <= its ingest date when ingested after as_of)"),
    "latitude_in_range": ("latitude IS NULL OR latitude BETWEEN -90 AND 90", "latitude in [-90, 90] or missing"),
    "longitude_in_range": ("longitude IS NULL OR longitude BETWEEN -180 AND 180",
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
    flags = ", ".join(f"coalesce({sql}, false) AS {name}" for name, (sql, _) in INCIDENT_FLAGS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE _incident_flags AS SELECT incident_id, {flags} "
                "FROM incident_current WHERE NOT is_deleted", {"as_of": as_of})
    counts = con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE NOT {n})" for n in INCIDENT_FLAGS)
                         + " FROM _incident_flags").fetchone()
    frame = con.execute(f"SELECT {', '.join(INCIDENT_FLAGS)} FROM _incident_flags").df()
    checks = [flag_check(name, name, "critical", desc) for name, (_, desc) in INCIDENT_FLAGS.items()]
    results = validate("incidents", frame, checks, dict(zip(INCIDENT_FLAGS, counts, strict=True)))
    for r in results:
        ids = [] if r.success else [i for (i,) in con.execute(
            f"SELECT incident_id FROM _incident_flags WHERE NOT {r.check_name} ORDER BY 1 LIMIT 3").fetchall()]
        annotate(r, f"{r.unexpected_count} of {r.element_count} incidents fail, e.g. {', '.join(ids)}" if ids else None)
    con.execute("DROP TABLE _incident_flags")
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
                       ("freshness", lambda: check_freshness(con, as_of, freshness_expectations(settings)))):
        try:
            by_suite[suite] = run()
        except ValidationError as exc:
            by_suite[suite] = [_error_result(suite, exc)]
    results = [r for rs in by_suite.values() for r in rs]
    with transaction(con):
        run_id = store_run(con, as_of, results, started_at=started)
    # Docs after the results are stored: gating must not depend on rendering HTML.
    documented = {s: rs for s, rs in by_suite.items() if rs and all(r.expectation != "validation_error" for r in rs)}
    index = build_data_docs(documented, settings.reports_dir / "validation")
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
