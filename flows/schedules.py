"""Every deployment and schedule in one place: `riskwatch serve` runs them; tests snapshot them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flows import pipeline
from riskwatch.settings import Settings


@dataclass(frozen=True)
class Deployment:
    name: str
    flow_name: str
    cron: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)


def deployments(settings: Settings) -> list[Deployment]:
    """Daily: ingest, then refresh + alert on what arrived. Weekly: the report, Monday 07:00 local time, and the
    warehouse maintenance, Sunday 03:00."""
    wh = str(settings.warehouse)
    return [
        Deployment("daily-ingest-refresh-alert", "pipeline", settings.get("schedules.daily_cron"),
                   "Ingest the inbox and the ACLED API, refresh tags/indicators/checks, evaluate and send alerts.",
                   {"warehouse": wh, "report": False}),
        Deployment("weekly-report", "weekly_report", settings.get("schedules.weekly_report_cron"),
                   "Weekly report for the last complete ISO week, emailed to RISKWATCH_REPORT_TO.",
                   {"warehouse": wh, "email": True}),
        Deployment("weekly-maintenance", "maintenance", settings.get("schedules.maintenance_cron"),
                   "Warehouse upkeep: on a lake expire old snapshots, merge small files, delete unused ones.",
                   {"warehouse": wh}),
    ]


FLOWS = {"pipeline": pipeline.pipeline, "weekly_report": pipeline.weekly_report, "ingest": pipeline.ingest,
         "refresh": pipeline.refresh, "alert": pipeline.alert, "maintenance": pipeline.maintenance}


def inventory(settings: Settings) -> list[dict[str, Any]]:
    """A plain description of every deployment (what the snapshot test compares)."""
    return [{"name": d.name, "flow": d.flow_name, "cron": d.cron, "timezone": settings.timezone,
             "parameters": sorted(d.parameters)} for d in deployments(settings)]


def runner_deployments(settings: Settings, work_pool: str | None = None) -> list:
    """Prefect RunnerDeployments (for `serve`), or for `deploy` to a work pool on a Prefect server."""
    from prefect.schedules import Cron

    built = []
    for d in deployments(settings):
        kwargs: dict[str, Any] = {"work_pool_name": work_pool} if work_pool else {}
        built.append(FLOWS[d.flow_name].to_deployment(
            name=d.name, description=d.description, parameters=d.parameters,
            schedules=[Cron(d.cron, timezone=settings.timezone)], concurrency_limit=1, tags=["riskwatch"], **kwargs,
        ))
    return built


def deploy_to_pool(settings: Settings, work_pool: str) -> list[str]:
    """Register the deployments on the configured Prefect server, running this checkout's code in `work_pool`."""
    from pathlib import Path

    from prefect.schedules import Cron

    root = Path(__file__).resolve().parents[1]
    names = []
    for d in deployments(settings):
        source = FLOWS[d.flow_name].from_source(source=str(root), entrypoint=f"flows/pipeline.py:{d.flow_name}")
        source.deploy(name=d.name, work_pool_name=work_pool, parameters=d.parameters, description=d.description,
                      schedules=[Cron(d.cron, timezone=settings.timezone)], concurrency_limit=1, tags=["riskwatch"],
                      build=False, push=False, print_next_steps=False, ignore_warnings=True)
        names.append(d.name)
    return names
