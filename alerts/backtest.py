"""Backtest: replay the alert rules over history, period by period, as each period was known at its end.

Works on an in-memory copy of the warehouse (alert state, notifications and the file are never touched,
nothing is sent). The values and the rules are the production ones (indicators.compute, indicators.rules),
so what the backtest counts is what `riskwatch alerts` would have raised. As-of: each period is judged
with the values known at its end; where a source has revision times (ACLED, curated) and a record dated
on or before that end was revised after it, the values are recomputed as of that end (revisions after
it left out); sources without revision times (UCDP, GTD, BIJ) are as published.

One alert per value: the rules on one (indicator, series, grain, period) count once in the yearly totals,
as `alerts list` and the report count them. Fired on: the day within the period on which the running
value first reached the threshold (an analyst running `riskwatch alerts` daily gets it that day). Lead
time: days from that day to the period's end, i.e. how much earlier than an end-of-period review.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from alerts.episodes import Episode, EpisodeResult
from indicators.asof import needs_history
from indicators.compute import compute_indicators, running_values
from indicators.definitions import Definition, DefinitionError
from indicators.periods import period_end, period_label, period_start, shift
from indicators.rules import Candidate, evaluate_rules, parse_rules, series_target_sql
from riskwatch.settings import Lake
from warehouse.lake import connect as connect_lake


def scratch_copy(path: str | Path, lake: Lake | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory copy of the warehouse (the file at `path`, or `lake`): the backtest may compute freely,
    the warehouse stays as it is."""
    if lake is not None:
        con = connect_lake(lake, read_only=True)
        con.execute("ATTACH ':memory:' AS scratch")
        con.execute("COPY FROM DATABASE lake TO scratch")
        con.execute("USE scratch")
        con.execute("DETACH lake")
        return con
    con = duckdb.connect()
    con.execute(f"ATTACH '{Path(path).resolve()}' AS src (READ_ONLY)")
    con.execute("COPY FROM DATABASE src TO memory")
    con.execute("DETACH src")
    return con


def with_rules_file(defs: dict[str, Definition], path: str | Path) -> dict[str, Definition]:
    """The definitions named in a rules file (`<indicator>: [rule, ...]`) with those rules instead of their own."""
    try:
        spec = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read rules: {str(exc).splitlines()[0]}") from None
    if not isinstance(spec, dict) or not spec:
        raise ValueError(f"{path}: expected a mapping <indicator>: [rules]")
    unknown = sorted(set(spec) - set(defs))
    if unknown:
        raise ValueError(f"{path}: unknown indicator(s) {', '.join(unknown)}")
    chosen = {name: dataclasses.replace(defs[name], alerts=list(rules or [])) for name, rules in spec.items()}
    for d in chosen.values():
        parse_rules(d)      # a typo fails here, with the file and rule named
    return chosen


@dataclass
class Backtest:
    start: dt.date
    end: dt.date
    alerts: list[Candidate] = field(default_factory=list)     # breached (rule, series, period), as of period end
    fired_on: dict[tuple, dt.date] = field(default_factory=dict)
    periods: dict[tuple, int] = field(default_factory=dict)   # (indicator, rule, series) -> periods judged
    history_dates: int = 0                                    # period ends recomputed with older versions

    @property
    def years(self) -> float:
        return ((self.end - self.start).days + 1) / 365.25


def _key(c: Candidate) -> tuple:
    return c.indicator, c.rule.name, c.series, c.period_start


def replay(con: duckdb.DuckDBPyConnection, defs: dict[str, Definition], start: dt.date, end: dt.date,
           watched: list[str]) -> Backtest:
    """Judge every rule on every complete period from start to end as known at that period's end."""
    alerting = {n: d for n, d in defs.items() if d.alerts and d.kind == "events"}
    if not alerting:
        raise DefinitionError("no indicator with alert rules to backtest")
    result = Backtest(start, end)
    compute_indicators(con, end, watched=watched, full=True, definitions=alerting)
    found = {_key(c): c for c in _complete(con, alerting, start, end, watched, end)}
    running = {}
    for d in alerting.values():
        for grain in {r.grain for r in parse_rules(d)}:
            for series, p, day, value in running_values(con, d, grain, end):
                running.setdefault((d.name, grain, series, p), []).append((day, value))
    result.periods = _judged(con, alerting, start, end, watched)
    for day in _revised_ends(con, alerting, start, end):
        result.history_dates += 1
        compute_indicators(con, day, watched=watched, full=True, definitions=alerting)
        for k in [k for k, c in found.items() if c.period_end == day]:
            del found[k]
        found.update((_key(c), c) for c in _complete(con, alerting, start, day, watched, day) if c.period_end == day)
    if result.history_dates:   # leave the copy as known at `end` (episode_results reads it)
        compute_indicators(con, end, watched=watched, full=True, definitions=alerting)
    result.alerts = sorted((c for c in found.values() if c.breached), key=lambda c: (c.period_start, *_key(c)))
    for c in result.alerts:
        days = running.get((c.indicator, c.grain, c.series, c.period_start), [])
        result.fired_on[_key(c)] = next((day for day, v in days if v >= c.threshold), c.period_end)
    return result


