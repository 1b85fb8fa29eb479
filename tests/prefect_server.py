"""A real Prefect server on a PostgreSQL database of its own, and process workers, for team-mode tests and
the bench: the commands README "Team mode" gives an operator, run as subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests import lake_mode

BIN = Path(sys.executable).parent


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database (its name), dropped afterwards with whatever is still connected to it."""
    name = lake_mode.create_database()
    try:
        yield name
    finally:
        lake_mode.drop_database(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM (a worker then cancels nothing and exits), SIGKILL when it is still there after `grace` s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def prefect_server(home: Path, database: str, startup_timeout: float = 180.0) -> Iterator[tuple[str, dict]]:
    """`prefect server start` on `database`; yields its API URL and the environment clients need."""
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "false",
           "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"}
    env.pop("PREFECT_API_URL", None)
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server exited {proc.returncode}: {(home / 'server.log').read_text()}")
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server not up after {startup_timeout} s")
            time.sleep(0.5)
        client_env = {k: v for k, v in env.items() if k != "PREFECT_API_DATABASE_CONNECTION_URL"}
        yield api, client_env | {"PREFECT_API_URL": api}
    finally:
        stop(proc)
        log.close()


@contextmanager
def process_workers(pool: str, names: list[str], env: dict, cwd: Path) -> Iterator[list[subprocess.Popen]]:
    """`prefect worker start --pool POOL --name N --limit 1` for each name: one flow run at a time each,
    so two runs submitted together go to two workers."""
    procs = []
    try:
        for name in names:
            log = (cwd / f"worker-{name}.log").open("wb")
            procs.append(subprocess.Popen(
                [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--name", name, "--limit", "1"],
                env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            log.close()
        yield procs
    finally:
        for proc in procs:
            stop(proc)


def wait_for_workers(api: str, pool: str, names: list[str], timeout: float = 120.0) -> None:
    """Until every named worker has sent a heartbeat to the pool."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = {w["name"] for w in httpx.post(f"{api}/work_pools/{pool}/workers/filter", json={}).json()}
        if set(names) <= seen:
            return
        time.sleep(0.5)
    raise RuntimeError(f"workers {names} did not connect to pool {pool} in {timeout} s")
