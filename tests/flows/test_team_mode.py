"""Team mode as README "Team mode" sets it up: a lake (catalog in a PostgreSQL database, Parquet files in a
directory), `prefect server start` on another PostgreSQL database, a process work pool, `riskwatch deploy
--work-pool`, two workers; the daily pipeline and the weekly report triggered together run on the two
workers at the same time against the one lake, complete, and the logs of riskwatch's own modules
(reports.weekly, publish.mail) are on the runs in the API.

Opt-in (a server start and two flow-run subprocesses take ~1.5 min on a quiet machine):
    pytest -m prefect_server tests/flows/test_team_mode.py
"""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from flows.demo import DEMO_AS_OF, SAMPLE_FILES
from riskwatch.settings import load_settings
from tests import lake_mode
from tests.prefect_server import BIN, postgres_database, prefect_server, process_workers, wait_for_workers
from warehouse import db

pytestmark = pytest.mark.prefect_server

POOL = "riskwatch-team"
WORKERS = ["team-worker-1", "team-worker-2"]
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def trigger(api: str, flow: str, deployment: str, parameters: dict) -> str:
    dep = httpx.get(f"{api}/deployments/name/{flow}/{deployment}").raise_for_status().json()
    run = httpx.post(f"{api}/deployments/{dep['id']}/create_flow_run",
                     json={"parameters": parameters}).raise_for_status().json()
    return run["id"]


def wait_terminal(api: str, run_ids: list[str], timeout: float = 600.0) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        runs = {i: httpx.get(f"{api}/flow_runs/{i}").raise_for_status().json() for i in run_ids}
        if all(r["state_type"] in TERMINAL for r in runs.values()):
            return runs
        assert time.monotonic() < deadline, {i: r["state_type"] for i, r in runs.items()}
        time.sleep(1)


def submitting_workers(api: str, run_ids: list[str], timeout: float = 60.0) -> dict[str, str]:
    """flow run id -> the name of the worker that submitted it, from the workers' events."""
    deadline = time.monotonic() + timeout
    while True:
        events = httpx.post(f"{api}/events/filter", json={
            "filter": {"event": {"name": ["prefect.worker.submitted-flow-run"]}}, "limit": 50}).json()["events"]
        found = {rel["prefect.resource.id"].removeprefix("prefect.flow-run."): ev["resource"]["prefect.resource.name"]
                 for ev in events for rel in ev["related"] if rel["prefect.resource.role"] == "flow-run"}
        if set(run_ids) <= set(found) or time.monotonic() > deadline:
            return {i: found.get(i) for i in run_ids}
        time.sleep(1)


def logger_names(api: str, run_id: str) -> set[str]:
    logs = httpx.post(f"{api}/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200}).json()
    return {log["name"] for log in logs}


def test_two_workers_run_daily_and_weekly_at_once_with_riskwatch_logs(tmp_path):
    reports = tmp_path / "reports"
    config = tmp_path / "riskwatch.toml"
    config.write_text(f'[pipeline]\nreports_dir = "{reports}"\ninbox_dir = "{tmp_path / "inbox"}"\n'
                      "email_retries = 0\n")
    warehouse = tmp_path / "wh" / "riskwatch.duckdb"
    with postgres_database() as lake_db, postgres_database() as prefect_db, \
            prefect_server(tmp_path / "prefect", prefect_db) as (api, env):
        env = env | {"RISKWATCH_BACKEND": "ducklake", "RISKWATCH_CATALOG": lake_mode.catalog(lake_db),
                     "RISKWATCH_DATA_PATH": str(tmp_path / "lake-data"),
                     "RISKWATCH_CONFIG": str(config), "RISKWATCH_ALERT_TO": "analysts@example.org",
                     "RISKWATCH_REPORT_TO": "desk@example.org", "PREFECT_WORKER_QUERY_SECONDS": "1",
                     "PREFECT_WORKER_PREFETCH_SECONDS": "1"}
        for name in ("RISKWATCH_SMTP_HOST", "RISKWATCH_OUTBOX", "RISKWATCH_WAREHOUSE", "RISKWATCH_METADATA_SCHEMA"):
            env.pop(name, None)
        run = lambda *args: subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True,  # noqa: E731
                                           timeout=300)
        made = run(str(BIN / "riskwatch"), "--warehouse", str(warehouse), "doctor")   # creates the lake's tables
        assert made.returncode == 0, made.stderr
        created = run(str(BIN / "prefect"), "work-pool", "create", POOL, "--type", "process")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = run(str(BIN / "riskwatch"), "--warehouse", str(warehouse), "deploy", "--work-pool", POOL)
        assert deployed.returncode == 0, deployed.stderr
        for name in ("daily-ingest-refresh-alert", "weekly-report"):
            assert f"deployed {name} -> work pool {POOL}" in deployed.stdout.splitlines(), deployed.stdout
        with process_workers(POOL, WORKERS, env, tmp_path):
            wait_for_workers(api, POOL, WORKERS)
            daily = trigger(api, "pipeline", "daily-ingest-refresh-alert",
                            {"as_of": DEMO_AS_OF, "files": [list(f) for f in SAMPLE_FILES]})
            weekly = trigger(api, "weekly_report", "weekly-report", {"as_of": DEMO_AS_OF})
            runs = wait_terminal(api, [daily, weekly])
            by_worker = submitting_workers(api, [daily, weekly])

        logs = {i: logger_names(api, i) for i in (daily, weekly)}
        assert {i: r["state_type"] for i, r in runs.items()} == {daily: "COMPLETED", weekly: "COMPLETED"}, \
            (tmp_path / f"worker-{WORKERS[0]}.log").read_text()[-3000:]
        assert sorted(by_worker.values()) == WORKERS, by_worker
        starts = [r["start_time"] for r in runs.values()]
        ends = [r["end_time"] for r in runs.values()]
        assert max(starts) < min(ends), (starts, ends)          # run intervals overlap: at the same time
        # The parameters the deployment registered (the warehouse) reached the runs, and both wrote to the lake.
        assert runs[daily]["parameters"]["warehouse"] == str(warehouse)
        assert list(reports.glob("weekly-2024-W45.html"))
        assert list((reports / "outbox").glob("riskwatch-alert-*.eml"))
        con = db.connect(warehouse, read_only=True, lake=load_settings(warehouse, environ=env).lake)
        try:
            assert con.execute("SELECT count(*) FROM ingest_runs WHERE status = 'success'").fetchone()[0] == 2
            assert con.execute("SELECT count(*) FROM reports").fetchone()[0] >= 1
        finally:
            con.close()
        # riskwatch's module loggers reach the API (and the UI's run page), not only Prefect's own.
        assert {"reports.weekly", "publish.mail"} <= logs[weekly], logs[weekly]
        assert "prefect.flow_runs" in logs[daily], logs[daily]
