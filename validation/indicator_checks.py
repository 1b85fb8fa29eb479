"""Indicator checks from each definition's YAML `checks:`, as GX expectations on indicator_value_rows.

Each indicator is its own GX suite ('indicator_<name>') run by GX's SQL engine in DuckDB (gx_sql) over a
view of that indicator's rows, so a failure names the indicator it gates (validation_results.indicator;
the alert step suppresses its alerts while a critical one fails). No flag columns: one period per series
is GX's compound uniqueness, the value bounds are GX's between, and "no gaps" compares, per series, the
periods present with the periods from its first one to the one holding as_of (a per-series count table).
"""

from __future__ import annotations

from indicators.definitions import GRAINS, Definition, load_definitions
from validation.gx_engine import CheckResult, ValidationError, import_gx, json_safe
from validation.gx_sql import validate_table
from validation.results import annotate
from warehouse.sources.mapping import literal

SUITE_PREFIX = "indicator_"
DESCRIPTIONS = {
    "no_gaps": "each series has every period from its first to the one holding as_of (periods present = expected)",
    "unique_periods": "one value per (indicator, series, grain, period)",
    "non_negative": "values are finite and >= 0",
    "integral": "counts are whole numbers",
    "max_value": "values at most checks.max_value (plausibility bound)",
}
_FINITE = 1.7976931348623157e308   # between [0, this]: DuckDB orders NaN and inf above every finite value
_ROW_KEYS = ["series", "grain", "period_start", "value"]


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
    return [name for name in DESCRIPTIONS if (name != "integral" or is_integral(d))
            and (name != "max_value" or d.checks.get("max_value") is not None)]


def _expectations(d: Definition, rows: str) -> dict[str, tuple[str, object, dict]]:
    """check name -> (table it reads, GX expectation, kwargs)."""
    e = import_gx().expectations
    specs = {
        "no_gaps": ("series", "ExpectColumnPairValuesToBeEqual",
                    {"column_A": "periods_present", "column_B": "periods_expected"}),
        "unique_periods": ("rows", "ExpectCompoundColumnsToBeUnique", {"column_list": ["series", "grain",
                                                                                       "period_start"]}),
        "non_negative": ("rows", "ExpectColumnValuesToBeBetween", {"column": "value", "min_value": 0,
                                                                   "max_value": _FINITE}),
        "integral": ("rows", "UnexpectedRowsExpectation", {"unexpected_rows_query": (
            "SELECT series, grain, period_start, value FROM {batch} WHERE value <> floor(value)")}),
        "max_value": ("rows", "ExpectColumnValuesToBeBetween", {"column": "value",
                                                               "max_value": d.checks.get("max_value")}),
    }
    return {name: (table, getattr(e, cls)(**kwargs), kwargs) for name, (table, cls, kwargs) in specs.items()
            if name in applicable(d)}


def _examples(name: str, result: dict) -> str:
    if name == "no_gaps":
        rows = result.get("unexpected_index_list") or []
        return "; ".join(f"{r['series']} {r['grain']}: {r['periods_present']} of {r['periods_expected']} periods "
                         f"from {str(r['first_period'])[:10]}" for r in rows[:3])
    rows = result.get("unexpected_index_list") or result.get("details", {}).get("unexpected_rows") \
        or result.get("partial_unexpected_list") or []
    rows = [r for r in rows if isinstance(r, dict)]
    return "; ".join(" ".join(str(r[k])[:10] if k == "period_start" else
                              f"= {r[k]:g}" if k == "value" else str(r[k]) for k in _ROW_KEYS if k in r)
                     for r in rows[:3])


def check_indicator(con, d: Definition) -> list[CheckResult]:
    """Validate one indicator's stored values; ValidationError when GX cannot."""
    rows, per_series = f"_iv_{d.name}", f"_ivs_{d.name}"
    step = "CASE grain " + " ".join(f"WHEN '{g}' THEN {s}" for g, s in GRAINS.items()) + " END"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {rows} AS SELECT series, grain, period_start, value, as_of "
                f"FROM indicator_value_rows WHERE indicator = {literal(d.name)}")
    # The expected count: periods from the first to the one holding as_of (the engine fills up to there).
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {per_series} AS SELECT series, grain, first_period, periods_present, "
        f"CAST(len(range(first_period, CAST(date_trunc(grain, as_of) AS DATE) + {step}, {step})) AS BIGINT) "
        f"AS periods_expected FROM (SELECT series, grain, min(period_start) AS first_period, max(as_of) AS as_of, "
        f"count(DISTINCT period_start) FILTER (WHERE period_start <= CAST(date_trunc(grain, as_of) AS DATE)) "
        f"AS periods_present FROM {rows} GROUP BY ALL)")
    counts = con.execute(f"SELECT (SELECT count(*) FROM {rows}), (SELECT count(*) FROM {per_series})").fetchone()
    try:
        specs = _expectations(d, rows)
        by_table = {t: [(n, exp) for n, (tt, exp, _) in specs.items() if tt == t] for t in ("rows", "series")}
        evrs = dict(zip([n for n, _ in by_table["rows"]], validate_table(
            con, rows, [exp for _, exp in by_table["rows"]], index_columns=_ROW_KEYS[:3]), strict=True))
        evrs.update(zip([n for n, _ in by_table["series"]], validate_table(
            con, per_series, [exp for _, exp in by_table["series"]],
            index_columns=["series", "grain", "first_period", "periods_present"]), strict=True))
    except ValidationError as exc:
        raise ValidationError(f"suite {SUITE_PREFIX + d.name!r}: {exc}") from exc
    finally:
        con.execute(f"DROP VIEW IF EXISTS {rows}")
        con.execute(f"DROP TABLE IF EXISTS {per_series}")
    sev, results = severity(d), []
    for name, (_, _, kwargs) in specs.items():
        evr = evrs[name]
        res = json_safe({k: v for k, v in (evr.result or {}).items() if k != "unexpected_list"})
        examples = _examples(name, res)
        for key in ("unexpected_index_list", "details"):
            res.pop(key, None)
        count = res.get("unexpected_count", res.get("observed_value"))
        total = res.get("element_count", counts[0])
        r = CheckResult(SUITE_PREFIX + d.name, name, evr.expectation_config.type, sev,
                        bool(evr.success), res.get("observed_value"), count, total,
                        {"kwargs": json_safe(kwargs), "description": DESCRIPTIONS[name].replace(
                            "checks.max_value", f"checks.max_value = {d.checks.get('max_value')}"), "result": res})
        noun = "series" if name == "no_gaps" else "values"
        annotate(r, None if r.success else f"{count} of {total} {noun} fail: {examples}", indicator=d.name)
        results.append(r)
    return results


def check_indicators(con, definitions: dict[str, Definition] | None = None) -> dict[str, list[CheckResult]]:
    """suite name -> results for every defined indicator (an indicator without values passes vacuously)."""
    defs = load_definitions() if definitions is None else definitions
    return {SUITE_PREFIX + name: check_indicator(con, d) for name, d in defs.items()}
