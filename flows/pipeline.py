"""Prefect flows: ingest, refresh (tags, indicators, validation), alert, weekly_report, and pipeline.

Writer flows hold the warehouse's writer lock, so two never run at once; each task opens the
warehouse only for its own step and publishes a read snapshot after it, so readers are not blocked.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows import tasks
from flows.logs import send_project_logs_to_api
from riskwatch.settings import load_settings
from warehouse.lock import writer_lock

send_project_logs_to_api()


def _date(value: dt.date | str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


@flow(name="ingest", log_prints=True)
def ingest(warehouse: str | None = None, files: list[tuple[str, str]] | None = None, config: str | None = None) -> list:
    """Ingest the given (file, source) pairs, or every file in the inbox plus the ACLED API when configured."""
    settings = load_settings(warehouse, config)
    wh = str(settings.warehouse)
    with writer_lock(wh, timeout=settings.busy_timeout, lake=settings.lake):
        todo = list(files) if files is not None else tasks.inbox_files(settings)
        if files is None:
            pulled = tasks.pull_acled_api(wh, config)
            if pulled and (pulled, "acled") not in todo:
                todo.append((pulled, "acled"))
        return tasks.ingest_files(wh, todo, config) if todo else []


@flow(name="refresh", log_prints=True)
def refresh(warehouse: str | None = None, as_of: str | None = None, full: bool = False,
            config: str | None = None) -> dict:
    """Tags, duplicates and indicator values, then the validation suites on them."""
    settings = load_settings(warehouse, config)
    wh, day = str(settings.warehouse), _date(as_of)
    with writer_lock(wh, timeout=settings.busy_timeout, lake=settings.lake):
        computed = tasks.refresh_indicators(wh, day, full, config)
        checked = tasks.validate(wh, day, config)
    return {"indicators": computed, "validation": checked}


@flow(name="alert", log_prints=True)
def alert(warehouse: str | None = None, as_of: str | None = None, dry_run: bool = False,
          config: str | None = None) -> dict:
    settings = load_settings(warehouse, config)
    with writer_lock(settings.warehouse, timeout=settings.busy_timeout, lake=settings.lake):
        return _email_retries(tasks.evaluate_alerts, settings)(str(settings.warehouse), _date(as_of), dry_run, config)


@flow(name="weekly_report", log_prints=True)
def weekly_report(warehouse: str | None = None, as_of: str | None = None, email: bool = True,
                  config: str | None = None) -> dict:
    settings = load_settings(warehouse, config)
    with writer_lock(settings.warehouse, timeout=settings.busy_timeout, lake=settings.lake):
        return _email_retries(tasks.weekly_report, settings)(str(settings.warehouse), _date(as_of), email, config)


@flow(name="maintenance", log_prints=True)
def maintenance(warehouse: str | None = None, config: str | None = None) -> dict:
    """Weekly upkeep: on a lake flush inlined rows, expire snapshots past [maintenance] snapshot_retention_days,
    merge small files, rewrite mostly-deleted ones, delete unused files; on the embedded file a CHECKPOINT."""
    from warehouse.maintenance import Maintenance

    settings = load_settings(warehouse, config)
    with writer_lock(settings.warehouse, timeout=settings.busy_timeout, lake=settings.lake):
        done = tasks.maintain(str(settings.warehouse), config)
    create_markdown_artifact(Maintenance(**done).markdown(f"riskwatch maintenance of {settings.warehouse}"),
                             key="riskwatch-maintenance", description="Warehouse maintenance: files, snapshots, bytes")
    return done


def _email_retries(step, settings):
    """The task with the retries of [pipeline] email_retries / email_retry_delay_seconds (SMTP may be down)."""
    return step.with_options(retries=int(settings.get("pipeline.email_retries")),
                             retry_delay_seconds=float(settings.get("pipeline.email_retry_delay_seconds")))


class PipelineFailed(RuntimeError):
    """A step of the run failed: `summary` holds what the steps before it did, `steps` each step's outcome."""

    def __init__(self, summary: dict):
        self.summary = summary
        failed = [f"{name} {outcome}" for name, outcome in summary["steps"].items() if outcome.startswith("failed")]
        super().__init__("; ".join(failed))


