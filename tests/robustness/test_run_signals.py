"""A `riskwatch run` ended by SIGTERM or SIGINT stops the temporary Prefect server it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from warehouse.lock import writer_lock


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_temporary_prefect_server(tmp_path, sig):
    wh = tmp_path / "wh.duckdb"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300")
    with writer_lock(wh):   # the run waits for this lock inside its flow: the server is up, the run is busy
        run = subprocess.Popen([sys.executable, "-m", "riskwatch", "--warehouse", str(wh), "run", "--no-report"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            server = None
            deadline = time.monotonic() + 180
            while server is None and time.monotonic() < deadline and run.poll() is None:
                server = next((c for c in children(run.pid) if "prefect.server.api.server" in cmdline(c)), None)
                time.sleep(0.2)
            assert server is not None, "no temporary Prefect server seen"
            time.sleep(3)                      # let the flow reach the lock
            assert run.poll() is None
            run.send_signal(sig)
            run.wait(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    assert run.returncode != 0
    for _ in range(50):
        if not alive(server):
            break
        time.sleep(0.1)
    assert not alive(server), f"temporary Prefect server {server} still running"
