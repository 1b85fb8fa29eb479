"""Alert lifecycle: rule breaches -> alert state -> notification queue -> email (schema 005_alerts.sql).

An alert is one rule on one value (fingerprint indicator, series, grain, period, rule); the rules on one
value (value_key) act as one alert: its first breach queues a 'new' notification, a higher severity an
'escalation', a still-firing unacknowledged one a 'reminder' after the repeat interval, and falling
below the clear threshold a 'resolved' note. What was last queued for a value is its announced state, so
a rerun queues nothing new. Only the current and the last complete period are live; when a period leaves
that window its alerts end quietly ('expired': the breach is history, it did not clear).

Delivery is at-least-once with a stable Message-ID: each notification is committed as 'pending' with the
state change that caused it, then sent, then marked 'sent'; a failed send stays pending for the next run.
Data that failed a critical validation check never alerts: the breach is reported as withheld instead.
"""

from __future__ import annotations

import datetime as dt
import json
from email.utils import make_msgid, parseaddr

import duckdb

from alerts import render
from alerts.delivery import deliver_pending
from alerts.run import AlertRun, Withheld, count_state
from indicators.definitions import Definition, load_definitions
from indicators.periods import period_label
from indicators.rules import Candidate, evaluate_rules
from riskwatch.settings import Settings
from warehouse import ids

RANK = {"warning": 1, "critical": 2}
_COUNTS = {"new": "new", "escalation": "escalated", "reminder": "reminded", "resolved": "resolved"}


def evaluate_alerts(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, settings: Settings, *, dry_run: bool = False,
    backfill: bool = False, now: dt.datetime | None = None, definitions: dict[str, Definition] | None = None,
    since: dt.date | None = None,
) -> AlertRun:
    """Evaluate every rule, update alert state, queue and deliver notifications (see module docstring).

    backfill: judge every period, record past breaches as resolved, queue and send nothing.
    since: judge no period that starts before this day (backfill --from): no alert row before it.
    dry_run: compute what would be queued and sent, change nothing.
    """
    now = now or dt.datetime.now().replace(microsecond=0)
    defs = load_definitions() if definitions is None else definitions
    run = AlertRun(as_of, dry_run, backfill)
    checks = render.failed_checks(con)
    critical = {n: [k["check_name"] for k in render.checks_for(checks, n) if k["severity"] == "critical"]
                for n in defs}
    candidates = evaluate_rules(con, defs, as_of, settings.watched_countries, all_periods=backfill, since=since)
    run.withheld = [Withheld(c.indicator, defs[c.indicator].title, c.series, period_label(
        c.grain, c.period_start), c.rule.name, c.rule.severity, c.value, critical[c.indicator])
        for c in candidates if critical[c.indicator] and c.breached and c.in_window]
    live = [c for c in candidates if not critical[c.indicator]]
    # Counted per value: the rules on one value are one alert (as `alerts list` and the report count).
    run.past_breaches = len({c.value_key for c in live if c.breached and not c.in_window})
    con.execute("BEGIN TRANSACTION")
    try:
        _record(con, live, [n for n in defs if not critical[n]], as_of, now)
        if not backfill:
            _enqueue(con, defs, settings, live, as_of, now, run)
        count_state(con, run, now)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    # A dry run computes everything in the transaction, then throws it away.
    con.execute("ROLLBACK" if dry_run else "COMMIT")
    if not (dry_run or backfill):
        deliver_pending(con, settings, defs, run, checks=checks, now=now)
    return run


_CAND = ("alert_id VARCHAR, value_key VARCHAR, indicator VARCHAR, series VARCHAR, grain VARCHAR, period_start DATE, "
         "period_end DATE, rule VARCHAR, rule_type VARCHAR, severity VARCHAR, value DOUBLE, threshold DOUBLE, "
         "clear_threshold DOUBLE, baseline DOUBLE, p_value DOUBLE, breached BOOLEAN, holds BOOLEAN, in_window BOOLEAN")


