"""`riskwatch report`: the weekly HTML report (registered in cli.py with cli.add_command(report))."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from riskwatch.cli import Fail, as_of_option, open_writer
from riskwatch.settings import Settings


@click.command()
@as_of_option
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="HTML file to write (default <reports_dir>/weekly-<ISO year>-W<week>.html).")
@click.option("--email/--no-email", default=None,
              help="Email it to RISKWATCH_REPORT_TO (default: when recipients are set). Sent once per week "
                   "unless the file changed; without RISKWATCH_SMTP_HOST it goes to the outbox as .eml.")
@click.option("--pdf", is_flag=True, help="Also print it to PDF with headless Chromium (skipped if absent).")
@click.pass_obj
def report(settings: Settings, as_of: dt.datetime | None, out: str | None, email: bool | None, pdf: bool) -> None:
    """Write the weekly report of the last complete ISO week (Monday-Sunday) on or before --as-of.

    One self-contained HTML file (inline charts, opens offline, prints one section per page): headline,
    one chart per indicator with thresholds and alerts, notable incidents, data quality, revisions.

    \b
    Examples:
      riskwatch report                          # last complete week, emailed if RISKWATCH_REPORT_TO is set
      riskwatch report --as-of 2024-11-10       # 4-10 November 2024 (as does --as-of 2024-11-11)
      riskwatch report --as-of 2024-11-10 --out /tmp/week45.html --no-email --pdf
    """
    from publish.mail import DeliveryError
    from reports.delivery import email_weekly_report
    from reports.pdf import attach_pdf, write_pdf
    from reports.weekly import build_weekly_report

    day = as_of.date() if as_of else dt.datetime.now(ZoneInfo(settings.timezone)).date()
    recipients = settings.recipients("report")
    if email and not recipients:
        raise Fail("--email needs recipients: set RISKWATCH_REPORT_TO (comma-separated addresses)")
    con = open_writer(settings)
    try:
        result = build_weekly_report(con, day, settings, out=Path(out) if out else None)
        h = result.headline
        click.echo(f"{result.path}: week {result.label} ({result.week_start} to {result.week_end}), as of {day}")
        click.echo(f"  {h['alerts_firing']} alert(s) firing ({h['alerts_critical']} critical), "
                   f"{h['incidents']} incident(s), {h['fatalities']} fatalities, "
                   f"{h['notable_incidents']} notable, {h['failed_checks']} failed check(s)")
        if pdf:
            try:
                made = write_pdf(result.path)
            except (RuntimeError, OSError) as exc:
                raise Fail(f"PDF: {exc}") from exc
            if made:
                attach_pdf(con, result, made)
                click.echo(f"  PDF: {made}")
            else:
                click.echo("  PDF skipped: chromium is not installed", err=True)
        if email is None:
            email = bool(recipients)
            if not email:
                click.echo("  not emailed: RISKWATCH_REPORT_TO is not set")
        if email:
            try:
                click.echo(f"  email: {email_weekly_report(con, result, settings)}")
            except (DeliveryError, ValueError) as exc:
                raise Fail(f"report written but not emailed: {exc}") from exc
    finally:
        con.close()
