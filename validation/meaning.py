"""Meaning checks (suite 'meaning'): data that passes every shape check but means the wrong thing.

Each check is one GX expectation, run by GX's SQL engine in DuckDB (gx_sql) on a view of real values;
WHY says what it checks and why it has its severity. The share of events with coordinates / fatalities
between two loads of a source is checked at ingest (validation/ingest.py, *_share_vs_source).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from validation.gx_engine import CheckResult, import_gx, json_safe
from validation.gx_sql import validate_table
from validation.results import annotate
from warehouse.places import resolve_admin1

SUITE = "meaning"
WHY = {
    "admin1_resolves": "each source's admin1 spelling resolves to an ISO 3166-2 subdivision the way the indicators "
    "resolve it (warehouse/places.py: pycountry names + warehouse/places.yml aliases). Warning, 'admin1 unresolved': "
    "an unknown spelling keeps a series of its own (one province, two series) and tag rules that filter on the "
    "province code miss it; country totals stay right. Fix: add the spelling to warehouse/places.yml.",
    "date_precision_fits_weekly": "events of the last year are dated to the week or finer (date_precision <= 3). "
    "Warning: a month- or year-precision event sits on its period's first day and inflates that week's count; "
    "months and quarters stay right.",
    "cross_border_strikes_have_evidence": "every cross_border_strike tag row names its evidence. Critical, gating "
    "cross_border_strikes: an unsupported attribution names the wrong state in an alert.",
    "series_covered_where_valued": "no value where the source does not cover the series (indicator_value_rows."
    "covered). Warning: zeros after a source's coverage ended read as calm.",
    "weekly_values_within_trailing_year": "each weekly value of the last 4 weeks <= its trailing-52-week mean + 5 sd "
    "(sd at least sqrt(mean); 26+ weeks of history). Warning, for review before it alerts: a spike this far out is "
    "more often a data error (1,428 fatalities in one week) than news.",
}
TRAILING_WEEKS, MIN_HISTORY, SDS, RECENT_DAYS = 52, 26, 5, 28


def _admin1_spellings(con) -> None:
    """Register _admin1_spellings: each (source, country, admin1 spelling) of the current incidents with its row
    count and the ISO 3166-2 code the indicators resolve it to (NULL: unresolved). A few hundred spellings, each
    resolved once by the same function as the incidents view's admin1_code, so the check and the series agree."""
    found = con.execute(
        "SELECT source, country_iso3, admin1, count(*) FROM incident_current WHERE NOT is_deleted "
        "AND country_iso3 IS NOT NULL AND nullif(trim(admin1), '') IS NOT NULL GROUP BY ALL ORDER BY ALL").fetchall()
    columns = ("source", "country_iso3", "admin1", "rows", "admin1_code")
    resolved = [(*row, resolve_admin1(row[1], row[2])[0]) for row in found]
    con.register("_admin1_spellings", pa.table({c: [r[i] for r in resolved] for i, c in enumerate(columns)}))


def _unresolved_message(result) -> str:
    """'admin1 unresolved: 2 spellings (5 rows) ...: ucdp PAK 'Foo Province' 4 rows; ...' from GX's unexpected rows."""
    rows = sorted(result.get("unexpected_index_list") or [], key=lambda r: (-int(r["rows"]), str(r["source"])))
    listed = "; ".join(f"{r['source']} {r['country_iso3']} '{r['admin1']}' {r['rows']} row{'s' * (r['rows'] != 1)}"
                       for r in rows[:10])
    more = f"; and {len(rows) - 10} more" if len(rows) > 10 else ""
    total = sum(int(r["rows"]) for r in rows)
    return (f"admin1 unresolved: {len(rows)} spelling{'s' * (len(rows) != 1)} ({total} rows) resolve to no ISO "
            f"3166-2 subdivision, each keeps a series of its own (add it to warehouse/places.yml): {listed}{more}")


