"""Team mode's warehouse: a DuckLake with a PostgreSQL catalog (a real database made for this module).

Whatever backend the rest of the suite runs on, these tests run on lakes: migration from a file, time
travel, two writers at once, a killed writer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riskwatch.settings import Lake
from tests import lake_mode
from tests.conftest import ROOT, SAMPLE, acled_row, write_csv
from warehouse import db


@pytest.fixture(scope="module")
def catalog():
    name = lake_mode.create_database()
    yield lake_mode.catalog(name)
    lake_mode.drop_database(name)


def lake_env(catalog: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKWATCH_")}
    return {**env, "RISKWATCH_BACKEND": "ducklake", "RISKWATCH_CATALOG": catalog, **extra}


def rw(*args: str, warehouse: Path, env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "riskwatch", "--warehouse", str(warehouse), *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=300, **kw)


def lake_for(catalog: str, warehouse: Path) -> Lake:
    from riskwatch.settings import load_settings

    return load_settings(warehouse, environ=lake_env(catalog)).lake


def count(catalog: str, warehouse: Path, sql: str):
    con = db.connect(warehouse, read_only=True, lake=lake_for(catalog, warehouse))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def acled_file(path: Path, n: int, prefix: str) -> Path:
    return write_csv(path, [acled_row(event_id_cnty=f"{prefix}{i:06d}", event_date=f"2024-{1 + i % 12:02d}-"
                                      f"{1 + i % 28:02d}", fatalities=str(i % 5)) for i in range(n)])


def test_migrate_copies_every_table_and_the_lake_answers_the_same(catalog, tmp_path):
    wh = tmp_path / "embedded.duckdb"
    embedded = {**lake_env(catalog), "RISKWATCH_BACKEND": "duckdb"}
    for f, src in (("curated_pakistan_acled.csv", "curated"), ("ucdp_ged_pakistan.csv", "ucdp")):
        out = rw("ingest", str(SAMPLE / f), "--source", src, warehouse=wh, env=embedded)
        assert out.returncode == 0, out.stderr
    query = "SELECT source, count(*) FROM incidents GROUP BY ALL ORDER BY 1"
    before = rw("sql", "--format", "csv", query, warehouse=wh, env=embedded).stdout
    out = rw("warehouse", "migrate", "--to", "ducklake", "--metadata-schema", "migrated",
             "--data-path", str(tmp_path / "lake"), warehouse=wh, env=embedded)
    assert out.returncode == 0, out.stderr
    assert "MISMATCH" not in out.stdout and "incident_current" in out.stdout
    team = lake_env(catalog, RISKWATCH_METADATA_SCHEMA="migrated", RISKWATCH_DATA_PATH=str(tmp_path / "lake"))
    after = rw("sql", "--format", "csv", query, warehouse=wh, env=team)
    assert after.returncode == 0, after.stderr
    assert after.stdout == before and "ucdp,5834" in after.stdout
    ids = rw("sql", "--format", "csv", "SELECT name, value FROM id_counters WHERE name = 'ingest_runs'",
             warehouse=wh, env=team)
    assert "ingest_runs,2" in ids.stdout      # the counters came along: the next run is 3, not 1
    again = rw("warehouse", "migrate", "--to", "ducklake", "--metadata-schema", "migrated",
               "--data-path", str(tmp_path / "lake"), warehouse=wh, env=embedded)
    assert again.returncode == 1 and "already holds data" in again.stderr


def test_time_travel_reads_the_lake_as_it_was(catalog, tmp_path):
    wh, env = tmp_path / "tt", lake_env(catalog)
    assert rw("ingest", str(SAMPLE / "curated_pakistan_acled.csv"), "--source", "curated", warehouse=wh,
              env=env).returncode == 0
    snap = count(catalog, wh, "SELECT max(snapshot_id) FROM ducklake_snapshots('lake')")[0][0]
    time.sleep(1.1)
    between = count(catalog, wh, "SELECT CAST(now() AS TIMESTAMP)")[0][0].isoformat(sep=" ")
    assert rw("ingest", str(SAMPLE / "ucdp_ged_pakistan.csv"), "--source", "ucdp", warehouse=wh,
              env=env).returncode == 0
    q = "SELECT count(*) AS n FROM incidents"
    now = rw("sql", "--format", "csv", q, warehouse=wh, env=env)
    past = rw("sql", "--format", "csv", "--snapshot", str(snap), q, warehouse=wh, env=env)
    at = rw("sql", "--format", "csv", "--at", between, q, warehouse=wh, env=env)
    assert now.stdout.split() == ["n", "5931"]
    assert past.stdout.split() == ["n", "97"] and at.stdout.split() == ["n", "97"], (past.stderr, at.stderr)
    assert f"snapshot {snap}" in past.stderr
    bad = rw("sql", "--at", "yesterday", q, warehouse=wh, env=env)
    assert bad.returncode == 1 and "is not a timestamp" in bad.stderr
    embedded = rw("sql", "--snapshot", "1", q, warehouse=tmp_path / "f.duckdb",
                  env={**env, "RISKWATCH_BACKEND": "duckdb"})
    assert embedded.returncode == 1 and "need [warehouse] backend = 'ducklake'" in embedded.stderr


def test_two_ingests_at_once_both_commit(catalog, tmp_path):
    wh, env = tmp_path / "two", lake_env(catalog)
    assert rw("ingest", str(SAMPLE / "curated_pakistan_acled.csv"), "--source", "curated", warehouse=wh,
              env=env).returncode == 0     # the lake exists: both writers race on data, not on creating it
    files = [acled_file(tmp_path / f"{p}.csv", 4000, p) for p in ("AAA", "BBB")]
    procs = [subprocess.Popen([sys.executable, "-m", "riskwatch", "--warehouse", str(wh), "ingest", str(f),
                               "--source", "acled"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for f in files]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    runs = count(catalog, wh, "SELECT run_id, status, inserted, started_at, finished_at FROM ingest_runs "
                              "WHERE source = 'acled' ORDER BY run_id")
    assert [(r[1], r[2]) for r in runs] == [("success", 4000), ("success", 4000)]
    assert len({r[0] for r in runs}) == 2
    assert runs[0][3] < runs[1][4] and runs[1][3] < runs[0][4]     # they ran at the same time
    assert count(catalog, wh, "SELECT count(*), count(DISTINCT incident_id) FROM incidents "
                              "WHERE source = 'acled'") == [(8000, 8000)]


@pytest.mark.parametrize("phase", ["loading", "loaded"])
def test_a_killed_lake_writer_leaves_no_visible_partial_state(catalog, tmp_path, phase):
    wh, env = tmp_path / f"kill_{phase}", lake_env(catalog)
    data = acled_file(tmp_path / "k.csv", 500, "KKK")
    killed = rw("ingest", str(data), "--source", "acled", warehouse=wh, env={**env, "RISKWATCH_KILL_AT": phase})
    assert killed.returncode == -9
    visible = count(catalog, wh, "SELECT count(*) FROM incidents")[0][0]
    assert visible in ((0,) if phase == "loading" else (0, 500))    # never a part of the file
    again = rw("ingest", str(data), "--source", "acled", warehouse=wh, env=env)
    assert again.returncode == 0, again.stderr
    assert count(catalog, wh, "SELECT count(*), count(DISTINCT incident_id) FROM incidents") == [(500, 500)]
    statuses = count(catalog, wh, "SELECT status FROM ingest_runs ORDER BY run_id")
    assert statuses[-1] == ("success",) or statuses[-1][0].startswith("skipped")
    assert all(s[0] in ("success", "failed", "skipped") for s in statuses), statuses


def test_a_lake_without_catalog_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKWATCH_")}
    out = rw("sql", "SELECT 1", warehouse=tmp_path / "x", env={**env, "RISKWATCH_BACKEND": "ducklake"})
    assert out.returncode == 1 and "needs [warehouse] catalog" in out.stderr and "Traceback" not in out.stderr


def test_extension_signatures_are_checked_once_per_process_and_again_when_a_file_changes(catalog, tmp_path,
                                                                                          monkeypatch):
    from warehouse import lake

    target = lake_for(catalog, tmp_path / "wh.duckdb")
    monkeypatch.setattr(lake, "_VERIFIED", set())
    unsigned = "SELECT current_setting('allow_unsigned_extensions')"
    first = lake.connect(target)
    second = lake.connect(target)
    try:
        assert first.execute(unsigned).fetchone()[0] is False      # this process's first load: checked
        assert second.execute(unsigned).fetchone()[0] is True      # the same files again: not re-checked
    finally:
        first.close()
        second.close()
    real = lake._stamp
    monkeypatch.setattr(lake, "_stamp", lambda folder, lk: tuple((p, size + 1, t) for p, size, t in real(folder, lk)))
    changed = lake.connect(target)                                 # a file of another size: checked again
    try:
        assert changed.execute(unsigned).fetchone()[0] is False
    finally:
        changed.close()
