"""`riskwatch backtest`: replay the alert rules over history (alerts/backtest.py); no alert state, no email."""

from __future__ import annotations

import csv
import datetime as dt
import statistics
from pathlib import Path

import click

from riskwatch.cli import Fail
from riskwatch.settings import Settings
from warehouse.query import render

RULE_COLUMNS = ("indicator", "rule", "severity", "series", "alerts", "alerts_per_year", "periods",
                "share_alerting_pct", "median_lead_days", "budget", "over_budget")
EPISODE_COLUMNS = ("date", "indicator", "series", "place", "in_data", "alerted", "fired_on", "delay_days", "period",
                   "rule", "what")


@click.command()
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First day replayed.")
@click.option("--to", "until", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last day replayed.")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="YAML <indicator>: [rules]: replay these rules instead of the definitions' own.")
@click.option("--episodes", "episodes_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Known episodes (YAML); default alerts/episodes/pakistan.yml.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Also write the tables: PATH.csv (+ .episodes.csv, .years.csv) or PATH.html.")
@click.pass_obj
def backtest(settings: Settings, since: dt.datetime, until: dt.datetime, rules_file: str | None,
             episodes_file: str | None, out: str | None) -> None:
    """Replay the alert rules period by period as each period was known at its end; no state, no email.

    Per rule and series: alerts, alerts per year, share of periods alerting, median lead time (days from
    the day the value reached the threshold to the period's end), budget (a rule's `budget`, alerts per
    year per series) and whether it is exceeded; alerts per year (one per value); and for each known
    episode whether and when an alert fired. Works on an in-memory copy: the warehouse is not changed.

    \b
    Examples:
      riskwatch backtest --from 2008-01-01 --to 2019-12-31
      riskwatch backtest --from 2008-01-01 --to 2019-12-31 --rules old_rules.yml --out before.csv
      riskwatch backtest --from 2018-01-01 --to 2025-11-30 --out backtest.html
    """
    from alerts.backtest import episode_results, replay, rule_table, scratch_copy, with_rules_file, yearly_totals
    from alerts.episodes import load_episodes
    from indicators.definitions import DefinitionError, load_definitions

    start, end = since.date(), until.date()
    if end < start:
        raise Fail(f"--to {end} is before --from {start}")
    lake = settings.lake
    if lake is None and not Path(settings.warehouse).is_file():
        raise Fail(f"no warehouse at {settings.warehouse}")
    try:
        defs = load_definitions()
        if rules_file:
            defs = with_rules_file(defs, rules_file)
        episodes = load_episodes(episodes_file)
        con = scratch_copy(settings.warehouse, lake)
        bt = replay(con, defs, start, end, settings.watched_countries)
    except (ValueError, DefinitionError) as exc:
        raise Fail(str(exc)) from exc
    rows, years = rule_table(bt, defs), yearly_totals(bt)
    found = episode_results(con, bt, episodes, defs)
    con.close()
    eps = [{"date": r.episode.date, "indicator": r.episode.indicator, "series": r.episode.series or "*",
            "place": r.episode.place, "in_data": r.in_data, "alerted": r.alerted, "fired_on": r.fired_on,
            "delay_days": r.delay_days, "period": r.period, "rule": r.rule, "what": r.episode.what} for r in found]
    click.echo(render(list(RULE_COLUMNS), [tuple(r[c] for c in RULE_COLUMNS) for r in rows]))
    median = statistics.median(years.values()) if years else 0
    click.echo("alerts per year (one per value): " + ", ".join(f"{y}: {n}" for y, n in years.items())
               + f"; median {median:g}")
    click.echo(render(list(EPISODE_COLUMNS[:-1]), [tuple(e[c] for c in EPISODE_COLUMNS[:-1]) for e in eps]))
    present = [e for e in eps if e["in_data"]]
    click.echo(f"{start} to {end}: {len(bt.alerts)} rule breach(es), {sum(years.values())} alert(s), median "
               f"{median:g} a year; {sum(r['over_budget'] for r in rows)} rule/series over budget; episodes in the "
               f"data: {len(present)}, alerted: {sum(e['alerted'] for e in present)}; "
               f"{bt.history_dates} period end(s) replayed with revisions left out")
    if out:
        _write(Path(out), rows, years, eps, f"riskwatch backtest {start} to {end}")
        click.echo(f"written: {out}")


def _write(path: Path, rows: list[dict], years: dict[int, int], eps: list[dict], title: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".html":
        from publish.render import environment

        html = environment("alerts").get_template("backtest.html.j2").render(
            title=title, rows=rows, rule_columns=RULE_COLUMNS, years=years,
            median=statistics.median(years.values()) if years else 0, eps=eps, episode_columns=EPISODE_COLUMNS)
        path.write_text(html, encoding="utf-8")
        return
    per_year = [{"year": y, "alerts": n} for y, n in years.items()]
    tables = ((path, RULE_COLUMNS, rows), (path.with_suffix(".episodes.csv"), EPISODE_COLUMNS, eps),
              (path.with_suffix(".years.csv"), ("year", "alerts"), per_year))
    for target, columns, items in tables:
        with target.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            writer.writerows(items)
