"""The alert email: subject, plain text + HTML (Jinja2) and a CSV of the incidents behind each value.

Every section explains itself: a human title and what to do (the indicator's `title` and `runbook`),
the rules and their numbers, the series' recent values as a PNG chart with axes and the threshold line
(publish.charts, the report's chart library; inline as a Content-ID part, so the mail loads nothing
from outside and survives clients that strip SVG), the incidents that make up the value with links to
their sources, a link to the weekly report, and the ack/silence commands with the alert's real id.
Incident text is data from outside: it only ever reaches bodies (HTML autoescaped) and the CSV, never
a header; the subject is built from sanitized fields.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import logging
from email.message import EmailMessage
from typing import Any

import duckdb

from indicators import why
from indicators.definitions import Definition
from indicators.periods import period_end, period_label
from indicators.rules import parse_rules, value_id
from publish.charts import SeriesChart, panel_png
from publish.mail import build_message, safe_header
from publish.render import environment, safe_url
from warehouse.db import records

log = logging.getLogger(__name__)

_ENV = environment("alerts")
_KIND_WORDS = {"new": "New alert", "escalation": "Escalated", "reminder": "Still firing (reminder)",
               "resolved": "Resolved"}
CSV_COLUMNS = ("indicator", "series", "period", "incident_id", "event_date", "country", "admin1", "admin2",
               "location", "actor1", "actor2", "fatalities", "why", "notes", "source", "source_url")


def fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    if isinstance(x, float):
        return f"{x:.2g}" if abs(x) < 0.01 else f"{x:.2f}".rstrip("0").rstrip(".")
    return str(x)


def subject_for(kind: str, severity: str, snapshots: list[dict]) -> str:
    """'[riskwatch CRITICAL] Attacks on Chinese nationals (PAK): 2 in 2024-Q4', '+N more' for a group."""
    tag = "RESOLVED" if kind == "resolved" else severity.upper()
    first = snapshots[0]
    text = (f"[riskwatch {tag}] {first['title']} ({first['series']}): {fmt(first['value'])} in "
            f"{period_label(first['grain'], first['period_start'])}")
    text += {"escalation": " (escalated)", "reminder": " (reminder)"}.get(kind, "")
    if len(snapshots) > 1:
        text += f" +{len(snapshots) - 1} more"
    return safe_header(text, 250)


def explain(rule: dict) -> str:
    """One sentence with the rule's numbers."""
    params, value, thr = rule["params"] or {}, fmt(rule["value"]), fmt(rule["threshold"])
    if rule["threshold"] is None:
        return f"not judged: {rule['note']}"
    if rule["type"] == "static":
        text = f"value {value} vs threshold {thr}"
    elif rule["type"] == "surge" and params.get("baseline") == "median":
        text = (f"value {value} vs median {fmt(rule['baseline'] or 0.0)} of the previous {rule['periods_used']} "
                f"periods + {fmt(params.get('z'))} x spread (at least {fmt(params.get('min_count'))}): "
                f"threshold {thr}")
    elif rule["type"] == "surge":
        text = (f"value {value} vs {fmt(params.get('k'))} x mean {fmt(rule['baseline'] or 0.0)} of the previous "
                f"{rule['periods_used']} periods (at least {fmt(params.get('min_count'))}): threshold {thr}")
    else:
        text = (f"P(X >= {value} | Poisson mean {fmt(rule['baseline'] or 0.0)} of the previous "
                f"{rule['periods_used']} periods) = {fmt(rule['p_value'])} vs p {fmt(params.get('p'))} "
                f"(at least {fmt(params.get('min_count'))}): threshold {thr}")
    if rule["clear_threshold"] != rule["threshold"]:
        text += f"; clears below {fmt(rule['clear_threshold'])}"
    return text + (f" ({rule['note']})" if rule.get("note") else "")


