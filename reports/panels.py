"""The report's indicator panels: which series each chart shows, over which periods, with which lines."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from indicators.coverage import sources_sql
from indicators.definitions import Definition
from indicators.periods import period_start, shift
from indicators.rules import Rule, baseline_of, judge, parse_rules
from reports.data import Week
from warehouse.db import rows

WINDOW = {"quarter": 16, "month": 24, "week": 26}      # periods drawn per chart


@dataclass
class IndicatorPanel:
    """One indicator's chart data: the chosen series over the window ending with the report week."""

    name: str
    title: str
    unit: str
    grain: str
    description: str
    periods: list[dt.date] = field(default_factory=list)
    period_ends: list[dt.date] = field(default_factory=list)
    series: dict[str, list[float | None]] = field(default_factory=dict)   # None: no data (uncovered)
    baseline: dict[str, list[float | None]] = field(default_factory=dict)
    surge: dict[str, list[float | None]] = field(default_factory=dict)
    thresholds: list[dict] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    choice: str = ""           # why these series
    sources: list[dict] = field(default_factory=list)   # coverage windows of the contributing sources shown
    empty_reason: str = ""     # set when there is nothing to draw
    last_value: str = ""       # latest non-zero value and its period, for the report's "quiet" line
    svg: str = ""


def describe_rule(rule: dict) -> str:
    kind, grain, sev = rule.get("type"), rule.get("grain", ""), rule.get("severity", "warning")
    if kind == "static":
        scope = " (series into a watched country)" if rule.get("series_in_watched") else ""
        return f"{sev}: {rule.get('threshold')} or more per {grain}{scope}"
    if kind == "surge" and rule.get("baseline") == "median":
        return (f"{sev}: more than {rule.get('z')} spreads above the median of the previous {rule.get('n', 4)} "
                f"{grain}s (robust) and at least {rule.get('min_count', 0)}")
    if kind == "surge":
        return (f"{sev}: at least {rule.get('k', 2)}x the mean of the previous {rule.get('n', 4)} {grain}s "
                f"and at least {rule.get('min_count', 0)}")
    if kind == "rare_count":
        return (f"{sev}: improbably high against the previous {rule.get('n')} {grain}s' mean "
                f"(Poisson tail p < {rule.get('p')}), at least {rule.get('min_count', 1)}")
    return f"{sev}: {kind} rule {rule.get('name', '')}".strip()


def _choose(values: dict[str, dict[dt.date, float]], periods: list[dt.date], grain: str,
            watched: list[str]) -> tuple[list[str], str]:
    def total(s: str, ps: list[dt.date]) -> float:
        return sum(values[s].get(p) or 0 for p in ps)

    names = sorted(values)
    if names and all("->" in s for s in names):
        last8 = periods[-8:]
        chosen = [s for s in names if (not watched or s.split("->")[-1] in watched) and total(s, last8) > 0]
        return chosen, f"each series into a watched country with a non-zero value in the last {len(last8)} {grain}s"
    if grain == "week" or any(":" in s for s in names):
        ranked = sorted(names, key=lambda s: (-total(s, periods[-1:]), -total(s, periods[-4:]), -total(s, periods), s))
        return ranked[:1], f"the series with the most in the report {grain}, then in the last 4, then in the window"
    for iso3 in watched[:1]:
        if iso3 in values:
            return [iso3], f"the {iso3} series"
    ranked = sorted(names, key=lambda s: (-total(s, periods), s))
    return ranked[:1], f"the series with the most in the last {len(periods)} {grain}s"


def _surge_line(full: dict[dt.date, float], periods: list[dt.date], rule: Rule) -> list[float | None]:
    """The rule's threshold at each period, judged as the alert step judges it (indicators.rules.judge)."""
    keys = sorted(full)
    idx = {p: i for i, p in enumerate(keys)}
    history = max(rule.n, rule.min_periods, 1)
    out: list[float | None] = []
    for p in periods:
        i = idx.get(p)
        if i is None or full[p] is None:       # no data: nothing is judged (as in the alert step)
            out.append(None)
            continue
        prev = [full[q] for q in keys[max(0, i - rule.n):i] if full[q] is not None]
        used = sum(full[q] is not None for q in keys[max(0, i - history):i])
        center, mad = baseline_of(rule, prev)
        out.append(judge(rule, full[p], center, used, mad)[0])
    return out


