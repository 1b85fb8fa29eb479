"""The weekly report: one self-contained HTML file per ISO week, archived in `reports`.

build_weekly_report() gathers (reports/data.py, reports/panels.py), draws (publish/charts.py) and
renders templates/weekly_report.html.j2; the output depends only on the warehouse and the as-of date
(no clock), so a rerun over unchanged data gives the same bytes and reports.email does not send it
twice. PDF: reports/pdf.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from indicators import asof, why
from indicators.definitions import Definition, load_definitions
from indicators.periods import period_label
from publish.charts import panel_svg
from publish.render import environment
from reports import data, summary, trends
from reports.boundaries import load as load_boundaries
from reports.map import incident_map
from reports.panels import indicator_panels
from riskwatch.settings import Settings
from validation.freshness import freshness_expectations
from warehouse import ids
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
    "interstate_clash": "Interstate clash",
    "foreign_dyad_event": "Foreign dyad",          # not a strike: the legend says what dyad means
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
    known = asof.prepare(con, as_of, watched)       # the incidents as known on as_of
    prev = data.previous_report(con, week)
    # Revisions, rejections and alert changes: since the previous report's as-of date (nothing falls between
    # two reports), or over the last 7 days for the first report.
    since = min(prev["as_of"] if prev else as_of - dt.timedelta(days=7), as_of - dt.timedelta(days=1))
    all_alerts = data.read_alerts(con)
    alerts = data.week_alerts(all_alerts, week, since, as_of)
    defs = definitions or load_definitions()
    panels = indicator_panels(con, defs, week, watched, all_alerts)
    for p in panels:
        p.last_value = last_value(p)
        if p.series and not quiet(p):
            p.svg = panel_svg(p, week.end)
    failed = data.failed_checks(con)
    sources = data.sources(con, known, week, since, as_of, freshness_expectations(settings))
    incidents = data.notable_incidents(con, known, week)
    for i in incidents:
        i["tag_labels"] = [TAG_LABELS.get(t.split(" ")[0], t.split(" ")[0]) + (
            f" {t.split(' ', 1)[1]}" if " " in t else "") for t in i["tags"]]
        i["why_items"] = [why.reason_parts(r, TAG_LABELS) for r in i["reasons"]]     # why it is listed
    events = data.week_events(con, known, week)
    drawn = incident_map(events, watched, TAG_LABELS)
    week_map = {"uri": drawn.data_uri, "png": drawn.png, "events": len(events), "drawn": len(drawn.drawn),
                "unplaced": len(drawn.unplaced), "attribution": load_boundaries().attribution}
    head = data.headline(con, known, week, alerts)
    head["notable_incidents"] = len(incidents)
    head["failed_checks"] = len(failed)
    head["stale_sources"] = sum(bool(s["stale_reasons"]) for s in sources)
    titles = {d.name: d.title for d in defs.values()}
    rules = {r.get("name"): r for d in defs.values() for r in d.alerts}
    for a in alerts:
        a["title"] = titles.get(a["indicator"], a["indicator"])
        a["rule_title"] = rule_title(rules.get(a["rule"], {"name": a["rule"]}))
        a["first_seen_label"] = first_seen(a, as_of)
        a["period_label"] = period_label(a["grain"], a["period_start"]) if a.get("grain") else str(
            a["period_start"])
    revs = data.revisions(con, since, as_of)
    for r in revs:
        r["title"] = titles.get(r["indicator"], r["indicator"])
        r["period_label"] = period_label(r["grain"], r["period_start"])
    context = {
        "week": week, "as_of": as_of, "since": since, "previous": prev, "watched": watched,
        "watched_names": [_country_name(c) for c in watched], "headline": head, "alerts": alerts,
        "panels": [p for p in panels if not quiet(p)], "quiet_panels": [p for p in panels if quiet(p)],
        "map": week_map, "incidents": incidents, "failed_checks": failed, "sources": sources,
        "revisions": revs, "indicators_as_of": data.indicators_as_of(con),
        "precision_gaps": data.precision_gaps(con, week),
        "warehouse": Path(str(settings.warehouse)).name, "week_range": week_range(week),
        "timedelta_day": dt.timedelta(days=1), "trends": trends.country_trends(con, known, week, watched),
        "late": trends.late_reports(con, known, week), "loaded_at": data.last_loaded(con),
        "note": summary.analyst_note(summary.note_path(settings.reports_dir, week)),
    }
    context["summary"] = summary.sentences(context)
    return context


ACRONYMS = {"chinese": "Chinese", "cpec": "CPEC", "ttp": "TTP", "kp": "KP", "baloch": "Baloch", "pak": "PAK"}


def rule_title(rule: dict) -> str:
    """The rule's `title` in its indicator YAML, else its name in words ('repeated_attacks_on_chinese_nationals'
    -> 'Repeated attacks on Chinese nationals')."""
    if rule.get("title"):
        return str(rule["title"])
    words = [ACRONYMS.get(w, w) for w in str(rule.get("name", "")).split("_") if w]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def first_seen(alert: dict, as_of: dt.date) -> str:
    """When the pipeline first found the alert; an evaluation after the as-of date (a backfill, the demo) shows
    the as-of date it evaluated, so the report never claims to know of something after its as-of date."""
    ts = alert.get("first_seen_at")
    if ts is None:
        return ""
    if ts.date() <= as_of:
        return ts.strftime("%Y-%m-%d %H:%M")
    return f"as of {min(alert.get('as_of') or as_of, as_of):%Y-%m-%d}"


def quiet(panel) -> bool:
    """Nothing this period: every series zero in the period that holds the report week, and no alert on it
    (shown as one line, with when it last had a value, instead of a chart of zeros)."""
    # A period without data (None) is not quiet: the chart shows it as a labelled gap.
    return not panel.alerts and all(values[-1] == 0 for values in panel.series.values())


def last_value(panel) -> str:
    """'3 in Aug 2024'-style text of the latest non-zero period in the panel's window, '' when none."""
    hits = [(p, v) for values in panel.series.values() for p, v in zip(panel.periods, values, strict=True) if v]
    if not hits:
        return ""
    p, v = max(hits)
    return f"{v:g} in {period_label(panel.grain, p)}"


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


def format_change(pct: float | None, now: int) -> str:
    if pct is None:
        return "new" if now else "no change"
    return f"{pct:+.0f}%"


def _environment():
    env = environment("reports")
    env.filters["change"] = format_change
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
    result.report_id = archive_report(con, result)
    log.info("weekly report %s written to %s (sha256 %s)", result.label, path, digest[:12])
    return result


def archive_report(con: duckdb.DuckDBPyConnection, r: ReportResult) -> int | None:
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
    report_id = ids.next_id(con, "reports")
    con.execute(
        "INSERT INTO reports (report_id, iso_year, iso_week, week_start, week_end, as_of, path, sha256, headline, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?::JSON, CAST(current_timestamp AS TIMESTAMP))",
        [report_id, r.iso_year, r.iso_week, r.week_start, r.week_end, r.as_of, str(r.path.resolve()), r.sha256,
         _json(r.headline)])
    return report_id


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)