def chart_png(snap: dict, threshold: dict | None) -> bytes:
    """The value's recent periods as bars with axes, the alert period highlighted, the threshold dashed."""
    periods = [dt.date.fromisoformat(p) for p, _ in snap["trailing"]]
    start = dt.date.fromisoformat(snap["period_start"])
    thresholds = [{"value": float(threshold["threshold"]), "severity": threshold["severity"],
                   "label": f"{threshold['severity']} \u2265 {fmt(threshold['threshold'])}"}] if threshold else []
    chart = SeriesChart(
        name=snap["value_key"], unit=snap.get("unit") or "", grain=snap["grain"], periods=periods,
        period_ends=[period_end(p, snap["grain"]) for p in periods],
        series={snap["series"]: [None if v is None else float(v) for _, v in snap["trailing"]]}, thresholds=thresholds,
        alerts=[{"period_start": start, "series": snap["series"], "value": float(snap["value"] or 0),
                 "severity": snap["severity"], "status": "resolved" if snap.get("kind") == "resolved" else "firing"}]
        if start in periods else [])
    return panel_png(chart, start, current_label="alert period")


def _incident(row: dict) -> dict:
    place = ", ".join(dict.fromkeys(p for p in (row.get("location"), row.get("admin2"), row.get("admin1"),
                                                row.get("country")) if p))
    actors = " vs ".join(a for a in (row.get("actor1"), row.get("actor2")) if a)
    # Why it counted (indicators/why.py): the section names the indicator, so each reason shows its confidence,
    # evidence and the source of the record that says so; the tag and detail only when there are several.
    reasons = [why.reason_parts(r) for r in row.get("reasons") or []]
    if len({r["label"] for r in reasons}) <= 1:
        reasons = [{**r, "label": ""} for r in reasons]
    return {**row, "place": place, "actors": actors, "url": safe_url(row.get("source_url")),
            "source_text": row.get("source_reference") or row.get("source") or "", "why_items": reasons,
            "why_lines": [why.parts_text(r) for r in reasons]}


def incidents_for(con: duckdb.DuckDBPyConnection, definition: Definition | None, snap: dict, as_of: dt.date,
                  watched: list[str]) -> tuple[list[dict], str]:
    """(incidents, note): an alert still goes out when its incidents cannot be listed, saying why."""
    if definition is None or definition.kind != "events":
        return [], "derived indicator: no incidents of its own"
    from indicators.behind import incidents_behind

    try:
        rows = incidents_behind(con, definition, snap["series"], snap["grain"],
                                dt.date.fromisoformat(snap["period_start"]), as_of, watched)
    except duckdb.Error as exc:
        log.warning("cannot list incidents behind %s: %s", snap["value_key"], exc)
        return [], f"the incidents could not be listed: {str(exc).splitlines()[0][:200]}"
    return [_incident(r) for r in rows], ""


