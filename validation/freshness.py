"""Freshness of each source: the age of its newest event and of its last successful ingest ([freshness])."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from riskwatch.settings import Settings
from validation.gx_engine import Check, CheckResult
from validation.results import annotate, validate

FRESHNESS_KEYS = {"max_event_age_days", "max_ingest_age_days"}
NEVER = 10**9  # days; an age no expectation reaches (GX skips NULLs, so "no events" must be a number)

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
