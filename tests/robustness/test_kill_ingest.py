"""Kill points of an ingest: a real `riskwatch ingest` process SIGKILLs itself at each phase of a load
(RISKWATCH_KILL_AT, warehouse/recovery.py), the warehouse is reopened, and it must be consistent: every run
is 'success' or undone, the incidents are exactly what the successful runs say, and ingesting again loads
everything exactly once (same rows as a warehouse that was never killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT, acled_row, clone_warehouse, riskwatch_in_process, write_csv
from warehouse import db

# The phases here are the embedded file's (WAL, half-replayed commits, copied warehouse files); a lake's
# commit is atomic: tests/warehouse/test_lake.py kills a lake writer while loading and after commit.
pytestmark = pytest.mark.embedded_only("the DuckDB file's WAL and commit phases")

PHASES = ["staged", "loading", "commit", "loaded", "published"]


def rw(*args, warehouse, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "RISKWATCH_KILL_AT": kill_at or ""}
    return subprocess.run([sys.executable, "-m", "riskwatch", "--warehouse", str(warehouse), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """v1: 3000 incidents; v2: 300 of them revised (newer timestamp) and 20000 new ones."""
    d = tmp_path_factory.mktemp("kill")
    v1 = write_csv(d / "v1.csv", [acled_row(event_id_cnty=f"PAK{i}") for i in range(3000)])
    rows = [acled_row(event_id_cnty=f"PAK{i}", fatalities="9", timestamp="1739000000") for i in range(300)]
    rows += [acled_row(event_id_cnty=f"NEW{i}", fatalities=str(i % 5)) for i in range(20000)]
    return v1, write_csv(d / "v2.csv", rows)


def ingest(wh, path) -> None:
    """An ingest that is not killed, by the same command in this process (only the killed one needs its own)."""
    done = riskwatch_in_process(wh, "ingest", str(path), "--source", "acled")
    assert done.exit_code == 0 and done.exception is None, done.output


@pytest.fixture(scope="module")
def after_v1(files, tmp_path_factory):
    """A warehouse holding v1 (cloned by each test: one ingest less per test)."""
    wh = tmp_path_factory.mktemp("v1") / "wh.duckdb"
    ingest(wh, files[0])
    return wh


def state(warehouse) -> dict:
    """What a consistent warehouse must agree on, read after the reopen (which runs recovery)."""
    con = db.connect(warehouse)
    try:
        q = lambda sql: con.execute(sql).fetchone()  # noqa: E731
        return {
            "unfinished": q("SELECT count(*) FROM ingest_runs WHERE status IN ('staging', 'loaded', 'running')")[0],
            "current": q("SELECT count(*) FROM incident_current")[0],
            "history": q("SELECT count(*) FROM incident_history")[0],
            "runs_inserted": q("SELECT coalesce(sum(inserted), 0) FROM ingest_runs WHERE status = 'success'")[0],
            "runs_updated": q("SELECT coalesce(sum(updated), 0) FROM ingest_runs WHERE status = 'success'")[0],
            "orphans": q("SELECT count(*) FROM incident_current c WHERE NOT EXISTS (SELECT 1 FROM ingest_runs r "
                         "WHERE r.run_id = c.ingest_run_id AND r.status = 'success')")[0],
            "content": q("SELECT count(DISTINCT incident_id), sum(fatalities), "
                         "count(*) FILTER (WHERE fatalities = 9) FROM incident_current")[0:3],
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def reference(files, after_v1, tmp_path_factory):
    """The state of a warehouse that was never killed: v1, then v2."""
    wh = clone_warehouse(after_v1, tmp_path_factory.mktemp("ref") / "wh.duckdb")
    ingest(wh, files[1])
    return state(wh)


def assert_consistent(s: dict) -> None:
    assert s["unfinished"] == 0
    assert s["orphans"] == 0
    assert s["current"] == s["runs_inserted"]
    assert s["history"] == s["runs_updated"]


@pytest.mark.parametrize("phase", PHASES)
def test_kill_at_each_phase_leaves_a_consistent_warehouse_and_a_rerun_loads_once(files, after_v1, reference, tmp_path,
                                                                                 phase):
    v2 = files[1]
    wh = tmp_path / "wh.duckdb"
    clone_warehouse(after_v1, wh)
    killed = rw("ingest", str(v2), "--source", "acled", warehouse=wh, kill_at=phase)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    after = state(wh)
    assert_consistent(after)
    if phase in ("loaded", "published"):   # the load's COMMIT was whole: recovery publishes it
        assert after == reference
    else:
        assert after["current"] == 3000 and after["history"] == 0
    ingest(wh, v2)
    final = state(wh)
    assert final == reference


def test_half_replayed_commit_is_undone(after_v1, tmp_path):
    """The state DuckDB's WAL replay can leave (tools/repro_wal_half_commit.py): the incidents of a load
    kept, the small rows of the same transaction (run status, archived versions) lost."""
    wh = tmp_path / "wh.duckdb"
    clone_warehouse(after_v1, wh)
    con = db.connect(wh)
    con.execute("INSERT INTO ingest_runs (run_id, file, source, started_at, status) VALUES "
                "(50, 'v2.csv', 'acled', TIMESTAMP '2026-01-01 10:00:00', 'staging')")
    for run in (50, 51):      # 51: rows whose ingest_runs row was lost altogether
        con.execute("INSERT INTO incident_current SELECT * REPLACE ('x' || incident_id || $run AS incident_id, "
                    "$run AS ingest_run_id, TIMESTAMP '2026-01-01 10:00:00' AS valid_from) "
                    "FROM incident_current WHERE ingest_run_id = 1", {"run": run})
    con.close()
    s = state(wh)
    assert_consistent(s)
    assert s["current"] == 3000
    con = db.connect(wh)
    assert con.execute("SELECT status, message FROM ingest_runs WHERE run_id = 50").fetchone()[0] == "failed"
    con.close()


def test_doctor_reports_the_repair(after_v1, tmp_path):
    wh = tmp_path / "wh.duckdb"
    clone_warehouse(after_v1, wh)
    con = db.connect(wh)
    con.execute("INSERT INTO ingest_runs (run_id, file, source, started_at, status) VALUES "
                "(60, 'v2.csv', 'acled', TIMESTAMP '2026-01-01 10:00:00', 'staging')")
    con.close()
    out = rw("doctor", warehouse=wh)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{wh}: 0 interrupted load(s) completed [], 1 undone [60]"
    assert rw("doctor", warehouse=wh).stdout.strip() == f"{wh}: no interrupted loads"
