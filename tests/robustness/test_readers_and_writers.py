"""Readers never break writers: they read a snapshot every writer refreshes; a writer finding the file
held waits with backoff up to [warehouse] busy_timeout_seconds, then names the holder. Real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import duckdb
import pytest

from tests.conftest import ROOT, SAMPLE, acled_row, riskwatch_in_process, write_csv

# On a lake there is no file to hold, lock or copy: tests/warehouse/test_lake.py has its readers and writers.
pytestmark = pytest.mark.embedded_only("readers, writers and the DuckDB file's lock and snapshot")


def rw(*args, warehouse, config=None, **kw) -> subprocess.CompletedProcess:
    extra = ["--config", str(config)] if config else []
    return subprocess.run([sys.executable, "-m", "riskwatch", "--warehouse", str(warehouse), *extra, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, **kw)


def ingest_sample(wh) -> None:
    """Setup, not the subject: the sample ingested by the same command in this process (it publishes the read
    snapshot when it ends, as the process does)."""
    done = riskwatch_in_process(wh, "ingest", str(SAMPLE / "curated_pakistan_acled.csv"), "--source", "curated")
    assert done.exit_code == 0 and done.exception is None, done.output


def config_with_timeout(tmp_path, seconds: float):
    cfg = tmp_path / "riskwatch.toml"
    cfg.write_text(f"[warehouse]\nbusy_timeout_seconds = {seconds}\n")
    return cfg


def test_open_sql_prompt_does_not_break_an_ingest_and_readers_see_its_result(tmp_path):
    wh = tmp_path / "wh.duckdb"
    ingest_sample(wh)
    prompt = subprocess.Popen([sys.executable, "-m", "riskwatch", "--warehouse", str(wh), "sql"], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        prompt.stdin.write("SELECT count(*) AS n FROM incidents;\n")
        prompt.stdin.flush()
        while "| 97 |" not in prompt.stdout.readline():
            pass
        # The prompt is open with its data read: before, this ingest failed (WarehouseBusy) until it quit.
        more = write_csv(tmp_path / "more.csv", [acled_row(event_id_cnty=f"PAK9{i}") for i in range(5)])
        out = rw("ingest", str(more), "--source", "acled", warehouse=wh)
        assert out.returncode == 0, out.stderr
        assert "inserted 5" in out.stdout
        prompt.stdin.write("SELECT count(*) AS n FROM incidents;\n.quit\n")
        prompt.stdin.flush()
        rest, err = prompt.communicate(timeout=60)
        assert "| 97 |" in rest      # the open prompt keeps the snapshot it opened
        assert "Traceback" not in err
    finally:
        prompt.kill()
        prompt.wait()
    after = rw("sql", "SELECT count(*) AS n FROM incidents", warehouse=wh)   # the CLI ingest published
    assert after.returncode == 0 and "| 102 |" in after.stdout, after.stderr
    assert not list(tmp_path.glob("wh.duckdb.reader-*.tmp"))                 # readers' spill folders gone


def test_reader_during_a_writer_reads_the_last_snapshot_and_says_how_old(tmp_path):
    from warehouse.lock import writer_lock

    wh = tmp_path / "wh.duckdb"
    ingest_sample(wh)
    with writer_lock(wh):      # a run in progress that has written since the last snapshot
        con = duckdb.connect(str(wh))
        con.execute("DELETE FROM incident_current WHERE source_event_id LIKE '%1'")
        con.close()
        out = rw("sql", "SELECT count(*) AS n FROM incidents", warehouse=wh)
    assert out.returncode == 0 and "| 97 |" in out.stdout, out.stderr
    note, = out.stderr.strip().splitlines()
    assert note.startswith("note: data as of ") and f"(read snapshot of {wh}, 0 min old)" in note
    assert note.endswith("a writer is running: its changes show when it finishes")


def _hold(wh, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(wh)!r}); "
                               f"print('open', flush=True); time.sleep({seconds}); c.close()"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "open"
    return holder


def test_writer_waits_for_a_short_holder(tmp_path):
    wh = tmp_path / "wh.duckdb"
    duckdb.connect(str(wh)).close()
    holder = _hold(wh, 2)
    try:
        out = rw("ingest", str(SAMPLE / "curated_pakistan_acled.csv"), "--source", "curated", warehouse=wh,
                 config=config_with_timeout(tmp_path, 120))
        assert out.returncode == 0, out.stderr     # before: WarehouseBusy at once
        assert "inserted 97" in out.stdout
    finally:
        holder.kill()
        holder.wait()


def test_writer_gives_up_after_the_timeout_naming_the_holder(tmp_path):
    wh = tmp_path / "wh.duckdb"
    duckdb.connect(str(wh)).close()
    holder = _hold(wh, 60)
    try:
        start = time.monotonic()
        out = rw("ingest", str(SAMPLE / "curated_pakistan_acled.csv"), "--source", "curated", warehouse=wh,
                 config=config_with_timeout(tmp_path, 1.5))
        waited = time.monotonic() - start
        assert out.returncode == 1 and "Traceback" not in out.stderr
        line, = out.stderr.strip().splitlines()
        assert line.startswith(f"error: warehouse {wh} is held by PID {holder.pid} (")
        assert "import duckdb, time" in line and "after waiting 1.5 s" in line
        assert waited > 1.0
    finally:
        holder.kill()
        holder.wait()


def test_second_riskwatch_writer_names_the_first(tmp_path):
    from warehouse.lock import writer_lock

    wh = tmp_path / "wh.duckdb"
    with writer_lock(wh):
        out = rw("ingest", str(SAMPLE / "curated_pakistan_acled.csv"), "--source", "curated", warehouse=wh,
                 config=config_with_timeout(tmp_path, 0.5))
    assert out.returncode == 1
    assert f"another riskwatch writer, PID {os.getpid()} (" in out.stderr and "after waiting 0.5 s" in out.stderr


def test_writer_start_removes_what_killed_processes_left(tmp_path):
    wh = tmp_path / "wh.duckdb"
    ingest_sample(wh)
    spill = tmp_path / "wh.duckdb.tmp"           # DuckDB's spill folder of a killed refresh
    spill.mkdir()
    (spill / "duckdb_temp_storage_S32K-0.tmp").write_bytes(b"\0" * 4096)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    reader_dir = tmp_path / f"wh.duckdb.reader-{dead.stdout.strip()}.tmp"   # a reader that is gone
    reader_dir.mkdir()
    (reader_dir / "spill.tmp").write_bytes(b"x")
    live_dir = tmp_path / f"wh.duckdb.reader-{os.getpid()}.tmp"             # a reader still running
    live_dir.mkdir()
    half_copy = tmp_path / "wh.duckdb.snapshot.tmp"
    half_copy.write_bytes(b"\0" * 4096)
    out = rw("indicators", "--as-of", "2024-11-10", warehouse=wh)
    assert out.returncode == 0, out.stderr
    assert list(spill.iterdir()) == [] and not reader_dir.exists() and not half_copy.exists()
    assert live_dir.exists()