def indicator_panels(con, defs: dict[str, Definition], week: Week, watched: list[str],
                     alerts: list[dict]) -> list[IndicatorPanel]:
    derived_of = {d.name: d.name[: -len("_baseline")] for d in defs.values() if d.name.endswith("_baseline")}
    panels = []
    for d in defs.values():
        if d.name in derived_of and derived_of[d.name] in defs:
            continue            # drawn as the dashed baseline of the indicator it averages
        grain = next((r["grain"] for r in d.alerts if r.get("grain") in d.grains), d.grains[0])
        last = period_start(week.end, grain)
        periods = [shift(last, grain, -k) for k in range(WINDOW[grain] - 1, -1, -1)]
        panel = IndicatorPanel(d.name, d.title, d.unit, grain, " ".join(d.description.split()), periods=periods,
                               period_ends=[shift(p, grain, 1) - dt.timedelta(days=1) for p in periods])
        history_from = shift(periods[0], grain, -12)
        data = rows(con, "SELECT series, period_start, value FROM indicator_values WHERE indicator = ? AND grain = ? "
                         "AND period_start BETWEEN ? AND ?", [d.name, grain, history_from, last])
        full: dict[str, dict[dt.date, float]] = {}
        for r in data:
            full.setdefault(r["series"], {})[r["period_start"]] = r["value"]
        panel.rules = [describe_rule(r) for r in d.alerts]
        panel.thresholds = [{"value": float(r["threshold"]), "severity": r.get("severity", "warning"),
                             "label": f"{r.get('severity', 'warning')} \u2265 {r['threshold']:g}"}
                            for r in d.alerts if r.get("type") == "static" and r.get("grain", grain) == grain
                            and r.get("threshold") is not None]
        if not full:
            panel.empty_reason = "nothing: no values computed for this indicator yet"
            panels.append(panel)
            continue
        chosen, panel.choice = _choose(full, periods, grain, watched)
        if not chosen:
            panel.empty_reason = f"nothing: no {panel.choice}"
            panels.append(panel)
            continue
        for s in chosen:
            panel.series[s] = [full[s].get(p, 0.0) for p in periods]
            for rule in parse_rules(d):
                if rule.type == "surge" and rule.grain == grain:
                    panel.surge[s] = _surge_line(full[s], periods, rule)
        base = next((b for b, of in derived_of.items() if of == d.name), None)
        if base:
            brows = rows(con, "SELECT series, period_start, value FROM indicator_values WHERE indicator = ? "
                              "AND grain = ? AND series IN (SELECT unnest(?)) AND period_start BETWEEN ? AND ?",
                         [base, grain, chosen, periods[0], last])
            bmap = {(r["series"], r["period_start"]): r["value"] for r in brows}
            for s in chosen:
                panel.baseline[s] = [bmap.get((s, p)) for p in periods]
        panel.sources = chart_sources(con, d, list(panel.series), periods[0], panel.period_ends[-1])
        pset = set(periods)
        panel.alerts = [a for a in alerts if a["indicator"] == d.name and a["series"] in panel.series
                        and a["period_start"] in pset and (a.get("grain") in (None, grain))]
        panels.append(panel)
    return panels


def chart_sources(con, d: Definition, series: list[str], start: dt.date, end: dt.date) -> list[dict]:
    """The contributing sources whose coverage of the series' countries overlaps the chart's window; a source
    that records only some perpetrators (BIJ: USA) only when a series' origin is one of them."""
    countries = sorted({c for s in series for c in (
        [s.split("->")[-1]] if "->" in s else s.split("<>") if "<>" in s else [s.split(":")[0]])})
    origins = sorted({s.split("->")[0] for s in series if "->" in s})
    return rows(con, f"SELECT source, country_iso3, start_date, end_date, basis FROM source_coverage "
                     f"WHERE (country_iso3 = '*' OR list_contains(?, country_iso3)) AND start_date <= ? "
                     f"AND end_date >= ? AND {sources_sql(d)} "
                     f"AND (perpetrators IS NULL OR list_has_any(perpetrators, ?::VARCHAR[])) "
                     f"ORDER BY source, country_iso3",
                [countries, end, start, origins])
