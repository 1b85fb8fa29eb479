"""The weekly report: one self-contained HTML file per ISO week, archived in `reports`, emailed once.

build_weekly_report() gathers (flows/report_data.py), draws (flows/report_charts.py) and renders
templates/weekly_report.html.j2; the output depends only on the warehouse and the as-of date (no
clock), so a rerun over unchanged data gives the same bytes and email_weekly_report() does not send
it twice. Delivery follows the alerts' rule: record pending (committed), deliver, mark sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape

from flows import report_data as data
from flows.notify import DeliveryError, SmtpSettings, build_message, deliver
from flows.report_charts import panel_svg
from flows.settings import Settings
from indicators import asof
from indicators.definitions import Definition, load_definitions
from warehouse.atomic import atomic_file

log = logging.getLogger(__name__)

TEMPLATE = "weekly_report.html.j2"
TAG_LABELS = {
    "target:chinese_nationals": "Chinese nationals targeted",
    "cross_border_strike": "Cross-border strike",
    "suicide_attack": "Suicide attack",
    "target:cpec_energy": "CPEC / energy target",
    "sectarian_or_ethnic_targeting": "Sectarian / ethnic targeting",
    "actor:baloch_separatist": "Baloch separatist",
    "ttp_violence_kp": "TTP violence (KP)",
}


@dataclass
class ReportResult:
    path: Path
    week_start: dt.date
    week_end: dt.date
    iso_year: int
    iso_week: int
    headline: dict[str, Any]
    as_of: dt.date | None = None
    sha256: str = ""
    report_id: int | None = None
    pdf_path: Path | None = None
    context: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return f"{self.iso_year}-W{self.iso_week:02d}"


def default_path(settings: Settings, week: data.Week) -> Path:
    return Path(settings.reports_dir) / f"weekly-{week.iso_year}-W{week.iso_week:02d}.html"


def gather(con: duckdb.DuckDBPyConnection, as_of: dt.date, settings: Settings,
           definitions: dict[str, Definition] | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain data."""
    week = data.report_week(as_of)
    watched = settings.watched_countries
    asof.prepare(con, as_of, watched)       # temp `events`, `event_tags`: the incidents as known on as_of
    prev = data.previous_report(con, week)
    # Revisions, rejections and alert changes: since the previous report's as-of date (nothing falls between
    # two reports), or over the last 7 days for the first report.
    since = min(prev["as_of"] if prev else as_of - dt.timedelta(days=7), as_of - dt.timedelta(days=1))
    all_alerts = data.read_alerts(con)
    alerts = data.week_alerts(all_alerts, week, since, as_of)
    defs = definitions or load_definitions()
    panels = data.indicator_panels(con, defs, week, watched, all_alerts)
    for p in panels:
        if p.series:
            p.svg = panel_svg(p, week.end)
    failed = data.failed_checks(con)
    stale_after = int(settings.get("report.stale_after_days", data.STALE_AFTER_DAYS))
    sources = data.sources(con, week, since, as_of, failed, stale_after)
    incidents = data.notable_incidents(con, week)
    for i in incidents:
        i["tag_labels"] = [TAG_LABELS.get(t.split(" ")[0], t.split(" ")[0]) + (
            f" {t.split(' ', 1)[1]}" if " " in t else "") for t in i["tags"]]
    head = data.headline(con, week, alerts)
    head["notable_incidents"] = len(incidents)
    head["failed_checks"] = len(failed)
    head["stale_sources"] = sum(bool(s["stale_reasons"]) for s in sources)
    titles = {d.name: d.title for d in defs.values()}
    for a in alerts:
        a["title"] = titles.get(a["indicator"], a["indicator"])
        a["period_label"] = data.period_label(a["period_start"], a["grain"]) if a.get("grain") else str(
            a["period_start"])
    revs = data.revisions(con, since, as_of)
    for r in revs:
        r["title"] = titles.get(r["indicator"], r["indicator"])
        r["period_label"] = data.period_label(r["period_start"], r["grain"])
    return {
        "week": week, "as_of": as_of, "since": since, "previous": prev, "watched": watched,
        "watched_names": [_country_name(c) for c in watched], "headline": head, "alerts": alerts,
        "panels": panels, "incidents": incidents, "failed_checks": failed, "sources": sources,
        "stale_after": stale_after, "revisions": revs, "indicators_as_of": data.indicators_as_of(con),
        "warehouse": Path(str(settings.warehouse)).name, "week_range": week_range(week),
        "timedelta_day": dt.timedelta(days=1),
    }


def week_range(week: data.Week) -> str:
    """'4-10 November 2024', '28 October - 3 November 2024', '30 December 2024 - 5 January 2025'."""
    s, e = week.start, week.end
    if s.year != e.year:
        return f"{s.day} {s:%B %Y} \u2013 {e.day} {e:%B %Y}"
    if s.month != e.month:
        return f"{s.day} {s:%B} \u2013 {e.day} {e:%B %Y}"
    return f"{s.day}\u2013{e.day} {e:%B %Y}"


def _country_name(iso3: str) -> str:
    try:
        import pycountry

        c = pycountry.countries.get(alpha_3=iso3)
        return getattr(c, "common_name", None) or c.name if c else iso3
    except (ImportError, LookupError):
        return iso3


