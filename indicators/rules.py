"""Alert rules from each indicator's YAML `alerts:` list, judged against indicator_value_rows.

Every rule turns into one number, `threshold`, in the indicator's own unit: a value breaches when
value >= threshold. A firing alert keeps firing while value >= `clear_threshold` (hysteresis), which
defaults to the firing threshold. What `clear:` means per type:
- static:     threshold = `threshold`; `clear` is a value (resolve when value < clear).
- surge:      threshold = max(k x mean, min_count); `clear` is a multiplier (resolve when value < clear x mean).
              With `baseline: median` (robust, the bundled default): threshold = max(median + z x spread,
              min_count), spread = max(1.4826 x MAD, sqrt(max(median, 1))) of the previous n periods: one
              extreme week neither inflates the baseline nor hides the next surge, and the Poisson-like floor
              sqrt(median) keeps a steady series from alerting on +1; `clear` is a z.
- rare_count: threshold = max(min_count, the smallest count whose Poisson upper tail under the trailing
              mean is < p); `clear` is a probability (resolve when the tail is >= clear).
Cool-down (`cooldown: N`, any type): a breach within N periods after the rule's previous breach on the
same series continues that episode and raises no new alert (judged on the values, so the same in live
runs, backfills and the backtest).
"mean" is the mean of the previous n periods of the series; they are always complete (only the
latest period can be open), and the SQL window functions compute it with the trailing values.

Quiet series: a trailing mean of 0 would make any count "impossible" (tail 0). rare_count floors the
mean at MEAN_FLOOR_EVENTS / n, as if a tenth of an event had been seen in the n periods: the p-value of
0 -> 1 is then about 0.1/n (0.008 for n=12), finite and honest, and `min_count` decides whether a single
event may alert at all (the bundled rules use 2: one event after a quiet year is noted, not alarmed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import statistics
from dataclasses import dataclass, field

import duckdb

from indicators.definitions import GRAINS, Definition, DefinitionError

TYPES = ("static", "surge", "rare_count")
SEVERITIES = ("warning", "critical")
MEAN_FLOOR_EVENTS = 0.1
TRAILING = 12          # periods kept for the chart and the report
_KEYS = {"name", "type", "grain", "severity", "threshold", "clear", "k", "n", "p", "min_count", "min_periods",
         "series_in_watched", "title", "budget", "baseline", "z", "cooldown"}
MAD_SCALE = 1.4826     # MAD x this estimates the standard deviation of normal data


@dataclass(frozen=True)
class Rule:
    name: str
    type: str
    grain: str
    severity: str
    threshold: float | None = None
    clear: float | None = None
    k: float | None = None
    n: int = 4
    p: float | None = None
    min_count: float = 1
    min_periods: int = 0
    series_in_watched: bool = False
    title: str = ""                 # what analysts read in emails and the backtest ("2+ attacks in a quarter")
    budget: float | None = None     # alerts per year per series this rule may raise (the backtest marks overruns)
    baseline: str = "mean"          # surge: mean (k x mean) | median (median + z x spread)
    z: float | None = None
    cooldown: int = 0               # periods after a breach in which another breach raises no new alert


def parse_rules(definition: Definition) -> list[Rule]:
    """The rules of one definition, checked so that a typo fails loudly instead of never alerting."""
    rules, seen = [], set()
    for i, spec in enumerate(definition.alerts):
        where = f"{definition.path or definition.name}: alert {spec.get('name') or f'#{i + 1}'}"

        def fail(msg: str, where: str = where) -> DefinitionError:
            return DefinitionError(f"{where}: {msg}")

        if not isinstance(spec, dict) or set(spec) - _KEYS:
            raise fail(f"unknown key(s) {sorted(set(spec) - _KEYS) if isinstance(spec, dict) else spec}")
        kind, grain = spec.get("type"), spec.get("grain", definition.grains[0])
        if not spec.get("name") or spec["name"] in seen:
            raise fail("a unique name is required")
        if kind not in TYPES or spec.get("severity") not in SEVERITIES or grain not in definition.grains:
            raise fail(f"type must be one of {TYPES}, severity one of {SEVERITIES}, grain one of {definition.grains}")
        robust = kind == "surge" and spec.get("baseline") == "median"
        if spec.get("baseline", "mean") not in ("mean", "median") or (kind != "surge" and "baseline" in spec):
            raise fail("baseline must be mean or median, and only on a surge rule")
        need = {"static": ("threshold",), "surge": ("z", "n") if robust else ("k", "n"),
                "rare_count": ("p", "n")}[kind]
        if any(not isinstance(spec.get(key), int | float) or spec[key] <= 0 for key in need):
            raise fail(f"{kind} needs positive {', '.join(need)}")
        n = int(spec.get("n", 4))
        # surge/rare_count judge against n previous periods, so by default they wait until there are n.
        min_periods = int(spec.get("min_periods", 0 if kind == "static" else n))
        rule = Rule(name=spec["name"], type=kind, grain=grain, severity=spec["severity"],
                    threshold=spec.get("threshold"), clear=spec.get("clear"), k=spec.get("k"), n=n, p=spec.get("p"),
                    min_count=spec.get("min_count", 1), min_periods=min_periods,
                    series_in_watched=bool(spec.get("series_in_watched", False)),
                    title=str(spec.get("title") or ""), budget=spec.get("budget"),
                    baseline="median" if robust else "mean", z=spec.get("z"), cooldown=spec.get("cooldown", 0))
        if not isinstance(rule.cooldown, int) or rule.cooldown < 0:
            raise fail(f"cooldown must be a whole number of periods >= 0, got {rule.cooldown!r}")
        fire = {"static": rule.threshold, "surge": rule.z if robust else rule.k, "rare_count": rule.p}[kind]
        if rule.clear is not None and (rule.clear > fire if kind != "rare_count" else rule.clear < fire):
            raise fail(f"clear {rule.clear} would resolve a firing alert before it could fire ({fire})")
        if rule.budget is not None and (not isinstance(rule.budget, int | float) or rule.budget <= 0):
            raise fail(f"budget must be a positive number of alerts per year and series, got {rule.budget!r}")
        if rule.min_count < 0 or rule.min_periods < 0 or (kind == "rare_count" and not 0 < rule.p < 1):
            raise fail("min_count and min_periods must be >= 0, p between 0 and 1")
        seen.add(rule.name)
        rules.append(rule)
    return rules


@dataclass
class Candidate:
    """One rule judged on one value: breached or not, with the numbers that explain it."""

    indicator: str
    series: str
    grain: str
    period_start: dt.date
    period_end: dt.date
    rule: Rule
    value: float
    baseline: float | None          # mean (surge with baseline: median: median) of the previous (up to) n periods
    periods_used: int               # how many previous periods the baseline has
    threshold: float | None         # None: not judged (too little history)
    clear_threshold: float | None
    p_value: float | None
    in_window: bool                 # the current period or the last complete one
    trailing: list[tuple[dt.date, float]] = field(default_factory=list)
    note: str = ""
    cooled: bool = False            # over the threshold, but within the cool-down of the previous breach

    @property
    def over(self) -> bool:
        return self.threshold is not None and self.value >= self.threshold

    @property
    def breached(self) -> bool:
        return self.over and not self.cooled

    @property
    def holds(self) -> bool:
        """Still above the clear threshold: a firing alert stays firing."""
        return self.clear_threshold is not None and self.value >= self.clear_threshold

    @property
    def value_key(self) -> str:
        return value_key(self.indicator, self.series, self.grain, self.period_start)

    @property
    def alert_id(self) -> str:
        return alert_id(self.indicator, self.series, self.grain, self.period_start, self.rule.name)


def value_key(indicator: str, series: str, grain: str, period_start: dt.date) -> str:
    return f"{indicator}/{series}/{grain}/{period_start.isoformat()}"


def alert_id(indicator: str, series: str, grain: str, period_start: dt.date, rule: str) -> str:
    """One rule's row (alert_rows): the fingerprint (indicator, series, grain, period, rule) as 12 hex."""
    return hashlib.sha256(f"{value_key(indicator, series, grain, period_start)}/{rule}".encode()).hexdigest()[:12]


