"""Prefect tasks: few and coarse, each opening the warehouse for just its own step.

Every task takes plain parameters (paths, dates) and reads settings itself, so deployments and the
CLI can call the same thing. Retries sit where the work is external (HTTP, SMTP).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from prefect import get_run_logger, task

from riskwatch.settings import Settings, load_settings
from warehouse import db
from warehouse.redact import redact
from warehouse.snapshot import publish_quietly


@contextmanager
def warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    con = db.connect(settings.warehouse, memory_limit=settings.memory_limit, busy_timeout=settings.busy_timeout,
                     lake=settings.lake)
    try:
        yield con
    finally:
        con.close()
        publish_quietly(settings.warehouse, settings.lake)


def inbox_files(settings: Settings) -> list[tuple[str, str]]:
    """(file, source) for every file in <inbox>/<source>/, oldest first (ACLED deletions after events)."""
    found = []
    root = settings.inbox_dir
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            for f in sorted(folder.glob("*"), key=lambda p: (p.stat().st_mtime, p.name)):
                if f.is_file() and f.suffix.lower() in (".csv", ".json", ".jsonl", ".ndjson"):
                    found.append((str(f), folder.name))
    return found


@task(name="pull-acled-api", retries=3, retry_delay_seconds=[30, 120, 600])
def pull_acled_api(warehouse_path: str, config: str | None = None) -> str | None:
    """Fetch ACLED events revised since the last pull into the inbox (only when ACLED_EMAIL is set)."""
    from warehouse.sources.acled_api import AcledClient, AcledCredentials

    settings = load_settings(warehouse_path, config)
    creds = AcledCredentials.from_env(settings.environ)
    if creds is None:
        return None
    countries = settings.get("sources.acled.countries")
    with warehouse(settings) as con:
        since = con.execute("SELECT CAST(epoch(max(source_updated_at)) AS BIGINT) FROM incident_current "
                            "WHERE source = 'acled'").fetchone()[0]
    folder = settings.inbox_dir / "acled"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"acled-api-{dt.datetime.now():%Y%m%dT%H%M%S}.csv"
    client = AcledClient(settings.get("sources.acled.api_url"), creds)
    rows, _ = client.fetch_to_csv(target, countries, since)
    get_run_logger().info("ACLED API: %s row(s) since %s -> %s", rows, since, target)
    return str(target) if rows else None


@task(name="ingest-files")
def ingest_files(warehouse_path: str, files: list[tuple[str, str]], config: str | None = None) -> list[dict]:
    from validation.ingest import ingest_files as load_files

    settings = load_settings(warehouse_path, config)
    log = get_run_logger()

    def report(r: dict) -> None:
        if r["status"] == "refused":
            log.error("%s", redact(r["message"]))
        else:
            log.info("%s (%s): %s: %s", r["file"], r["source"], r["status"], r["message"])

    with warehouse(settings) as con:
        return load_files(con, files, settings, on_result=report)


@task(name="refresh-indicators")
def refresh_indicators(warehouse_path: str, as_of: dt.date, full: bool = False, config: str | None = None) -> dict:
    from indicators.refresh import refresh

    settings = load_settings(warehouse_path, config)
    with warehouse(settings) as con:
        result = refresh(con, as_of, watched=settings.watched_countries, full=full)
    get_run_logger().info(result.summary())
    return result.as_dict()


@task(name="validate")
def validate(warehouse_path: str, as_of: dt.date, config: str | None = None) -> dict:
    from validation.suites import run_validation

    settings = load_settings(warehouse_path, config)
    with warehouse(settings) as con:
        summary = run_validation(con, as_of, settings)
    return {"success": summary.success, "critical_failures": summary.critical_failures,
            "warnings": summary.warnings, "docs_path": str(summary.docs_path or "")}


@task(name="evaluate-alerts", retries=2, retry_delay_seconds=60)
def evaluate_alerts(warehouse_path: str, as_of: dt.date, dry_run: bool = False, config: str | None = None) -> dict:
    from alerts.lifecycle import evaluate_alerts as evaluate
    from warehouse.db import records

    settings = load_settings(warehouse_path, config)
    with warehouse(settings) as con:
        last = con.execute("SELECT coalesce(max(notification_id), 0) FROM notifications").fetchone()[0]
        run = evaluate(con, as_of, settings, dry_run=dry_run)
        cur = con.execute("SELECT kind, severity, subject, status, recipients, coalesce(delivered_via, last_error) "
                          "AS delivery FROM notifications WHERE notification_id > ? ORDER BY notification_id", [last])
        notified = records(cur)
    return {k: getattr(run, k) for k in ("firing", "silenced", "new", "escalated", "resolved", "sent", "pending",
                                         "failed")} | {"queued": run.queued, "errors": run.errors, "notified": notified,
                                                       "withheld": [w.__dict__ for w in run.withheld]}


@task(name="weekly-report", retries=2, retry_delay_seconds=60)
def weekly_report(warehouse_path: str, as_of: dt.date, email: bool = True, config: str | None = None) -> dict:
    from reports.delivery import email_weekly_report
    from reports.weekly import build_weekly_report

    settings = load_settings(warehouse_path, config)
    with warehouse(settings) as con:
        result = build_weekly_report(con, as_of, settings)
        delivery = email_weekly_report(con, result, settings) if email else "not emailed"
    return {"path": str(result.path), "week_start": result.week_start.isoformat(),
            "week_end": result.week_end.isoformat(), "delivery": delivery}


@task(name="maintain-warehouse")
def maintain(warehouse_path: str, config: str | None = None) -> dict:
    from warehouse.maintenance import maintain as upkeep

    settings = load_settings(warehouse_path, config)
    with warehouse(settings) as con:
        done = upkeep(con, float(settings.get("maintenance.snapshot_retention_days")),
                      float(settings.get("maintenance.file_grace_hours")))
    get_run_logger().info("maintenance (%s): %s -> %s data files, %s snapshot(s) expired, %s file(s) / %s bytes "
                          "deleted", done.backend, done.data_files_before, done.data_files_after,
                          done.snapshots_expired, done.files_deleted, done.bytes_deleted)
    return done.as_dict()
