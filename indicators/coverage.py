"""Covered periods: a value is a count only where some contributing source covers the series' country
(and, for a source that records only some perpetrators, the series' origin).

The windows are warehouse.coverage's source_coverage; this module decides, per indicator value, whether
any source that contributes to the indicator (its YAML `sources:`, default all) covers the period. An
uncovered period keeps its row with value NULL and covered = false: no data is not zero.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from indicators.definitions import Definition
from warehouse.sources.mapping import literal


def series_countries_sql(col: str = "series") -> str:
    """SQL list of the countries a series is about: 'A->B' -> [B] (where the strike landed), 'IND<>PAK' ->
    [IND, PAK] (an interstate clash), 'PAK:Sindh' and 'PAK' -> [PAK]. Same reading as
    rules.series_target_sql in its list form."""
    return (f"CASE WHEN contains({col}, '->') THEN [split_part({col}, '->', 2)] "
            f"WHEN contains({col}, '<>') THEN string_split({col}, '<>') ELSE [split_part({col}, ':', 1)] END")


def series_origin_sql(col: str = "series") -> str:
    """SQL: the perpetrator a series is about, 'A->B' -> A; NULL for a series of every perpetrator."""
    return f"CASE WHEN contains({col}, '->') THEN split_part({col}, '->', 1) END"


def scope_sql(series: str = "r.series", perpetrators: str = "c.perpetrators") -> str:
    """SQL predicate: a coverage window whose source records every perpetrator, or only some (BIJ: USA) and the
    series' origin is one of them; such a source says nothing about other origins, a country total or a clash."""
    return f"({perpetrators} IS NULL OR coalesce(list_contains({perpetrators}, {series_origin_sql(series)}), false))"


def sources_sql(d: Definition, col: str = "source") -> str:
    """SQL predicate on a source column: the sources that contribute to `d`."""
    if not d.sources:
        return "true"
    (kind, names), = d.sources.items()
    listed = ", ".join(literal(n) for n in names)
    return f"{col} IN ({listed})" if kind == "only" else f"{col} NOT IN ({listed})"


def apply_coverage(con: duckdb.DuckDBPyConnection, d: Definition, grain: str, as_of: dt.date) -> None:
    """NULL the value of every uncovered period of `d` at `grain` (0 for a period that became covered: it
    holds no counted event, else it would have been covered). A period holding counted events is covered
    whatever the windows say. The view's `covered` is `value IS NOT NULL`."""
    con.execute(
        f"""UPDATE indicator_value_rows v SET value = CASE WHEN x.cov THEN coalesce(v.value, 0) END
        FROM (
            SELECT r.series, r.period_start,
                   bool_or(c.source IS NOT NULL) OR coalesce(any_value(r.value), 0) > 0 AS cov
            FROM indicator_value_rows r
            LEFT JOIN source_coverage c ON (c.country_iso3 = '*'
                 OR list_contains({series_countries_sql('r.series')}, c.country_iso3))
                 AND c.start_date <= least(r.period_end, $asof) AND c.end_date >= r.period_start
                 AND {sources_sql(d, 'c.source')} AND {scope_sql()}
            WHERE r.indicator = $ind AND r.grain = $grain GROUP BY ALL
        ) x
        WHERE v.indicator = $ind AND v.grain = $grain AND v.series = x.series AND v.period_start = x.period_start
          AND (v.value IS NULL) = x.cov""",
        {"ind": d.name, "grain": grain, "asof": as_of},
    )
