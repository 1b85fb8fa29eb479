"""Emailing the weekly report once per file version (record pending, deliver, mark sent, as alerts do).

The email IS the report: its HTML body is the report rendered again with each chart as an inline PNG
(Content-ID parts; mail clients strip SVG and company filters quarantine .html attachments), a plain
text summary for clients without HTML, and the report as PDF attached when Chromium is installed.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import re
from pathlib import Path

import duckdb
from markupsafe import Markup, escape

from indicators import why
from publish.charts import panel_png
from publish.mail import DeliveryError, SmtpSettings, build_message, deliver
from reports import data, weekly
from reports.pdf import attach_pdf, chromium_path, write_pdf
from reports.weekly import ReportResult, archive_report, format_change
from riskwatch.settings import Settings
from warehouse.redact import redact

log = logging.getLogger(__name__)
_DATA_URI = re.compile(r'src="data:image/(png|jpeg);base64,([A-Za-z0-9+/=]+)"')


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
        lines += [f"    why: {why.parts_text(w)}" for w in i.get("why_items") or []] or [
            "    why: among the week's deadliest; no mission tag"]
        if notes:
            lines.append(f"    {notes[:300]}{'...' if len(notes) > 300 else ''}")
    lines += ["", "The full report (charts, data quality, revisions) is this email's HTML version"
              + (f"; as PDF: {Path(r.pdf_path).name} (attached)." if r.pdf_path else ".")]
    return "\n".join(lines) + "\n"


def email_html(r: ReportResult) -> tuple[str, list[tuple[str, bytes, str]]]:
    """(HTML body, inline images): the report's own template and context, each chart an inline PNG drawn by
    publish.charts from the same panel. A result without its context (not built in this process): the
    file as written, charts and all."""
    panels = r.context.get("panels")
    if panels is None:
        return r.path.read_text(encoding="utf-8"), []
    week = r.context["week"]
    images, shown = [], []
    for i, p in enumerate(panels):
        if p.svg:
            cid = f"chart-{i + 1}@riskwatch.report"
            images.append((cid, panel_png(p, week.end), "image/png"))
            p = dataclasses.replace(p, svg=Markup(
                f'<img src="cid:{cid}" alt="chart of {escape(p.title)}" width="860" '
                f'style="max-width: 100%; height: auto; display: block;">'))
        shown.append(p)
    week_map = r.context.get("map")
    if week_map and week_map.get("png"):       # mail clients block data: URIs: the map is a cid: part too
        images.append(("map@riskwatch.report", week_map["png"], "image/png"))
        week_map = {**week_map, "uri": "cid:map@riskwatch.report"}
    html = weekly.render({**r.context, "panels": shown, "map": week_map})
    # Any other image the report embeds as a data: URI becomes a part too: Gmail and Outlook drop data: images.
    def to_cid(m: re.Match) -> str:
        cid = f"image-{len(images) + 1}@riskwatch.report"
        images.append((cid, base64.b64decode(m.group(2)), f"image/{m.group(1)}"))
        return f'src="cid:{cid}"'

    return _DATA_URI.sub(to_cid, html), images


def _pdf_for(con: duckdb.DuckDBPyConnection, r: ReportResult, settings: Settings) -> Path | None:
    """The report's PDF: the one already printed, else printed now when Chromium is installed."""
    if r.pdf_path and Path(r.pdf_path).is_file():
        return Path(r.pdf_path)
    if not settings.get("report.email_pdf", True) or chromium_path() is None:
        return None
    try:
        made = write_pdf(r.path)
    except (RuntimeError, OSError) as exc:     # the email still goes out, without the PDF
        log.warning("no PDF for the report email: %s", exc)
        return None
    if made:
        attach_pdf(con, r, made)
    return made


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
    pdf = _pdf_for(con, r, settings)
    attachments = [(pdf.name, pdf.read_bytes(), "application/pdf")] if pdf else []
    html, images = email_html(r)
    msg = build_message(subject, sender, recipients, _text_body(r), html=html, attachments=attachments,
                        inline=images)
    if message_id:          # a retry: the same Message-ID lets mail clients fold a duplicate
        msg.replace_header("Message-ID", message_id)
    con.execute("UPDATE reports SET email_status = 'pending', message_id = ?, recipients = ?, email_error = NULL, "
                "attempts = coalesce(attempts, 0) + 1 WHERE report_id = ?",
                [msg["Message-ID"], ", ".join(recipients), r.report_id])
    try:
        where = deliver(msg, settings=smtp, outbox_dir=settings.outbox, name=f"report-{r.label}-{r.report_id}")
    except (DeliveryError, OSError) as exc:
        con.execute("UPDATE reports SET email_status = 'failed', email_error = ? WHERE report_id = ?",
                    [redact(str(exc), (smtp.user, smtp.password) if smtp else ())[:500], r.report_id])
        raise
    con.execute("UPDATE reports SET email_status = 'sent', emailed_at = CAST(current_timestamp AS TIMESTAMP), "
                "delivered_via = ? WHERE report_id = ?", [where, r.report_id])
    return where
