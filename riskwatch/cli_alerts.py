"""`riskwatch alerts`: evaluate and notify, plus silence / ack / list (a thin layer over flows.alerting)."""

from __future__ import annotations

import datetime as dt

import click

from riskwatch.cli import Fail, as_date, as_of_option, open_reader, open_writer
from riskwatch.settings import Settings
from warehouse.query import FORMATS, render


@click.group("alerts", invoke_without_command=True)
@as_of_option
@click.option("--dry-run", is_flag=True, help="Show what would be sent; change nothing, send nothing.")
@click.pass_context
def alerts(ctx: click.Context, as_of: dt.datetime | None, dry_run: bool) -> None:
    """Evaluate the alert rules of every indicator and send the notifications they call for.

    Rules live in indicators/definitions/<name>.yml (`alerts:`). A rerun sends nothing new; a higher
    severity sends one escalation, a breach that clears one 'resolved' note. Emails go through
    RISKWATCH_SMTP_HOST, or to the outbox as .eml files when it is not set. Exit code 1 when a
    notification could not be delivered (it stays queued and the next run retries it).

    \b
    Examples:
      riskwatch alerts
      riskwatch alerts --as-of 2024-11-10 --dry-run
      riskwatch alerts list
      riskwatch alerts silence chinese_nationals_attacks/PAK --until 2025-01-31 --reason "known, briefed"
      riskwatch alerts ack 3f9c0a1b2c4d
    """
    if ctx.invoked_subcommand is not None:
        return
    from alerts.lifecycle import evaluate_alerts

    settings: Settings = ctx.obj
    con = open_writer(settings)
    try:
        run = evaluate_alerts(con, as_date(as_of), settings, dry_run=dry_run)
    except ValueError as exc:   # bad SMTP settings, a broken rule in a definition
        raise Fail(str(exc)) from exc
    finally:
        con.close()
    for w in run.withheld:
        click.echo(f"withheld: {w.title} ({w.series}) {w.period} = {w.value:g} breaches {w.rule} ({w.severity}), "
                   f"but the data failed validation: {', '.join(w.checks)}")
    if dry_run:
        for n in run.queued:
            click.echo(f"would send #{n['notification_id']} to {n['recipients'] or 'RISKWATCH_ALERT_TO'}: "
                       f"{n['subject']}")
    click.echo(f"{'dry run: ' if dry_run else ''}firing {run.firing}, new {run.new}, escalated {run.escalated}, "
               f"resolved {run.resolved}, reminders {run.reminded}, silenced {run.silenced}, sent {run.sent}, "
               f"pending {run.pending}, withheld {len(run.withheld)}")
    for error in run.errors:
        click.echo(f"error: {error}", err=True)
    if run.errors and not dry_run:
        raise Fail(f"{run.pending} notification(s) pending: the next `riskwatch alerts` retries them")


@alerts.command()
@click.argument("matcher")
@click.option("--until", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day of the silence.")
@click.option("--reason", required=True, help="Why: shown to the next analyst.")
@click.pass_obj
def silence(settings: Settings, matcher: str, until: dt.datetime, reason: str) -> None:
    """Stop emails for an alert (its whole value), an indicator, or one series of it, through --until.

    MATCHER is an alert id (see `riskwatch alerts list`), INDICATOR or INDICATOR/SERIES.
    The alerts keep being evaluated and show as 'silenced'; when the silence ends, a still-firing
    alert that was never announced is sent.

    \b
    Examples:
      riskwatch alerts silence 3f9c0a1b2c4d --until 2024-12-31 --reason "briefed the desk"
      riskwatch alerts silence cross_border_strikes/IRN->PAK --until 2025-03-31 --reason "exercise"
      riskwatch alerts silence political_violence_events --until 2025-01-15 --reason "source backlog"
    """
    from alerts.silences import silence as add_silence

    con = open_writer(settings)
    try:
        made = add_silence(con, matcher, until.date(), reason)
    except ValueError as exc:
        raise Fail(str(exc)) from exc
    finally:
        con.close()
    scope = made["value_key"] or f"{made['indicator']}/{made['series'] or '*'}"
    click.echo(f"silence {made['silence_id']}: {scope} until {made['until']} (end of day)")


@alerts.command()
@click.argument("alert_id")
@click.option("--note", default=None, help="Optional note (who, what was done).")
@click.pass_obj
def ack(settings: Settings, alert_id: str, note: str | None) -> None:
    """Acknowledge a firing alert: no more reminders for it (an escalation is still sent).

    \b
    Examples:
      riskwatch alerts ack 3f9c0a1b2c4d
      riskwatch alerts ack 3f9c0a1b2c4d --note "desk briefed 12 Nov"
    """
    from alerts.silences import ack as ack_alert

    con = open_writer(settings)
    try:
        count = ack_alert(con, alert_id, note)
    except ValueError as exc:
        raise Fail(str(exc)) from exc
    finally:
        con.close()
    click.echo(f"acknowledged {alert_id} ({count} rule(s) on its value)")


@alerts.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved alerts.")
@click.option("--indicator", default=None, help="Only this indicator.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_obj
def list_alerts(settings: Settings, show_all: bool, indicator: str | None, fmt: str) -> None:
    """List firing and silenced alerts (with --all, resolved ones too), newest period first.

    \b
    Examples:
      riskwatch alerts list
      riskwatch alerts list --all --indicator chinese_nationals_attacks
      riskwatch alerts list --format csv > alerts.csv
    """
    con = open_reader(settings)
    try:
        cur = con.execute(
            "SELECT alert_id, status, severity, indicator, series, grain, period_start, rule, value, threshold, "
            "first_seen_at, notified_at, acked_at IS NOT NULL AS acked FROM alerts "
            "WHERE (? OR status <> 'resolved') AND (? IS NULL OR indicator = ?) "
            "ORDER BY period_start DESC, indicator, series, severity = 'critical' DESC, rule",
            [show_all, indicator, indicator])
        columns, rows = [d[0] for d in cur.description], cur.fetchall()
        pending = con.execute("SELECT count(*) FROM notifications WHERE status = 'pending'").fetchone()[0]
    finally:
        con.close()
    click.echo(render(columns, rows, fmt))
    if pending and fmt == "table":
        click.echo(f"{pending} notification(s) pending delivery: `riskwatch alerts` retries them")
