"""The maintenance flow on a real lake (PostgreSQL catalog made for the test, Parquet files in tmp): several
small ingests leave small files, delete files and snapshots; the flow merges, expires (retention 0 days) and
deletes the unused files, the numbers in its artifact; the data read the same. On the embedded file it
checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import lake_mode
from tests.conftest import acled_row, write_csv
from warehouse import db


def parquet_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.parquet"))


def batches(tmp_path: Path, count: int, rows: int) -> list[tuple[str, str]]:
    """`count` ACLED exports of `rows` events each (more than DuckLake inlines in its catalog), the last one
    revising the first file's events (upserts leave delete files)."""
    files = []
    for b in range(count):
        first = 0 if b == count - 1 else b * rows
        events = [acled_row(event_id_cnty=f"PAK{900000 + first + i}", fatalities=str(b + 1),
                            timestamp=str(1728500000 + b)) for i in range(rows)]
        files.append((str(write_csv(tmp_path / f"acled-{b}.csv", events)), "acled"))
    return files


@pytest.fixture
def lake_env(tmp_path, monkeypatch):
    name = lake_mode.create_database()
    config = tmp_path / "riskwatch.toml"
    config.write_text("[maintenance]\nsnapshot_retention_days = 0\nfile_grace_hours = 0\n")
    monkeypatch.setenv("RISKWATCH_BACKEND", "ducklake")
    monkeypatch.setenv("RISKWATCH_CATALOG", lake_mode.catalog(name))
    monkeypatch.setenv("RISKWATCH_DATA_PATH", str(tmp_path / "lake-data"))
    monkeypatch.setenv("RISKWATCH_CONFIG", str(config))
    try:
        yield tmp_path
    finally:
        lake_mode.drop_database(name)


def test_maintenance_on_a_lake_merges_expires_and_deletes(prefect_harness, lake_env):
    from prefect.artifacts import Artifact

    from flows.pipeline import ingest, maintenance

    wh = str(lake_env / "wh.duckdb")
    loaded = ingest(wh, batches(lake_env, 4, 40))
    assert [r["status"] for r in loaded] == ["success"] * 4, loaded
    con = db.connect(wh, read_only=True)
    try:
        before = con.execute("SELECT count(*), sum(fatalities) FROM incident_current").fetchone()
        first_snapshot = con.execute("SELECT min(snapshot_id) FROM ducklake_snapshots('lake')").fetchone()[0]
    finally:
        con.close()
    on_disk_before = parquet_files(lake_env / "lake-data")

    done = maintenance(wh)

    assert done["backend"] == "ducklake"
    assert done["snapshots_expired"] >= 4 and done["snapshots_after"] < done["snapshots_before"]
    assert done["files_merged"] >= 2 and done["files_merged_into"] < done["files_merged"]
    assert done["rows_flushed"] > 0    # small batches (ingest runs, history) sat inlined in the catalog
    assert done["files_deleted"] >= 2 and done["bytes_deleted"] > 0
    gone = set(on_disk_before) - set(parquet_files(lake_env / "lake-data"))
    assert 2 <= len(gone) <= done["files_deleted"]       # merged-away files left the data path (grace 0 h)
    con = db.connect(wh, read_only=True)
    try:
        assert con.execute("SELECT count(*), sum(fatalities) FROM incident_current").fetchone() == before
    finally:
        con.close()
    with pytest.raises(Exception, match="(?i)snapshot"):   # expired: time travel no longer reaches it
        db.connect(wh, snapshot_version=first_snapshot).execute("SELECT count(*) FROM incidents").fetchone()
    report = Artifact.get("riskwatch-maintenance").data
    assert f"| expire snapshots | {done['snapshots_expired']:,} expired |" in report
    assert f"{done['files_deleted']:,} file(s), {done['bytes_deleted']:,} bytes deleted" in report

    again = maintenance(wh)   # nothing left to flush or merge
    assert (again["rows_flushed"], again["files_merged"]) == (0, 0)


@pytest.mark.embedded_only("the embedded file's CHECKPOINT")
def test_maintenance_on_the_embedded_file_checkpoints(prefect_harness, tmp_path, monkeypatch):
    from flows.pipeline import ingest, maintenance

    monkeypatch.delenv("RISKWATCH_BACKEND", raising=False)
    wh = tmp_path / "wh.duckdb"
    ingest(str(wh), batches(tmp_path, 1, 5))
    done = maintenance(str(wh))
    assert done["backend"] == "duckdb" and "CHECKPOINT" in done["note"]
    assert (done["snapshots_expired"], done["files_deleted"]) == (0, 0)
    assert done["bytes_after"] == wh.stat().st_size and not Path(f"{wh}.wal").exists()