def _record(con, cands: list[Candidate], indicators: list[str], as_of: dt.date, now: dt.datetime) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE _cand ({_CAND})")
    if cands:
        con.executemany(f"INSERT INTO _cand VALUES ({', '.join(['?'] * 18)})", [
            (c.alert_id, c.value_key, c.indicator, c.series, c.grain, c.period_start, c.period_end, c.rule.name,
             c.rule.type, c.rule.severity, c.value, c.threshold, c.clear_threshold, c.baseline, c.p_value,
             c.breached, c.holds, c.in_window) for c in cands])
    key = {"now": now, "as_of": as_of}
    # Hysteresis: a firing alert stays firing while it holds; a resolved one fires again only on a breach.
    con.execute("CREATE OR REPLACE TEMP TABLE _next AS SELECT c.*, a.status AS old_status, CASE "
                "WHEN NOT c.in_window THEN 'resolved' WHEN a.status = 'firing' AND c.holds THEN 'firing' "
                "WHEN a.status <> 'firing' AND c.breached THEN 'firing' ELSE 'resolved' END AS new_status "
                "FROM _cand c JOIN alert_rows a USING (alert_id)")
    con.execute(
        "UPDATE alert_rows a SET status = n.new_status, severity = n.severity, value = n.value, "
        "threshold = n.threshold, clear_threshold = n.clear_threshold, baseline = n.baseline, p_value = n.p_value, "
        "as_of = $as_of, last_seen_at = CASE WHEN n.new_status = 'firing' THEN $now ELSE a.last_seen_at END, "
        "resolved_at = CASE WHEN n.new_status = 'firing' THEN NULL WHEN n.old_status = 'firing' THEN $now "
        "ELSE a.resolved_at END, resolved_reason = CASE WHEN n.new_status = 'firing' THEN NULL "
        "WHEN n.old_status = 'firing' THEN CASE WHEN n.in_window THEN 'cleared' ELSE 'expired' END "
        "ELSE a.resolved_reason END FROM _next n WHERE a.alert_id = n.alert_id", key)
    con.execute(
        "INSERT INTO alert_rows SELECT alert_id, value_key, indicator, series, grain, period_start, period_end, rule, "
        "rule_type, severity, value, threshold, clear_threshold, baseline, p_value, "
        "CASE WHEN in_window THEN 'firing' ELSE 'resolved' END, $now, $now, CASE WHEN NOT in_window THEN $now END, "
        "CASE WHEN NOT in_window THEN 'backfill' END, NULL, NULL, NULL, $as_of "
        "FROM _cand WHERE breached AND alert_id NOT IN (SELECT alert_id FROM alert_rows)", key)
    con.execute(
        "UPDATE alert_rows SET status = 'resolved', resolved_at = $now, resolved_reason = 'expired' "
        "WHERE status = 'firing' AND list_contains($inds, indicator) "
        "AND alert_id NOT IN (SELECT alert_id FROM _cand WHERE in_window)", {"now": now, "inds": indicators})


_VALUES = ("SELECT value_key, indicator, firing_rank, acked, last_resolution, last_kind, last_severity, "
           "last_queued_at, alert_silenced(indicator, series, value_key, $today) FROM alert_values "
           "WHERE list_contains($inds, indicator) AND (firing_rank IS NOT NULL OR last_kind <> 'resolved') "
           "ORDER BY value_key")


def _decide(rank, acked, last_reason, last_kind, last_sev, last_at, now, repeat) -> str | None:
    announced = last_kind in ("new", "escalation", "reminder")
    if rank is None:
        return "resolved" if announced and last_reason == "cleared" else None
    if not announced:
        return "new"
    if rank > RANK[last_sev]:
        return "escalation"
    return "reminder" if not acked and now - last_at >= repeat else None


def _enqueue(con, defs: dict[str, Definition], settings: Settings, cands: list[Candidate], as_of: dt.date,
             now: dt.datetime, run: AlertRun) -> None:
    repeat = dt.timedelta(days=float(settings.get("alerts.repeat_interval_days", 7)))
    emails: dict[tuple, list[dict]] = {}
    by_value: dict[str, list[Candidate]] = {}
    for c in cands:
        by_value.setdefault(c.value_key, []).append(c)
    for vkey, ind, rank, acked, last_reason, last_kind, last_sev, last_at, silenced in con.execute(
            _VALUES, {"inds": list(defs), "today": now.date()}).fetchall():
        kind = _decide(rank, acked, last_reason, last_kind, last_sev, last_at, now, repeat)
        if kind is None or silenced:
            continue
        severity = last_sev if kind == "resolved" else ("critical" if rank == 2 else "warning")
        snap = render.snapshot(con, defs[ind], vkey, by_value.get(vkey, []), severity, last_sev, as_of)
        recipients = tuple(defs[ind].route or settings.recipients("alert"))
        emails.setdefault((kind, severity, recipients), []).append(snap)
        setattr(run, _COUNTS[kind], getattr(run, _COUNTS[kind]) + 1)
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
    for (kind, severity, recipients), snaps in emails.items():
        subject = render.subject_for(kind, severity, snaps)
        nid = ids.next_id(con, "notifications")
        con.execute(
            "INSERT INTO notifications (notification_id, group_key, kind, severity, recipients, subject, status, "
            "created_at, message_id, as_of) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
            [nid, f"{kind}/{severity}/{','.join(recipients)}", kind, severity, ", ".join(recipients), subject, now,
             make_msgid("riskwatch", domain=domain), as_of])
        con.executemany("INSERT INTO notification_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (nid, s["value_key"], s["indicator"], s["series"], s["grain"], s["period_start"], s["severity"],
             [r["alert_id"] for r in s["rules"]], json.dumps(s, default=str)) for s in snaps])