def value_id(key: str) -> str:
    """The id analysts see (`alerts` view, emails, ack/silence): one alert per value, 12 hex of its key's
    sha256 (views.sql computes the same with left(sha256(value_key), 12))."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def poisson_tail(k: float, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu), summed in log space on the short side to keep small tails accurate."""
    k = math.ceil(k)
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    term = lambda i: math.exp(-mu + i * math.log(mu) - math.lgamma(i + 1))  # noqa: E731
    if k <= mu:
        return max(0.0, 1.0 - math.fsum(term(i) for i in range(k)))
    total, i, t = 0.0, k, term(k)
    while t > total * 1e-17 and i < k + 10_000:
        total += t
        i += 1
        t *= mu / i
    return min(1.0, total)


def rare_threshold(mu: float, p: float) -> int:
    """The smallest count (>= 1) whose Poisson upper tail under mean mu is below p."""
    k = max(1, math.floor(mu))
    while poisson_tail(k, mu) >= p:
        k += 1
    return k


def baseline_of(rule: Rule, previous: list[float]) -> tuple[float | None, float | None]:
    """(baseline, MAD) of the previous values as the rule reads them: median and MAD for a robust surge,
    the mean otherwise (the SQL window in _evaluate computes the same)."""
    previous = [v for v in previous if v is not None]    # uncovered periods are no baseline
    if not previous:
        return None, None
    if rule.baseline != "median":
        return sum(previous) / len(previous), None
    med = statistics.median(previous)
    return med, statistics.median(abs(v - med) for v in previous)


