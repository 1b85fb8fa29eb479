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
from dataclasses import dataclass, field
from email.utils import make_msgid, parseaddr

import duckdb

from flows import alert_email
from flows.notify import DeliveryError, SmtpSettings, deliver
from flows.settings import Settings
from indicators.definitions import Definition, load_definitions
from indicators.rules import Candidate, evaluate_rules

RANK = {"warning": 1, "critical": 2}
_COUNTS = {"new": "new", "escalation": "escalated", "reminder": "reminded", "resolved": "resolved"}
OUTBOX_TO = "riskwatch-alerts@localhost"   # outbox files need some To: when no recipients are configured


@dataclass
class Withheld:
    indicator: str
    title: str
    series: str
    period: str
    rule: str
    severity: str
    value: float
    checks: list[str]


@dataclass
class AlertRun:
    as_of: dt.date
    dry_run: bool = False
    backfill: bool = False
    firing: int = 0          # alert values firing after the run (silenced ones not included)
    silenced: int = 0
    new: int = 0
    escalated: int = 0
    reminded: int = 0
    resolved: int = 0
    sent: int = 0
    pending: int = 0         # queued and not yet delivered after the run (dry run: what would be sent)
    failed: int = 0
    past_breaches: int = 0   # backfill: breaches of earlier periods, recorded as resolved
    withheld: list[Withheld] = field(default_factory=list)
    queued: list[dict] = field(default_factory=list)   # notifications pending after the run (subject, to, ...)
    errors: list[str] = field(default_factory=list)


def evaluate_alerts(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, settings: Settings, *, dry_run: bool = False,
    backfill: bool = False, now: dt.datetime | None = None, definitions: dict[str, Definition] | None = None,
) -> AlertRun:
    """Evaluate every rule, update alert state, queue and deliver notifications (see module docstring).

    backfill: judge every period, record past breaches as resolved, queue and send nothing.
    dry_run: compute what would be queued and sent, change nothing.
    """
    now = now or dt.datetime.now().replace(microsecond=0)
    defs = load_definitions() if definitions is None else definitions
    run = AlertRun(as_of, dry_run, backfill)
    checks = alert_email.failed_checks(con)
    critical = {n: [k["check_name"] for k in alert_email.checks_for(checks, n) if k["severity"] == "critical"]
                for n in defs}
    candidates = evaluate_rules(con, defs, as_of, settings.watched_countries, all_periods=backfill)
    run.withheld = [Withheld(c.indicator, defs[c.indicator].title, c.series, alert_email.period_label(
        c.grain, c.period_start), c.rule.name, c.rule.severity, c.value, critical[c.indicator])
        for c in candidates if critical[c.indicator] and c.breached and c.in_window]
    live = [c for c in candidates if not critical[c.indicator]]
    run.past_breaches = sum(c.breached and not c.in_window for c in live)
    con.execute("BEGIN TRANSACTION")
    try:
        _record(con, live, [n for n in defs if not critical[n]], as_of, now)
        if not backfill:
            _enqueue(con, defs, settings, live, as_of, now, run)
        _count(con, run, now)
    except BaseException:
        con.execute("ROLLBACK")
        raise
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
        snap = alert_email.snapshot(con, defs[ind], vkey, by_value.get(vkey, []), severity, last_sev, as_of)
        recipients = tuple(defs[ind].route or settings.recipients("alert"))
        emails.setdefault((kind, severity, recipients), []).append(snap)
        setattr(run, _COUNTS[kind], getattr(run, _COUNTS[kind]) + 1)
    domain = parseaddr(_sender(settings))[1].rpartition("@")[2] or "localhost"
    for (kind, severity, recipients), snaps in emails.items():
        subject = alert_email.subject_for(kind, severity, snaps)
        nid = con.execute(
            "INSERT INTO notifications (group_key, kind, severity, recipients, subject, status, created_at, "
            "message_id, as_of) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?) RETURNING notification_id",
            [f"{kind}/{severity}/{','.join(recipients)}", kind, severity, ", ".join(recipients), subject, now,
             make_msgid("riskwatch", domain=domain), as_of]).fetchone()[0]
        con.executemany("INSERT INTO notification_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (nid, s["value_key"], s["indicator"], s["series"], s["grain"], s["period_start"], s["severity"],
             [r["alert_id"] for r in s["rules"]], json.dumps(s, default=str)) for s in snaps])


def _count(con, run: AlertRun, now: dt.datetime) -> None:
    run.firing, run.silenced = con.execute(
        "SELECT count(DISTINCT value_key) FILTER (WHERE NOT s), count(DISTINCT value_key) FILTER (WHERE s) FROM "
        "(SELECT value_key, alert_silenced(indicator, series, value_key, ?) AS s FROM alert_rows "
        "WHERE status = 'firing')", [now.date()]).fetchone()
    run.queued = alert_email.records(con.execute(
        "SELECT notification_id, kind, severity, subject, recipients, attempts, last_error FROM notifications "
        "WHERE status = 'pending' ORDER BY notification_id"))
    run.pending = len(run.queued)