def _fmt_change(pct: float | None, now: int) -> str:
    if pct is None:
        return "new" if now else "no change"
    return f"{pct:+.0f}%"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("flows", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["change"] = _fmt_change
    env.filters["basename"] = lambda v: Path(str(v)).name if v else ""
    env.filters["day"] = lambda d: f"{d.day} {d.strftime('%b %Y')}" if d else ""
    env.filters["ts"] = lambda t: t.strftime("%Y-%m-%d %H:%M") if t else ""
    env.filters["num"] = lambda v: "" if v is None else f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"
    return env


def render(context: dict[str, Any]) -> str:
    return _environment().get_template(TEMPLATE).render(**context)


def build_weekly_report(con: duckdb.DuckDBPyConnection, as_of: dt.date, settings: Settings, *,
                        out: str | Path | None = None) -> ReportResult:
    """Write the report of the last complete ISO week on or before `as_of`; archive its path and sha256."""
    context = gather(con, as_of, settings)
    week = context["week"]
    html = render(context)
    path = Path(out) if out else default_path(settings, week)
    with atomic_file(path, "w", encoding="utf-8") as fh:
        fh.write(html)
    digest = hashlib.sha256(html.encode("utf-8")).hexdigest()
    result = ReportResult(path=path, week_start=week.start, week_end=week.end, iso_year=week.iso_year,
                          iso_week=week.iso_week, headline=context["headline"], as_of=as_of, sha256=digest,
                          context=context)
    result.report_id = _archive(con, result)
    log.info("weekly report %s written to %s (sha256 %s)", result.label, path, digest[:12])
    return result


def _archive(con: duckdb.DuckDBPyConnection, r: ReportResult) -> int | None:
    """The reports row of this file version (same week and bytes: the same row, path brought current)."""
    try:
        found = con.execute("SELECT report_id FROM reports WHERE iso_year = ? AND iso_week = ? AND sha256 = ? "
                            "ORDER BY report_id DESC LIMIT 1", [r.iso_year, r.iso_week, r.sha256]).fetchone()
    except duckdb.CatalogException:
        log.warning("no reports table: the report is not archived (open the warehouse writable)")
        return None
    if found:
        con.execute("UPDATE reports SET path = ?, pdf_path = coalesce(?, pdf_path) WHERE report_id = ?",
                    [str(r.path.resolve()), str(r.pdf_path) if r.pdf_path else None, found[0]])
        return found[0]
    return con.execute(
        "INSERT INTO reports (iso_year, iso_week, week_start, week_end, as_of, path, sha256, headline, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?::JSON, CAST(current_timestamp AS TIMESTAMP)) RETURNING report_id",
        [r.iso_year, r.iso_week, r.week_start, r.week_end, r.as_of, str(r.path.resolve()), r.sha256,
         _json(r.headline)]).fetchone()[0]


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


# -- PDF ----------------------------------------------------------------------------------------------

def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if found := shutil.which(name):
            return found
    return None


def chromium(args: list[str], timeout: float = 90) -> None:
    """Run headless Chromium with the given extra arguments (RuntimeError when it fails)."""
    exe = chromium_path()
    if exe is None:
        raise RuntimeError("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="riskwatch-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={profile}", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")


def write_pdf(html_path: str | Path, pdf_path: str | Path | None = None) -> Path | None:
    """Print the report to PDF with headless Chromium; None (and a log line) when Chromium is absent."""
    html_path = Path(html_path).resolve()
    target = Path(pdf_path) if pdf_path else html_path.with_suffix(".pdf")
    if chromium_path() is None:
        log.warning("chromium not found: no PDF of %s", html_path.name)
        return None
    chromium([f"--print-to-pdf={target.resolve()}", "--no-pdf-header-footer", html_path.as_uri()])
    if not target.is_file() or target.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no PDF at {target}")
    return target


def attach_pdf(con: duckdb.DuckDBPyConnection, result: ReportResult, pdf: Path) -> None:
    result.pdf_path = pdf
    if result.report_id is not None:
        con.execute("UPDATE reports SET pdf_path = ? WHERE report_id = ?", [str(pdf.resolve()), result.report_id])


# -- email --------------------------------------------------------------------------------------------

def _text_body(r: ReportResult) -> str:
    h, c = r.headline, r.context
    week = c.get("week") or data.Week(r.week_start, r.week_end)
    lines = [
        f"RiskWatch weekly report {r.label}: {r.week_start:%d %b} - {r.week_end:%d %b %Y} (data as of {r.as_of})",
        "",
        f"Alerts firing: {h['alerts_firing']} ({h['alerts_critical']} critical)",
        f"Incidents: {h['incidents']} ({_fmt_change(h['incidents_change_pct'], h['incidents'])} against the "
        f"4-week mean of {h['incidents_mean4']:g}); political violence: {h['violent']}",
        f"Fatalities: {h['fatalities']} ({_fmt_change(h['fatalities_change_pct'], h['fatalities'])} against the "
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
        r.report_id = _archive(con, r)
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
    sender = smtp.mail_from if smtp else (settings.environ.get("RISKWATCH_MAIL_FROM") or "riskwatch@localhost")
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
