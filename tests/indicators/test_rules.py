"""Alert rules on a real DuckDB warehouse: values go straight into indicator_value_rows."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from indicators.definitions import Definition, DefinitionError
from indicators.rules import evaluate_rules, parse_rules, poisson_tail, rare_threshold

AS_OF = dt.date(2024, 11, 10)


def definition(*alerts: dict, grains=("month",), name="test_indicator") -> Definition:
    return Definition(name=name, title="Test indicator", sql="SELECT 1", grains=list(grains), alerts=list(alerts))


def put_values(con, values: list[float], *, series="PAK", grain="month", last=dt.date(2024, 11, 1),
               indicator="test_indicator", as_of=AS_OF) -> None:
    """Monthly values ending with the period starting at `last` (the open, current one at AS_OF)."""
    starts = []
    y, m = last.year, last.month
    for _ in values:
        starts.append(dt.date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    starts.reverse()
    for start, value in zip(starts, values, strict=True):
        end = (dt.date(start.year + start.month // 12, start.month % 12 + 1, 1) - dt.timedelta(days=1))
        con.execute("INSERT INTO indicator_value_rows VALUES (?, ?, ?, ?, ?, ?, ?, now(), ?)",
                    [indicator, series, grain, start, end, value, end <= as_of, as_of])


def judged(con, d: Definition, **kwargs):
    return {(c.series, c.period_start, c.rule.name): c for c in evaluate_rules(con, {d.name: d}, AS_OF, ["PAK"],
                                                                                 **kwargs)}


STATIC = {"name": "any", "type": "static", "grain": "month", "severity": "warning", "threshold": 1}


def test_static_judges_the_current_and_the_last_complete_period(con):
    put_values(con, [0, 0, 3, 1])          # Aug, Sep, Oct (complete), Nov (open)
    found = judged(con, definition(STATIC))
    assert set(found) == {("PAK", dt.date(2024, 10, 1), "any"), ("PAK", dt.date(2024, 11, 1), "any")}
    oct_, nov = found[("PAK", dt.date(2024, 10, 1), "any")], found[("PAK", dt.date(2024, 11, 1), "any")]
    assert oct_.breached and oct_.in_window and oct_.value == 3 and oct_.threshold == 1
    assert nov.breached and nov.baseline == pytest.approx(1.0)  # mean of Aug..Oct (3 periods of the 4)
    assert [v for _, v in nov.trailing] == [0, 0, 3, 1]


def test_static_below_threshold_is_returned_but_not_breached(con):
    put_values(con, [2, 0, 0])
    found = judged(con, definition({**STATIC, "threshold": 2}))
    assert all(not c.breached and c.threshold == 2 for c in found.values())
    assert len(found) == 2


SURGE = {"name": "surge", "type": "surge", "grain": "month", "severity": "warning", "k": 2, "n": 4,
         "min_count": 5, "min_periods": 4}


@pytest.mark.parametrize(("history", "value", "breached", "threshold"), [
    ([2, 2, 2, 2], 5, True, 5),        # k x mean = 4, but min_count 5 is the floor
    ([2, 2, 2, 2], 4, False, 5),       # twice the mean, yet under min_count
    ([4, 4, 4, 4], 8, True, 8),
    ([4, 4, 4, 4], 7, False, 8),
    ([9, 0, 4, 4, 4, 4], 8, True, 8),  # only the previous n=4 periods count
])
def test_surge_with_min_count(con, history, value, breached, threshold):
    put_values(con, [*history, value])
    c = judged(con, definition(SURGE))[("PAK", dt.date(2024, 11, 1), "surge")]
    assert (c.breached, c.threshold) == (breached, threshold)


def test_surge_needs_min_periods_of_history(con):
    put_values(con, [1, 1, 9])
    c = judged(con, definition(SURGE))[("PAK", dt.date(2024, 11, 1), "surge")]
    assert c.threshold is None and not c.breached and "needs 4 previous periods, has 2" in c.note


RARE = {"name": "rare", "type": "rare_count", "grain": "month", "severity": "warning", "p": 0.01, "n": 12,
        "min_count": 2}


def test_rare_count_quiet_series_zero_to_one_is_not_an_alert_but_two_is(con):
    put_values(con, [0] * 12 + [1], series="PAK")
    put_values(con, [0] * 12 + [2], series="AFG")
    found = judged(con, definition(RARE))
    one, two = found[("PAK", dt.date(2024, 11, 1), "rare")], found[("AFG", dt.date(2024, 11, 1), "rare")]
    # The mean floor (0.1 / n) keeps the p-value finite: about 0.0083 for one event after a quiet year.
    assert one.p_value == pytest.approx(1 - math.exp(-0.1 / 12))
    assert one.p_value < 0.01 and not one.breached and one.threshold == 2   # min_count decides
    assert two.breached and two.p_value < 1e-4 and "floored" in two.note


def test_rare_count_with_min_count_one_lets_a_single_event_through(con):
    put_values(con, [0] * 12 + [1])
    c = judged(con, definition({**RARE, "min_count": 1}))[("PAK", dt.date(2024, 11, 1), "rare")]
    assert c.breached and c.threshold == 1


def test_rare_count_on_a_busy_series(con):
    put_values(con, [3] * 12 + [7])    # P(X >= 7 | 3) = 0.034: not rare at p=0.01
    put_values(con, [3] * 12 + [9], series="AFG")
    found = judged(con, definition(RARE))
    busy, rare = found[("PAK", dt.date(2024, 11, 1), "rare")], found[("AFG", dt.date(2024, 11, 1), "rare")]
    assert busy.p_value == pytest.approx(1 - sum(math.exp(-3) * 3**i / math.factorial(i) for i in range(7)))
    assert not busy.breached and busy.threshold == rare_threshold(3, 0.01) == 9
    assert rare.breached


def test_poisson_tail_matches_the_direct_sum_and_stays_accurate_far_out():
    for mu in (0.01, 0.5, 3, 40):
        for k in (0, 1, 2, 5, 30, 60):
            direct = 1 - math.fsum(math.exp(-mu) * mu**i / math.factorial(i) for i in range(k))
            if direct > 1e-12:
                assert poisson_tail(k, mu) == pytest.approx(direct, rel=1e-9, abs=1e-15)
    tiny = poisson_tail(60, 2)   # 1 - cdf would round to 0
    assert 0 < tiny < 1e-60
    assert poisson_tail(1, 0) == 0 and poisson_tail(0, 5) == 1


def test_hysteresis_clear_threshold(con):
    put_values(con, [2, 2, 2, 2, 3.5])
    nov = ("PAK", dt.date(2024, 11, 1))
    c = judged(con, definition({**STATIC, "threshold": 4, "clear": 3}))[(*nov, "any")]
    assert not c.breached and c.holds and c.clear_threshold == 3      # a firing alert would stay firing
    s = judged(con, definition({**SURGE, "clear": 1.5, "min_count": 0}))[(*nov, "surge")]
    assert (s.threshold, s.clear_threshold, s.breached, s.holds) == (4, 3, False, True)
    low = judged(con, definition({**STATIC, "threshold": 4, "clear": 3.6}))[(*nov, "any")]
    assert not low.holds
    # default: clear = the firing threshold
    d = judged(con, definition({**STATIC, "threshold": 3.5}))[(*nov, "any")]
    assert d.clear_threshold == 3.5 and d.breached and d.holds


def test_series_in_watched_uses_the_target_of_cross_border_series(con):
    for series in ("IRN->PAK", "PAK->IND", "PAK:Sindh", "IND:Punjab", "PAK", "IND<>PAK", "AFG<>IRN"):
        put_values(con, [0, 1], series=series)
    found = judged(con, definition({**STATIC, "series_in_watched": True}))
    # A clash series has no direction: it concerns both of its countries.
    assert {s for s, _, _ in found} == {"IRN->PAK", "PAK:Sindh", "PAK", "IND<>PAK"}


def test_all_periods_returns_past_breaches_outside_the_window(con):
    put_values(con, [4, 0, 0, 0, 1])
    found = judged(con, definition(STATIC), all_periods=True)
    past = found[("PAK", dt.date(2024, 7, 1), "any")]
    assert past.breached and not past.in_window
    assert sum(c.in_window for c in found.values()) == 2


def test_the_bundled_definitions_parse():
    from indicators.definitions import load_definitions

    rules = {d.name: parse_rules(d) for d in load_definitions().values()}
    assert [r.severity for r in rules["chinese_nationals_attacks"]] == ["warning", "critical"]
    assert rules["suicide_attacks"][0].min_periods == 12   # rare_count waits for n periods by default


@pytest.mark.parametrize(("spec", "message"), [
    ({**STATIC, "treshold": 1}, "unknown key"),
    ({**STATIC, "threshold": 2, "clear": 3}, "would resolve"),
    ({**STATIC, "severity": "high"}, "severity one of"),
    ({**STATIC, "grain": "week"}, "grain one of"),
    ({**SURGE, "k": 0}, "needs positive k, n"),
    ({**RARE, "p": 2}, "between 0 and 1"),
    ({**SURGE, "baseline": "median"}, "needs positive z, n"),
    ({**SURGE, "baseline": "trimmed"}, "baseline must be mean or median"),
    ({**STATIC, "baseline": "median"}, "only on a surge rule"),
    ({**STATIC, "cooldown": -1}, "cooldown must be a whole number"),
    ({**STATIC, "budget": 0}, "budget must be a positive number"),
])
def test_broken_rules_fail_loudly(spec, message):
    with pytest.raises(DefinitionError, match=message):
        parse_rules(definition(spec))


ROBUST = {"name": "robust", "type": "surge", "baseline": "median", "grain": "month", "severity": "warning", "z": 3,
          "n": 12, "min_count": 8, "min_periods": 8}


def test_robust_surge_is_not_blinded_by_one_extreme_period(con):
    """One 40 among 3s: 2 x the mean of 4 sets the bar at 24.5 and misses a 12; median + 3 spreads does not."""
    history = [3, 4, 2, 3, 5, 3, 4, 3, 2, 40, 3, 4]
    put_values(con, [*history, 12])
    robust = judged(con, definition(ROBUST))[("PAK", dt.date(2024, 11, 1), "robust")]
    # median 3, MAD 1 -> spread max(1.4826, sqrt(3)) = 1.732; 3 + 3 x 1.732 = 8.2
    assert robust.baseline == 3 and robust.threshold == pytest.approx(3 + 3 * math.sqrt(3)) and robust.breached
    mean_rule = judged(con, definition({**SURGE, "name": "mean"}))[("PAK", dt.date(2024, 11, 1), "mean")]
    assert mean_rule.threshold == pytest.approx(2 * (2 + 40 + 3 + 4) / 4) and not mean_rule.breached
    # min_count is a floor: the same jump on a quiet series (median 1) does not alert below 8.
    con.execute("DELETE FROM indicator_value_rows")
    put_values(con, [1] * 12 + [7])
    quiet = judged(con, definition(ROBUST))[("PAK", dt.date(2024, 11, 1), "robust")]
    assert quiet.threshold == 8 and not quiet.breached


def test_robust_threshold_matches_the_report_helper():
    from indicators.rules import Rule, baseline_of, judge

    rule = Rule(name="r", type="surge", grain="week", severity="warning", baseline="median", z=3, n=12,
                min_count=8)
    center, mad = baseline_of(rule, [3, 4, 2, 3, 5, 3, 4, 3, 2, 40, 3, 4, None])
    assert (center, mad) == (3, 1)
    assert judge(rule, 12, center, 12, mad)[0] == pytest.approx(3 + 3 * math.sqrt(3))


COOL = {**STATIC, "name": "cool", "cooldown": 2}


def test_cooldown_makes_a_run_of_breaches_one_alert(con):
    # Jan..Nov 2024: breaches in Feb, Mar, Apr (one run), then Aug after a gap of 3 months (a new alert).
    put_values(con, [0, 2, 1, 3, 0, 0, 0, 1, 0, 0, 0])
    found = evaluate_rules(con, {"test_indicator": definition(COOL)}, AS_OF, ["PAK"], all_periods=True)
    alerts = [c.period_start.month for c in found if c.breached]
    assert alerts == [2, 8]
    cooled = [c for c in found if c.over and not c.breached]
    assert [c.period_start.month for c in cooled] == [3, 4] and "cool-down" in cooled[0].note
    # Live runs judge only the window, yet see the breaches before it: Oct breached, Nov is cooled.
    con.execute("DELETE FROM indicator_value_rows")
    put_values(con, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    live = judged(con, definition(COOL))
    assert live[("PAK", dt.date(2024, 10, 1), "cool")].breached
    assert live[("PAK", dt.date(2024, 11, 1), "cool")].cooled


def test_uncovered_periods_are_never_judged(con):
    """A NULL value (no source covers the period, once indicator_values has coverage) is not an alert
    and not part of a baseline."""
    try:
        con.execute("ALTER TABLE indicator_value_rows ALTER COLUMN value DROP NOT NULL")
    except Exception:   # noqa: BLE001 - a schema where the column is already nullable
        pass
    put_values(con, [5, 5, 5, 5, 0, 0])
    con.execute("UPDATE indicator_value_rows SET value = NULL WHERE period_start = DATE '2024-10-01'")
    found = judged(con, definition(STATIC), all_periods=True)
    assert dt.date(2024, 10, 1) not in {c.period_start for c in found.values()}
    assert len(found) == 5          # the other periods with a value are judged
