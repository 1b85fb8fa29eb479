"""Sending queued alert notifications: oldest first, each marked 'sent' as soon as the server took it.

At-least-once with a stable Message-ID: a notification is committed as 'pending' (alerts.lifecycle)
before it is sent; a send that fails leaves it pending for the next run.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb

from alerts import render
from alerts.run import AlertRun, count_state
from indicators.definitions import Definition, load_definitions
from publish.mail import DeliveryError, SmtpSettings, deliver
from riskwatch.settings import Settings
from warehouse.db import transaction
from warehouse.redact import redact

OUTBOX_TO = "riskwatch-alerts@localhost"   # outbox files need some To: when no recipients are configured


def report_for(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: dt.date) -> dict:
    """The weekly report an alert email points at: the newest archived one up to as_of, else the file the
    next weekly run writes (the last complete ISO week); linked under [report] base_url, else its path."""
    row = con.execute("SELECT path FROM reports WHERE week_end <= ? ORDER BY week_end DESC, report_id DESC "
                      "LIMIT 1", [as_of]).fetchone()
    if row:
        name = Path(row[0]).name
        return {"name": name, "link": settings.report_link(name) if settings.get("report.base_url") else row[0]}
    end = as_of - dt.timedelta(days=as_of.isoweekday() % 7)
    year, week, _ = end.isocalendar()
    name = f"weekly-{year}-W{week:02d}.html"
    return {"name": name, "link": settings.report_link(name)}


def deliver_pending(
    con: duckdb.DuckDBPyConnection, settings: Settings, definitions: dict[str, Definition] | None = None,
    run: AlertRun | None = None, *, checks: list[dict] | None = None, now: dt.datetime | None = None,
) -> AlertRun:
    """Send every pending notification, oldest first, marking each 'sent' as soon as the server took it."""
    now = now or dt.datetime.now().replace(microsecond=0)
    defs = load_definitions() if definitions is None else definitions
    run = run or AlertRun(as_of=now.date())
    checks = render.failed_checks(con) if checks is None else checks
    smtp = SmtpSettings.from_env(settings.environ)
    sender = settings.mail_from
    for nid, kind, severity, to, subject, message_id, as_of in con.execute(
            "SELECT notification_id, kind, severity, recipients, subject, message_id, as_of FROM notifications "
            "WHERE status = 'pending' ORDER BY notification_id").fetchall():
        items = con.execute("SELECT snapshot, alert_ids FROM notification_items WHERE notification_id = ? "
                            "ORDER BY value_key", [nid]).fetchall()
        recipients = to.split(", ") if to else settings.recipients("alert") or ([] if smtp else [OUTBOX_TO])
        try:
            if not recipients:
                raise ValueError("no recipients: set RISKWATCH_ALERT_TO or the indicator's route")
            message = render.render_message(
                con, kind=kind, severity=severity, subject=subject, snapshots=[json.loads(s) for s, _ in items],
                definitions=defs, as_of=as_of, watched=settings.watched_countries, checks=checks,
                withheld=run.withheld, sender=sender, recipients=recipients, message_id=message_id,
                report=report_for(con, settings, as_of))
            con.execute("UPDATE notifications SET attempts = attempts + 1, last_attempt_at = ? "
                        "WHERE notification_id = ?", [now, nid])
            where = deliver(message, settings=smtp, outbox_dir=settings.outbox, name=f"riskwatch-alert-{nid:06d}")
        except (ValueError, DeliveryError, OSError) as exc:
            # Partly delivered: a retry would send it twice to the recipients that have it, so it fails for good.
            partial = "refused some recipients" in str(exc)
            error = redact(str(exc), (smtp.user, smtp.password) if smtp else ())
            con.execute("UPDATE notifications SET status = ?, last_error = ? WHERE notification_id = ?",
                        ["failed" if partial else "pending", error, nid])
            run.errors.append(f"notification {nid} ({subject}): {error}")
            if partial or isinstance(exc, ValueError):   # a bad address: the next one may be fine
                continue
            break   # the server is down or refusing: the rest waits for the next run, in order
        with transaction(con):
            con.execute("UPDATE notifications SET status = 'sent', sent_at = ?, delivered_via = ?, eml_path = ?, "
                        "last_error = NULL WHERE notification_id = ?",
                        [now, where, where.removeprefix("outbox:") if where.startswith("outbox:") else None, nid])
            con.execute("UPDATE alert_rows SET notified_at = ? WHERE list_contains(?, alert_id)",
                        [now, [a for _, ids in items for a in ids]])
        run.sent += 1
    count_state(con, run, now)
    run.failed = con.execute("SELECT count(*) FROM notifications WHERE status = 'failed'").fetchone()[0]
    return run