def judge(rule: Rule, value: float, baseline: float | None, periods_used: int, mad: float | None = None) -> tuple:
    """(threshold, clear_threshold, p_value, note) of one rule on one value."""
    if periods_used < rule.min_periods:
        return None, None, None, f"needs {rule.min_periods} previous periods, has {periods_used}"
    mean = baseline or 0.0
    if rule.type == "static":
        return rule.threshold, rule.threshold if rule.clear is None else rule.clear, None, ""
    if rule.type == "surge" and rule.baseline == "median":
        spread = max(MAD_SCALE * (mad or 0.0), math.sqrt(max(mean, 1.0)))
        clear_z = rule.z if rule.clear is None else rule.clear
        return (max(mean + rule.z * spread, rule.min_count), max(mean + clear_z * spread, rule.min_count), None,
                f"median {mean:g}, spread {spread:.3g}")
    if rule.type == "surge":
        clear_k = rule.k if rule.clear is None else rule.clear
        return max(rule.k * mean, rule.min_count), max(clear_k * mean, rule.min_count), None, ""
    mu = max(mean, MEAN_FLOOR_EVENTS / max(rule.n, 1))
    note = f"mean floored at {mu:.3g}" if mu > mean else ""
    clear_p = rule.p if rule.clear is None else rule.clear
    return (max(rule.min_count, rare_threshold(mu, rule.p)), max(rule.min_count, rare_threshold(mu, clear_p)),
            poisson_tail(value, mu), note)


def series_target_sql(col: str = "series") -> str:
    """The countries a series is about, as a list: 'ORIG->TGT' -> [TGT], 'IND<>PAK' -> [IND, PAK] (a clash is
    about both), 'PAK:Sindh' -> [PAK], 'PAK' -> [PAK]."""
    return (f"CASE WHEN contains({col}, '->') THEN [split_part({col}, '->', 2)] "
            f"WHEN contains({col}, '<>') THEN string_split({col}, '<>') ELSE [split_part({col}, ':', 1)] END")


