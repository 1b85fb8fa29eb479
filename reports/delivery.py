"""Emailing the weekly report once per file version (record pending, deliver, mark sent, as alerts do)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import duckdb

from publish.mail import DeliveryError, SmtpSettings, build_message, deliver
from reports import data
from reports.weekly import ReportResult, archive_report, format_change
from riskwatch.settings import Settings

log = logging.getLogger(__name__)


def _text_body(r: ReportResult) -> str:
    h, c = r.headline, r.context
    week = c.get("week") or data.Week(r.week_start, r.week_end)
    lines = [
        f"RiskWatch weekly report {r.label}: {r.week_start:%d %b} - {r.week_end:%d %b %Y} (data as of {r.as_of})",
        "",
        f"Alerts firing: {h['alerts_firing']} ({h['alerts_critical']} critical)",
        f"Incidents: {h['incidents']} ({format_change(h['incidents_change_pct'], h['incidents'])} against the "
        f"4-week mean of {h['incidents_mean4']:g}); political violence: {h['violent']}",
        f"Fatalities: {h['fatalities']} ({format_change(h['fatalities_change_pct'], h['fatalities'])} against the "
        f"4-week mean of {h['fatalities_mean4']:g})",
        f"Data quality: {h.get('failed_checks', 0)} failed check(s), {h.get('stale_sources', 0)} stale source(s)",
        "",
    ]
    alerts = c.get("alerts") or []
    lines.append("Alerts:" if alerts else "Alerts: nothing firing.")
    for a in alerts:
        lines.append(f"  - [{a['severity']}, {a['status']}] {a.get('title', a['indicator'])} {a['series']} "
                     f"{a.get('period_label', a['period_start'])}: {a['value']:g} (threshold {a['threshold']:g})")
    incidents = c.get("incidents") or []
    lines += ["", f"Notable incidents ({week.start:%d %b} - {week.end:%d %b}):" if incidents
              else "Notable incidents: nothing this week."]
    for i in incidents:
        place = ", ".join(x for x in (i["location"], i["admin1"], i["country"]) if x)
        tags = f" [{'; '.join(i['tag_labels'])}]" if i["tag_labels"] else ""
        notes = " ".join((i["notes"] or "").split())
        lines.append(f"  - {i['event_date']} {place}: {i['fatalities']} killed{tags}")
        if notes:
            lines.append(f"    {notes[:300]}{'...' if len(notes) > 300 else ''}")
    lines += ["", f"The full report (charts, data quality, revisions) is attached: {r.path.name}"]
    return "\n".join(lines) + "\n"


def email_weekly_report(con: duckdb.DuckDBPyConnection, report_result: ReportResult, settings: Settings) -> str:
    """Send the report to RISKWATCH_REPORT_TO once per file version.

    Returns 'smtp:<host>' / 'outbox:<path>' when sent, 'already sent: ...' when this week's file, byte for
    byte, went out before, or 'not emailed: ...' without recipients. A pending or failed earlier attempt
    is retried with the same Message-ID; a DeliveryError is recorded as 'failed' and raised.
    """
    r = report_result
    recipients = settings.recipients("report")
    if not recipients:
        log.warning("weekly report %s not emailed: RISKWATCH_REPORT_TO is not set", r.label)
        return "not emailed: RISKWATCH_REPORT_TO is not set"
    body = r.path.read_bytes()
    if hashlib.sha256(body).hexdigest() != r.sha256:
        raise ValueError(f"{r.path} changed since it was built: build the report again before emailing it")
    if r.report_id is None:
        r.report_id = archive_report(con, r)
        if r.report_id is None:
            raise RuntimeError("no reports table to record the delivery in")
    status, emailed_at, via, message_id = con.execute(
        "SELECT email_status, emailed_at, delivered_via, message_id FROM reports WHERE report_id = ?",
        [r.report_id]).fetchone()
    if status == "sent":
        return f"already sent: {r.label} on {emailed_at:%Y-%m-%d %H:%M} via {via}"
    earlier = con.execute("SELECT count(*) FROM reports WHERE iso_year = ? AND iso_week = ? AND report_id <> ? "
                          "AND email_status = 'sent'", [r.iso_year, r.iso_week, r.report_id]).fetchone()[0]
    smtp = SmtpSettings.from_env(settings.environ)
    sender = settings.mail_from
    h = r.headline
    subject = (f"RiskWatch weekly report {r.label}{' (updated)' if earlier else ''}: "
               f"{h['alerts_firing']} alert(s) firing, {h['incidents']} incident(s), {h['fatalities']} fatalities")
    attachments = [(r.path.name, body, "text/html")]
    if r.pdf_path and Path(r.pdf_path).is_file():
        attachments.append((Path(r.pdf_path).name, Path(r.pdf_path).read_bytes(), "application/pdf"))
    msg = build_message(subject, sender, recipients, _text_body(r), attachments=attachments)
    if message_id:          # a retry: the same Message-ID lets mail clients fold a duplicate
        msg.replace_header("Message-ID", message_id)
    con.execute("UPDATE reports SET email_status = 'pending', message_id = ?, recipients = ?, email_error = NULL, "
                "attempts = coalesce(attempts, 0) + 1 WHERE report_id = ?",
                [msg["Message-ID"], ", ".join(recipients), r.report_id])
    try:
        where = deliver(msg, settings=smtp, outbox_dir=settings.outbox, name=f"report-{r.label}-{r.report_id}")
    except (DeliveryError, OSError) as exc:
        con.execute("UPDATE reports SET email_status = 'failed', email_error = ? WHERE report_id = ?",
                    [str(exc)[:500], r.report_id])
        raise
    con.execute("UPDATE reports SET email_status = 'sent', emailed_at = CAST(current_timestamp AS TIMESTAMP), "
                "delivered_via = ? WHERE report_id = ?", [where, r.report_id])
    return where