def _one_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300] or type(exc).__name__


@flow(name="pipeline", log_prints=True)
def pipeline(warehouse: str | None = None, as_of: str | None = None, files: list[tuple[str, str]] | None = None,
             report: bool = True, config: str | None = None) -> dict:
    """The whole run: ingest -> refresh -> alert -> weekly_report, each a subflow."""
    settings = load_settings(warehouse, config)
    wh, day = str(settings.warehouse), _date(as_of).isoformat()
    summary: dict = {"as_of": day, "ingested": [], "refresh": None, "alerts": None, "report": None, "steps": {}}
    steps = [("ingest", "ingested", lambda: ingest(wh, files, config)),
             ("refresh", "refresh", lambda: refresh(wh, day, False, config)),
             ("alerts", "alerts", lambda: alert(wh, day, False, config))]
    if report:
        steps.append(("report", "report", lambda: weekly_report(wh, day, True, config)))
    with writer_lock(wh, timeout=settings.busy_timeout, lake=settings.lake):
        for name, key, step in steps:
            if any(o.startswith("failed") for o in summary["steps"].values()):
                summary["steps"][name] = "skipped"   # each step works on what the one before it made
                continue
            try:
                summary[key] = step()
                summary["steps"][name] = "ok"
            except Exception as exc:
                summary["steps"][name] = f"failed: {_one_line(exc)}"
    _artifacts(summary)
    if any(o.startswith("failed") for o in summary["steps"].values()):
        raise PipelineFailed(summary)
    return summary


def _artifacts(summary: dict) -> None:
    if any(summary.get(k) is None for k in ("refresh", "alerts")):
        lines = [f"# riskwatch run as of {summary['as_of']}", "", "| step | outcome |", "|---|---|"]
        lines += [f"| {name} | {outcome} |" for name, outcome in summary["steps"].items()]
        create_markdown_artifact("\n".join(lines), key="riskwatch-run-summary", description="riskwatch run summary")
        return
    ingested = summary["ingested"]
    ind = summary["refresh"]["indicators"]["indicators"]
    val = summary["refresh"]["validation"]
    al = summary["alerts"]
    lines = [
        f"# riskwatch run as of {summary['as_of']}",
        "",
        "| step | result |",
        "|---|---|",
        f"| files | {len(ingested)} ({sum(1 for r in ingested if r.get('status') == 'success')} loaded, "
        f"{sum(1 for r in ingested if r.get('status') == 'skipped')} already seen, "
        f"{sum(1 for r in ingested if r.get('status') == 'refused')} refused) |",
        f"| rows ingested | {sum(r.get('inserted', 0) for r in ingested)} inserted, "
        f"{sum(r.get('updated', 0) for r in ingested)} updated, "
        f"{sum(r.get('rejected', 0) for r in ingested)} rejected |",
        f"| indicators | {ind['mode']}: {ind['periods_recomputed']} period(s) recomputed, "
        f"{ind['past_values_changed']} past value(s) changed |",
        f"| checks | {val['critical_failures']} critical and {val['warnings']} warning failure(s) |",
        f"| alerts | {al['firing']} firing, {al['new']} new, {al['escalated']} escalated, {al['resolved']} resolved; "
        f"{al['sent']} email(s) sent, {al['pending']} pending |",
    ]
    if summary["report"]:
        lines.append(f"| weekly report | {summary['report']['path']} ({summary['report']['delivery']}) |")
    create_markdown_artifact("\n".join(lines), key="riskwatch-run-summary", description="riskwatch run summary")
    rows = [{k: str(v) for k, v in n.items()} for n in al.get("notified", [])]
    create_table_artifact(rows or [{"subject": "no new alert notifications"}], key="riskwatch-new-alerts",
                          description="Alert notifications of this run (new, escalated, resolved, reminders)")