def deliver_pending(
    con: duckdb.DuckDBPyConnection, settings: Settings, definitions: dict[str, Definition] | None = None,
    run: AlertRun | None = None, *, checks: list[dict] | None = None, now: dt.datetime | None = None,
) -> AlertRun:
    """Send every pending notification, oldest first, marking each 'sent' as soon as the server took it."""
    now = now or dt.datetime.now().replace(microsecond=0)
    defs = load_definitions() if definitions is None else definitions
    run = run or AlertRun(as_of=now.date())
    checks = alert_email.failed_checks(con) if checks is None else checks
    smtp = SmtpSettings.from_env(settings.environ)
    sender = smtp.mail_from if smtp else _sender(settings)
    for nid, kind, severity, to, subject, message_id, as_of in con.execute(
            "SELECT notification_id, kind, severity, recipients, subject, message_id, as_of FROM notifications "
            "WHERE status = 'pending' ORDER BY notification_id").fetchall():
        items = con.execute("SELECT snapshot, alert_ids FROM notification_items WHERE notification_id = ? "
                            "ORDER BY value_key", [nid]).fetchall()
        recipients = to.split(", ") if to else settings.recipients("alert") or ([] if smtp else [OUTBOX_TO])
        try:
            if not recipients:
                raise ValueError("no recipients: set RISKWATCH_ALERT_TO or the indicator's route")
            message = alert_email.render_message(
                con, kind=kind, severity=severity, subject=subject, snapshots=[json.loads(s) for s, _ in items],
                definitions=defs, as_of=as_of, watched=settings.watched_countries, checks=checks,
                withheld=run.withheld, sender=sender, recipients=recipients, message_id=message_id)
            con.execute("UPDATE notifications SET attempts = attempts + 1, last_attempt_at = ? "
                        "WHERE notification_id = ?", [now, nid])
            where = deliver(message, settings=smtp, outbox_dir=settings.outbox, name=f"riskwatch-alert-{nid:06d}")
        except (ValueError, DeliveryError, OSError) as exc:
            # Partly delivered: a retry would send it twice to the recipients that have it, so it fails for good.
            partial = "refused some recipients" in str(exc)
            con.execute("UPDATE notifications SET status = ?, last_error = ? WHERE notification_id = ?",
                        ["failed" if partial else "pending", str(exc), nid])
            run.errors.append(f"notification {nid} ({subject}): {exc}")
            if partial or isinstance(exc, ValueError):   # a bad address: the next one may be fine
                continue
            break   # the server is down or refusing: the rest waits for the next run, in order
        con.execute("BEGIN TRANSACTION")
        con.execute("UPDATE notifications SET status = 'sent', sent_at = ?, delivered_via = ?, eml_path = ?, "
                    "last_error = NULL WHERE notification_id = ?",
                    [now, where, where.removeprefix("outbox:") if where.startswith("outbox:") else None, nid])
        con.execute("UPDATE alert_rows SET notified_at = ? WHERE list_contains(?, alert_id)",
                    [now, [a for _, ids in items for a in ids]])
        con.execute("COMMIT")
        run.sent += 1
    _count(con, run, now)
    run.failed = con.execute("SELECT count(*) FROM notifications WHERE status = 'failed'").fetchone()[0]
    return run


def silence(con: duckdb.DuckDBPyConnection, matcher: str, until: dt.date, reason: str, *,
            now: dt.datetime | None = None, definitions: dict[str, Definition] | None = None) -> dict:
    """Suppress sending for an alert_id (its whole value), an indicator or indicator/series through `until`."""
    now = now or dt.datetime.now().replace(microsecond=0)
    if not reason.strip():
        raise ValueError("a reason is required: say why, so the next analyst knows")
    if until < now.date():
        raise ValueError(f"--until {until} is in the past")
    row = con.execute("SELECT indicator, series, value_key FROM alert_rows WHERE alert_id = ?", [matcher]).fetchone()
    if row is None:
        indicator, _, series = matcher.partition("/")
        known = set(load_definitions() if definitions is None else definitions)
        known |= {r[0] for r in con.execute("SELECT DISTINCT indicator FROM alert_rows").fetchall()}
        if indicator not in known:
            raise ValueError(f"{matcher!r} is neither an alert id nor an indicator[/series]")
        row = (indicator, series or None, None)
    sid = con.execute("INSERT INTO alert_silences (matcher, indicator, series, value_key, until, reason, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING silence_id", [matcher, *row, until, reason, now]
                      ).fetchone()[0]
    return {"silence_id": sid, "indicator": row[0], "series": row[1], "value_key": row[2], "until": until}


def ack(con: duckdb.DuckDBPyConnection, alert_id: str, note: str | None = None, *,
        now: dt.datetime | None = None) -> int:
    """Acknowledge an alert (and the other rules on its value): no more reminders. Returns rows updated."""
    count = con.execute("UPDATE alert_rows SET acked_at = ?, ack_note = ? WHERE value_key = "
                        "(SELECT value_key FROM alert_rows WHERE alert_id = ?)",
                        [now or dt.datetime.now().replace(microsecond=0), note, alert_id]).fetchone()[0]
    if not count:
        raise ValueError(f"no alert {alert_id!r}: see `riskwatch alerts list`")
    return count


def _sender(settings: Settings) -> str:
    return settings.environ.get("RISKWATCH_MAIL_FROM", "").strip() or "riskwatch@localhost"
