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

import pandas as pd

from flows.settings import Settings
from indicators.checks import SUITE_PREFIX, check_indicators
from indicators.definitions import load_definitions
from warehouse.batch_checks import annotate, flag_check, store_run, validate
from warehouse.gx_engine import Check, CheckResult, ValidationError, build_data_docs

FRESHNESS_KEYS = {"max_event_age_days", "max_ingest_age_days"}
NEVER = 10**9  # days; an age no expectation reaches (GX skips NULLs, so "no events" must be a number)
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


def freshness_expectations(settings: Settings) -> dict[str, dict[str, int | None]]:
    """source -> {max_event_age_days, max_ingest_age_days} (None: never stale) from [freshness]."""
    out: dict[str, dict[str, int | None]] = {}
    for source, spec in (settings.get("freshness") or {}).items():
        spec = {} if spec == "never" else spec
        if not isinstance(spec, dict) or set(spec) - FRESHNESS_KEYS:
            raise ValueError(f"riskwatch.toml [freshness] {source}: expected \"never\" or a table of "
                             f"{', '.join(sorted(FRESHNESS_KEYS))} (days or \"never\"), got {spec!r}")
        out[source] = {k: None if spec.get(k, "never") == "never" else int(spec[k]) for k in sorted(FRESHNESS_KEYS)}
    return out


def check_freshness(con, as_of: dt.date, expectations: dict[str, dict[str, int | None]]) -> list[CheckResult]:
    """Per source: age of its newest event and of its last successful ingest; stale is a warning, never critical.

    Sources the warehouse never heard of (no ingest attempt at all) are not judged: not in use here.
    """
    rows = con.execute(
        "WITH known AS (SELECT source FROM ingest_runs UNION SELECT source FROM incident_current), "
        "ev AS (SELECT source, max(event_date) AS newest FROM incident_current "
        "       WHERE NOT is_deleted AND event_date <= $as_of GROUP BY source), "
        "ing AS (SELECT source, max(finished_at) AS last FROM ingest_runs WHERE status = 'success' GROUP BY source) "
        "SELECT source, $as_of - newest, $as_of - CAST(last AS DATE), newest, last "
        "FROM known LEFT JOIN ev USING (source) LEFT JOIN ing USING (source) ORDER BY 1",
        {"as_of": as_of},
    ).fetchall()
    frame, checks, expected, notes = {}, [], {}, {}
    for source, event_age, ingest_age, newest, last_ingest in rows:
        limits = expectations.get(source, {})
        for kind, age, limit, seen in (("event", event_age, limits.get("max_event_age_days"), newest),
                                       ("ingest", ingest_age, limits.get("max_ingest_age_days"), last_ingest)):
            when = "" if age is None else f"{age} days before {as_of}" if age >= 0 else f"after {as_of}"
            column, age = f"{source}__{kind}_age_days", NEVER if age is None else max(int(age), 0)
            frame[column] = [age]
            what = "newest event" if kind == "event" else "last successful ingest"
            checks.append(Check(f"{source}_{kind}_age", "expect_column_values_to_be_between",
                                {"column": column, "max_value": limit if limit is not None else NEVER},
                                "warning", f"{source}: days since its {what}"
                                + (f", at most {limit}" if limit is not None else " (no expectation: never stale)")))
            expected[checks[-1].name] = int(limit is not None and age > limit)
            notes[checks[-1].name] = (source, f"{what} {seen:%Y-%m-%d}, {when}" if seen else f"no {what}", limit)
    if not checks:
        return []
    results = validate("freshness", pd.DataFrame(frame), checks, expected)
    for r in results:
        source, seen, limit = notes[r.check_name]
        r.observed_value = frame[r.details["kwargs"]["column"]][0]
        annotate(r, f"{source}: {seen}" if r.success else f"source stale: {source}: {seen} (expected <= {limit})",
                 source=source)
    return results


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
    con.execute("BEGIN TRANSACTION")
    try:
        run_id = store_run(con, as_of, results, started_at=started)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
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
