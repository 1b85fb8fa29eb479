"""What one alert run did: counts, what it withheld and what is still queued."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from warehouse.db import records


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


def count_state(con, run: AlertRun, now: dt.datetime) -> None:
    run.firing, run.silenced = con.execute(
        "SELECT count(DISTINCT value_key) FILTER (WHERE NOT s), count(DISTINCT value_key) FILTER (WHERE s) FROM "
        "(SELECT value_key, alert_silenced(indicator, series, value_key, ?) AS s FROM alert_rows "
        "WHERE status = 'firing')", [now.date()]).fetchone()
    run.queued = records(con.execute(
        "SELECT notification_id, kind, severity, subject, recipients, attempts, last_error FROM notifications "
        "WHERE status = 'pending' ORDER BY notification_id"))
    run.pending = len(run.queued)