def failed_checks(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The failed checks of the latest validation run."""
    return records(con.execute("SELECT suite, check_name, expectation, severity, indicator, message "
                               "FROM failed_checks ORDER BY severity, suite, check_name"))


def checks_for(checks: list[dict], indicator: str) -> list[dict]:
    """The failed checks that concern an indicator: its own, and those on the incidents themselves."""
    return [c for c in checks if c["indicator"] == indicator or (c["indicator"] is None and c["suite"] == "incidents")]


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A leading = + - @ makes spreadsheets evaluate the cell: incident text must stay text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def incidents_csv(sections: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for s in sections:
        for inc in s["incidents"]:
            row = {**inc, "indicator": s["indicator"], "series": s["series"], "period": s["period"],
                   "source": inc["source_text"], "why": " | ".join(inc.get("why_lines") or [])}
            writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
    return out.getvalue().encode("utf-8")


def snapshot(con: duckdb.DuckDBPyConnection, d: Definition, vkey: str, cands: list, severity: str,
             previous: str | None, as_of: dt.date) -> dict:
    """The numbers of one value as queued: what the email shows even if it is sent runs later."""
    rows = records(con.execute(
        "SELECT alert_id, rule, rule_type AS type, severity, status, value, threshold, clear_threshold, baseline, "
        "p_value, series, grain, period_start, period_end FROM alert_rows WHERE value_key = ? "
        "ORDER BY severity = 'critical' DESC, rule", [vkey]))
    by_alert = {c.alert_id: c for c in cands if c.value_key == vkey}
    rules_by_name = {rule.name: rule for rule in parse_rules(d)}
    for r in rows:
        c = by_alert.get(r["alert_id"])
        r.update(periods_used=c.periods_used if c else None, note=c.note if c else "",
                 params=dataclasses.asdict(rules_by_name[r["rule"]]) if r["rule"] in rules_by_name else {})
    first = rows[0]
    trailing = max((c.trailing for c in by_alert.values()), key=len, default=None)
    if trailing is None:
        trailing = con.execute(
            "SELECT period_start, value FROM indicator_value_rows WHERE indicator = ? AND series = ? AND grain = ? "
            "AND period_start <= ? ORDER BY period_start DESC LIMIT 12",
            [d.name, first["series"], first["grain"], first["period_start"]]).fetchall()[::-1]
    return {"value_key": vkey, "indicator": d.name, "title": d.title, "unit": d.unit, "series": first["series"],
            "grain": first["grain"], "period_start": first["period_start"].isoformat(),
            "period_end": first["period_end"].isoformat(), "complete": first["period_end"] <= as_of,
            "value": first["value"], "severity": severity, "previous_severity": previous, "rules": rows,
            "trailing": [(p.isoformat(), v) for p, v in trailing]}


def render_message(
    con: duckdb.DuckDBPyConnection, *, kind: str, severity: str, subject: str, snapshots: list[dict],
    definitions: dict[str, Definition], as_of: dt.date, watched: list[str], checks: list[dict],
    withheld: list[Any], sender: str, recipients: list[str], message_id: str | None = None,
    report: dict | None = None,
) -> EmailMessage:
    """The multipart email of one notification: text + HTML (charts as inline PNG parts) + incidents.csv.
    report: {"name", "link"} of the weekly report to point at (None: no link)."""
    sections, images = [], []
    for i, snap in enumerate(snapshots):
        definition = definitions.get(snap["indicator"])
        incidents, note = incidents_for(con, definition, snap, as_of, watched)
        trailing = [(period_label(snap["grain"], p), None if v is None else float(v)) for p, v in snap["trailing"]]
        top = max((r for r in snap["rules"] if r["threshold"] is not None), default=None,
                  key=lambda r: (r["status"] == "firing", r["severity"] == "critical"))
        cid = f"chart-{i + 1}@riskwatch.alert"
        images.append((cid, chart_png({**snap, "kind": kind}, top), "image/png"))
        rule_titles = {r.name: r.title for r in parse_rules(definition)} if definition else {}
        sections.append({
            **snap, "period": period_label(snap["grain"], snap["period_start"]), "value_text": fmt(snap["value"]),
            "alert_id": value_id(snap["value_key"]),
            "rules": [{**r, "explanation": explain(r), "title": rule_titles.get(r["rule"]) or r["rule"]}
                      for r in snap["rules"]],
            "trailing_text": ", ".join(f"{p}: {'no data' if v is None else fmt(v)}" for p, v in trailing),
            "chart_cid": cid, "incidents": incidents,
            "incidents_note": note, "description": definition.description.strip() if definition else "",
            "runbook": definition.runbook if definition else "",
            "checks": checks_for(checks, snap["indicator"]),
        })
    context = {"kind": kind, "kind_word": _KIND_WORDS[kind], "severity": severity, "subject": subject,
               "sections": sections, "withheld": withheld, "as_of": as_of.isoformat(), "fmt": fmt,
               "report": report, "confidence_meaning": why.CONFIDENCE_MEANING}
    text = _ENV.get_template("alert.txt.j2").render(context)
    html = _ENV.get_template("alert.html.j2").render(context)
    attachments = [("incidents.csv", incidents_csv(sections), "text/csv")]
    message = build_message(subject, sender, recipients, text, html=html, attachments=attachments, inline=images)
    if message_id:
        message.replace_header("Message-ID", message_id)
    return message