def _complete(con, defs, start: dt.date, end: dt.date, watched: list[str], as_of: dt.date) -> list[Candidate]:
    return [c for c in evaluate_rules(con, defs, as_of, watched, all_periods=True, since=start)
            if c.period_end <= end and c.threshold is not None]


def _revised_ends(con, defs, start: dt.date, end: dt.date) -> list[dt.date]:
    """Period ends (of the rules' grains) at which some record then known was revised later."""
    grains = {r.grain for d in defs.values() for r in parse_rules(d)}
    ends = set()
    for grain in grains:
        p = period_start(start, grain)
        while period_end(p, grain) <= end:
            ends.add(period_end(p, grain))
            p = shift(p, grain, 1)
    return [day for day in sorted(ends) if needs_history(con, day)]


def _judged(con, defs, start: dt.date, end: dt.date, watched: list[str]) -> dict[tuple, int]:
    """(indicator, rule, series) -> complete periods with a value in the range (the share's denominator)."""
    out = {}
    for d in defs.values():
        for rule in parse_rules(d):
            where = f"AND list_has_any($watched, {series_target_sql()})" if rule.series_in_watched else ""
            for series, n in con.execute(
                    f"SELECT series, count(*) FROM indicator_value_rows WHERE indicator = $ind AND grain = $grain "
                    f"AND value IS NOT NULL AND period_start >= $start AND period_end <= $end {where} GROUP BY 1",
                    {"ind": d.name, "grain": rule.grain, "start": start, "end": end,
                     **({"watched": watched} if rule.series_in_watched else {})}).fetchall():
                out[(d.name, rule.name, series)] = n
    return out


def rule_table(bt: Backtest, defs: dict[str, Definition]) -> list[dict]:
    """Per rule and series with an alert: alerts, alerts per year, share of periods alerting, median lead time,
    the rule's budget and whether the series is over it."""
    groups: dict[tuple, list[Candidate]] = {}
    for c in bt.alerts:
        groups.setdefault((c.indicator, c.rule.name, c.series), []).append(c)
    rows = []
    for (ind, rule, series), cs in groups.items():
        r = cs[0].rule
        per_year = len(cs) / bt.years
        leads = [(c.period_end - bt.fired_on[_key(c)]).days for c in cs]
        rows.append({
            "indicator": ind, "rule": rule, "title": r.title or rule, "severity": r.severity, "grain": r.grain,
            "series": series, "alerts": len(cs), "alerts_per_year": round(per_year, 2),
            "periods": bt.periods.get((ind, rule, series), 0),
            "share_alerting_pct": round(100 * len(cs) / max(bt.periods.get((ind, rule, series), 0), 1), 1),
            "median_lead_days": round(float(statistics.median(leads)), 1), "budget": r.budget,
            "over_budget": r.budget is not None and per_year > r.budget,
        })
    return sorted(rows, key=lambda x: (-x["alerts"], x["indicator"], x["rule"], x["series"]))


def yearly_totals(bt: Backtest) -> dict[int, int]:
    """Alerts per calendar year (of the period's start), one per value whatever number of rules fired on it."""
    totals = dict.fromkeys(range(bt.start.year, bt.end.year + 1), 0)
    for key in {(c.indicator, c.series, c.grain, c.period_start) for c in bt.alerts}:
        totals[key[3].year] = totals.get(key[3].year, 0) + 1
    return totals


def episode_results(con, bt: Backtest, episodes: list[Episode], defs: dict[str, Definition]) -> list[EpisodeResult]:
    """Per episode: is it in the data (a non-zero value for its period), did an alert fire, on which day."""
    out = []
    for e in episodes:
        d = defs.get(e.indicator)
        if d is None or not d.alerts:
            out.append(EpisodeResult(e, False, notes=[f"no rules on {e.indicator} in this backtest"]))
            continue
        grains = sorted({r.grain for r in parse_rules(d)})
        in_data = any(con.execute(
            "SELECT count(*) FROM indicator_value_rows WHERE indicator = ? AND grain = ? AND period_start = ? "
            "AND value > 0 AND (? IS NULL OR series = ?)",
            [e.indicator, g, period_start(e.date, g), e.series, e.series]).fetchone()[0] for g in grains)
        res = EpisodeResult(e, in_data and bt.start <= e.date <= bt.end)
        hits = [c for c in bt.alerts if c.indicator == e.indicator and (e.series is None or c.series == e.series)
                and c.period_start <= e.date <= c.period_end]
        if hits:
            # The alert the episode raised (first firing on or after its day), else the one already firing.
            after = [c for c in hits if bt.fired_on[_key(c)] >= e.date]
            first = min(after, key=lambda c: bt.fired_on[_key(c)]) if after else \
                max(hits, key=lambda c: bt.fired_on[_key(c)])
            fired = bt.fired_on[_key(first)]
            res.alerted, res.rule, res.fired_on = True, first.rule.title or first.rule.name, fired
            res.period, res.delay_days = f"{first.series} {period_label(first.grain, first.period_start)}", \
                (fired - e.date).days
        out.append(res)
    return out