def _views(con, as_of: dt.date) -> dict[str, str]:
    """check -> SQL of the values it reads (the relation GX validates)."""
    has_covered = bool(con.execute("SELECT count(*) FROM duckdb_columns() WHERE table_name = 'indicator_value_rows' "
                                   "AND column_name = 'covered'").fetchone()[0])
    views = {
        "admin1_resolves": "SELECT * FROM _admin1_spellings",
        "date_precision_fits_weekly": (
            "SELECT incident_id, date_precision FROM incident_current WHERE NOT is_deleted AND event_date >= "
            f"DATE '{as_of}' - INTERVAL {TRAILING_WEEKS} WEEK AND event_date <= DATE '{as_of}'"),
        "cross_border_strikes_have_evidence": (
            "SELECT incident_id, evidence FROM incident_tag_rows WHERE tag = 'cross_border_strike'"),
        "weekly_values_within_trailing_year": (
            f"SELECT indicator, series, period_start, value, mean + {SDS} * greatest(sd, sqrt(greatest(mean, 1))) "
            "AS upper_bound FROM (SELECT *, avg(value) OVER w AS mean, coalesce(stddev_samp(value) OVER w, 0) AS sd, "
            "count(*) OVER w AS history FROM indicator_value_rows WHERE grain = 'week' WINDOW w AS (PARTITION BY "
            f"indicator, series ORDER BY period_start ROWS BETWEEN {TRAILING_WEEKS} PRECEDING AND 1 PRECEDING)) "
            f"WHERE history >= {MIN_HISTORY} AND period_start > DATE '{as_of}' - INTERVAL {RECENT_DAYS} DAY"),
    }
    if has_covered:
        views["series_covered_where_valued"] = (
            "SELECT indicator, series, grain, period_start, value FROM indicator_value_rows WHERE NOT covered")
    if not con.execute("SELECT count(*) FROM duckdb_columns() WHERE table_name = 'incident_tag_rows' "
                       "AND column_name = 'evidence'").fetchone()[0]:
        views.pop("cross_border_strikes_have_evidence")
    return views


def _expectations():
    e = import_gx().expectations
    return {
        "admin1_resolves": ("warning", None, e.ExpectColumnValuesToNotBeNull(column="admin1_code"),
                            ["source", "country_iso3", "admin1", "rows"]),
        "date_precision_fits_weekly": ("warning", None, e.ExpectColumnValuesToBeBetween(
            column="date_precision", max_value=3), ["incident_id"]),
        "cross_border_strikes_have_evidence": ("critical", "cross_border_strikes", e.ExpectColumnValuesToNotBeNull(
            column="evidence"), ["incident_id"]),
        "series_covered_where_valued": ("warning", None, e.ExpectColumnValuesToBeNull(column="value"),
                                        ["indicator", "series", "grain", "period_start"]),
        "weekly_values_within_trailing_year": ("warning", None, e.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="upper_bound", column_B="value", or_equal=True), ["indicator", "series", "period_start"]),
    }


def check_meaning(con, as_of: dt.date) -> list[CheckResult]:
    """The meaning checks that apply to this warehouse (see the module's table); ValidationError when GX cannot."""
    _admin1_spellings(con)
    specs, results = _expectations(), []
    try:
        for name, sql in _views(con, as_of).items():
            severity, indicator, expectation, keys = specs[name]
            con.execute(f"CREATE OR REPLACE TEMP VIEW _m_{name} AS {sql}")
            try:
                [evr] = validate_table(con, f"_m_{name}", [expectation], index_columns=keys)
            finally:
                con.execute(f"DROP VIEW _m_{name}")
            res = evr.result or {}
            examples = "; ".join(" ".join(str(v) for v in row.values())
                                 for row in sorted((res.get("unexpected_index_list") or []), key=str)[:10])
            message = _unresolved_message(res) if name == "admin1_resolves" else \
                f"{res.get('unexpected_count')} of {res.get('element_count')} fail, e.g. {examples}"
            sources = sorted({str(row["source"]) for row in res.get("unexpected_index_list") or []}) \
                if name == "admin1_resolves" else []
            res = json_safe({k: v for k, v in res.items() if k not in ("unexpected_index_list", "unexpected_list")})
            r = CheckResult(SUITE, name, expectation.expectation_type, severity, bool(evr.success),
                            res.get("observed_value"), res.get("unexpected_count"), res.get("element_count"),
                            {"kwargs": json_safe(expectation.configuration.kwargs), "result": res,
                             "description": WHY[name]})
            annotate(r, None if r.success else message, indicator=indicator, source=", ".join(sources) or None)
            results.append(r)
    finally:
        con.unregister("_admin1_spellings")
    return results
