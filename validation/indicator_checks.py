"""Indicator checks from each definition's YAML `checks:`: DuckDB flags per value row, validated by GX.

One query flags every row of indicator_value_rows; each indicator is then its own GX suite
('indicator_<name>') so a failure names the indicator it gates (validation_results.indicator; the alert
step suppresses that indicator's alerts while a critical one fails). GX must count what SQL counted.
"""

from __future__ import annotations

import pandas as pd

from indicators.definitions import GRAINS, Definition, load_definitions
from validation.gx_engine import CheckResult
from validation.results import annotate, flag_check, validate
from warehouse.sources.mapping import literal

SUITE_PREFIX = "indicator_"
_STEP = "CASE grain " + " ".join(f"WHEN '{g}' THEN {s}" for g, s in GRAINS.items()) + " END"
# name -> (flag SQL over the windowed rows, description); TRUE when the row passes.
FLAGS = {
    "no_gaps": (
        # Duplicates are the next check's business, hence `period_start = prev`. The last period must hold
        # the values' as_of: the engine fills every series up to the current period.
        f"(prev IS NULL OR period_start = prev OR period_start = CAST(prev + {_STEP} AS DATE)) "
        "AND period_start <= as_of AND (next IS NOT NULL OR period_start = CAST(date_trunc(grain, as_of) AS DATE))",
        "each series has every period from its first to the one holding as_of",
    ),
    "unique_periods": ("copies = 1", "one value per (indicator, series, grain, period)"),
    "non_negative": ("isfinite(value) AND value >= 0", "values are finite and >= 0"),
    "integral": ("isfinite(value) AND value = floor(value)", "counts are whole numbers"),
    "max_value": ("value <= max_value", "values at most checks.max_value (plausibility bound)"),
}
KEYS = ["indicator", "series", "grain", "period_start", "value"]


def is_integral(d: Definition) -> bool:
    # Counts of events, or sums of whole numbers (fatalities); a derived mean (a baseline) is not.
    return bool(d.checks.get("integral", d.unit in ("incidents", "fatalities")
                            or (d.kind == "events" and d.aggregate == "count")))


def severity(d: Definition) -> str:
    value = d.checks.get("severity", "critical")
    if value not in ("warning", "critical"):
        raise ValueError(f"{d.path or d.name}: checks.severity must be warning or critical, not {value!r}")
    return value


def applicable(d: Definition) -> list[str]:
    """The checks this definition's YAML asks for (all but integral/max_value always apply)."""
    return [name for name in FLAGS if (name != "integral" or is_integral(d))
            and (name != "max_value" or d.checks.get("max_value") is not None)]


def indicator_flags(con, definitions: dict[str, Definition]) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Every value row of the defined indicators with one flag column per check, and SQL's failing counts."""
    if not definitions:
        return pd.DataFrame(columns=KEYS + list(FLAGS)), {}
    spec = ", ".join(f"({literal(d.name)}, {literal(d.checks.get('max_value'))}::DOUBLE)" for d in definitions.values())
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _indicator_flags AS SELECT " + ", ".join(KEYS) + ", "
        + ", ".join(f"coalesce({sql}, false) AS {name}" for name, (sql, _) in FLAGS.items())
        + " FROM (SELECT v.*, s.max_value, "
        "lag(period_start) OVER w AS prev, lead(period_start) OVER w AS next, "
        "count(*) OVER (PARTITION BY indicator, series, grain, period_start) AS copies "
        f"FROM indicator_value_rows v JOIN (VALUES {spec}) s(indicator, max_value) USING (indicator) "
        "WINDOW w AS (PARTITION BY indicator, series, grain ORDER BY period_start))"
    )
    counts = con.execute(
        "SELECT indicator, " + ", ".join(f"count(*) FILTER (WHERE NOT {name})" for name in FLAGS)
        + " FROM _indicator_flags GROUP BY indicator"
    ).fetchall()
    frame = con.execute("SELECT * FROM _indicator_flags ORDER BY indicator, series, grain, period_start").df()
    con.execute("DROP TABLE _indicator_flags")
    return frame, {row[0]: dict(zip(FLAGS, row[1:], strict=True)) for row in counts}


def _examples(rows: pd.DataFrame, flag: str) -> str:
    bad = rows.loc[~rows[flag].astype(bool), ["series", "grain", "period_start", "value"]].head(3)
    return "; ".join(f"{s} {g} {p:%Y-%m-%d} = {v:g}" for s, g, p, v in bad.itertuples(index=False))


def check_indicator(d: Definition, rows: pd.DataFrame, failing: dict[str, int]) -> list[CheckResult]:
    """Validate one indicator's flagged rows (from indicator_flags); ValidationError when GX cannot."""
    sev = severity(d)
    names = applicable(d)
    checks = [flag_check(name, name, sev, FLAGS[name][1].replace(
        "checks.max_value", f"checks.max_value = {d.checks.get('max_value')}")) for name in names]
    results = validate(SUITE_PREFIX + d.name, rows, checks, {n: failing.get(n, 0) for n in names})
    for r in results:
        message = None if r.success else (
            f"{r.unexpected_count} of {r.element_count} values fail: {_examples(rows, r.check_name)}")
        annotate(r, message, indicator=d.name)
    return results


def check_indicators(con, definitions: dict[str, Definition] | None = None) -> dict[str, list[CheckResult]]:
    """suite name -> results for every defined indicator (an indicator without values passes vacuously)."""
    defs = load_definitions() if definitions is None else definitions
    frame, failing = indicator_flags(con, defs)
    groups = dict(tuple(frame.groupby("indicator", sort=False))) if len(frame) else {}
    return {SUITE_PREFIX + name: check_indicator(d, groups.get(name, frame.iloc[0:0]), failing.get(name, {}))
            for name, d in defs.items()}