def evaluate_rules(
    con: duckdb.DuckDBPyConnection, definitions: dict[str, Definition], as_of: dt.date, watched: list[str], *,
    all_periods: bool = False, since: dt.date | None = None, values: str = "indicator_value_rows",
) -> list[Candidate]:
    """Judge every rule on the current and last complete period of each series (all_periods: every period
    with a value, for backfills and backtests). Non-breaching window values are returned too: they resolve
    firing alerts. since: no candidate for a period starting before it (earlier periods still feed the
    baselines). values: the relation holding the values (indicator_value_rows' columns; the backtest
    passes its as-of values). A value that is NULL (no source covers the period) is never judged and
    never counts in a baseline."""
    found = []
    for d in definitions.values():
        for rule in parse_rules(d):
            found += _evaluate(con, d.name, rule, as_of, watched, all_periods, since, values)
    return found


def _evaluate(con, indicator: str, rule: Rule, as_of: dt.date, watched: list[str], all_periods: bool,
              since: dt.date | None = None, values: str = "indicator_value_rows") -> list:
    assert rule.grain in GRAINS  # parse_rules checked it; the window sizes below are interpolated ints
    n, history, keep = max(rule.n, 1), max(rule.n, rule.min_periods, 1), max(TRAILING, rule.n + 1)
    watched_sql = f"AND list_has_any($watched, {series_target_sql()})" if rule.series_in_watched else ""
    center = "median(value) OVER w" if rule.baseline == "median" else "avg(value) OVER w"
    # A cool-down needs the breaches of the periods before the judged ones: fetch those rows too.
    look = rule.cooldown + 2 if rule.cooldown else 0
    rows = con.execute(
        f"SELECT series, period_start, period_end, value, baseline, periods_used, trail_p, trail_v, "
        f"period_start IN (latest, latest_complete) AS in_window, mad, pos, "
        f"(period_start IN (latest, latest_complete) OR ($all AND value > 0)) AND period_start >= $since AS wanted "
        f"FROM ("
        f"  SELECT *, {center} AS baseline, mad(value) OVER w AS mad, count(value) OVER h AS periods_used, "
        f"  list(period_start) OVER t AS trail_p, list(value) OVER t AS trail_v, "
        f"  row_number() OVER o AS pos, count(*) OVER s AS total, max(period_start) OVER s AS latest, "
        f"  max(period_start) FILTER (WHERE period_end <= $as_of) OVER s AS latest_complete "
        f"  FROM {values} WHERE indicator = $ind AND grain = $grain AND period_start <= $as_of "
        f"  {watched_sql} "
        f"  WINDOW s AS (PARTITION BY series), o AS (PARTITION BY series ORDER BY period_start), "
        f"  w AS (PARTITION BY series ORDER BY period_start ROWS BETWEEN {n} PRECEDING AND 1 PRECEDING), "
        f"  h AS (PARTITION BY series ORDER BY period_start ROWS BETWEEN {history} PRECEDING AND 1 PRECEDING), "
        f"  t AS (PARTITION BY series ORDER BY period_start ROWS BETWEEN {keep - 1} PRECEDING AND CURRENT ROW)"
        f") WHERE value IS NOT NULL AND (period_start IN (latest, latest_complete) OR ($all AND value > 0) "
        f"OR ($look > 0 AND value > 0 AND pos > total - $look)) "
        f"ORDER BY series, period_start",
        {"ind": indicator, "grain": rule.grain, "as_of": as_of, "all": all_periods, "since": since or dt.date.min,
         "look": look, **({"watched": list(watched)} if rule.series_in_watched else {})},
    ).fetchall()
    out, last = [], {}
    for series, start, end, value, baseline, used, trail_p, trail_v, in_window, mad, pos, wanted in rows:
        # With min_periods < n, a series younger than n periods averages the history it has.
        threshold, clear, p_value, note = judge(rule, value, baseline, used, mad)
        c = Candidate(indicator, series, rule.grain, start, end, rule, value, baseline, used, threshold, clear,
                      p_value, bool(in_window), list(zip(trail_p, trail_v, strict=True)), note)
        if c.over:
            c.cooled = series in last and pos - last[series] <= rule.cooldown
            if c.cooled:
                c.note = f"cool-down: {pos - last[series]} period(s) after the previous breach"
            last[series] = pos
        if wanted:
            out.append(c)
    return out
