"""Coverage ended: a static dataset whose coverage window closed before the as-of date (README "Coverage").

Distinct from "source stale" (validation/freshness.py): stale means a feed that should be current fell
behind; coverage ended means a closed dataset (UCDP's 2019 export, the GTD subset, BIJ) says nothing
after its end, so the indicator periods after it are no data (NULL) unless another source covers them.
A warning, never critical: the values are right, the analyst must know why they stop.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from validation.gx_engine import Check, CheckResult
from validation.results import annotate, validate


def check_coverage_ended(con, as_of: dt.date) -> list[CheckResult]:
    """One warning check per static (source, country) window: days between its end and the as-of date, at most 0."""
    rows = con.execute(
        "SELECT source, country_iso3, end_date, greatest($as_of - end_date, 0) FROM source_coverage "
        "WHERE basis <> 'loaded (live)' ORDER BY 1, 2", {"as_of": as_of}).fetchall()
    if not rows:
        return []
    frame, checks, expected, notes = {}, [], {}, {}
    for source, country, end, days in rows:
        where = "every country" if country == "*" else country
        column = f"{source}__{country}__days_after_coverage"
        frame[column] = [int(days)]
        name = f"{source}_{'all' if country == '*' else country}_coverage"
        checks.append(Check(name, "expect_column_values_to_be_between", {"column": column, "max_value": 0},
                            "warning", f"{source} covers {where} on the as-of date"))
        expected[name] = int(days > 0)
        notes[name] = (source, f"{source} covers {where} until {end:%Y-%m-%d}"
                       + (f", {days} days before {as_of}: later periods have no data from it (not zero)" if days
                          else ""))
    results = validate("coverage", pd.DataFrame(frame), checks, expected)
    for r in results:
        source, note = notes[r.check_name]
        r.observed_value = frame[r.details["kwargs"]["column"]][0]
        annotate(r, note if r.success else f"coverage ended: {note}", source=source)
    return results
