"""The command line as an analyst uses it: real processes, real warehouse files."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, SAMPLE, acled_row, riskwatch_in_process, write_csv


def rw(*args: str, warehouse, stdin: str | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "riskwatch", "--warehouse", str(warehouse), *args], cwd=ROOT,
                          capture_output=True, text=True, input=stdin, timeout=timeout)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The sample ingested by the same command in this process (setup; the tests below run real processes)."""
    wh = tmp_path_factory.mktemp("cli") / "wh.duckdb"
    out = riskwatch_in_process(wh, "ingest", str(SAMPLE / "curated_pakistan_acled.csv"), "--source", "curated")
    assert out.exit_code == 0 and out.exception is None, out.output
    assert "success: read 97, inserted 97, updated 0, unchanged 0, rejected 0" in out.stdout
    return wh


def test_ingest_summary_rerun_and_refused_file(loaded, tmp_path):
    again = rw("ingest", str(SAMPLE / "curated_pakistan_acled.csv"), "--source", "curated", warehouse=loaded)
    assert again.returncode == 0 and "skipped: already ingested by run 1" in again.stdout
    bad = tmp_path / "not.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    refused = rw("ingest", str(bad), "--source", "acled", warehouse=loaded)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [f"error: {bad}: not a text file (binary content); expected a CSV"]
    assert "Traceback" not in refused.stderr


def test_ingest_reports_rejections_and_where_to_see_them(tmp_path):
    rows = [acled_row(event_id_cnty=f"PAK{i}") for i in range(9)] + [acled_row(event_id_cnty="X", latitude="99")]
    out = rw("ingest", str(write_csv(tmp_path / "a.csv", rows)), "--source", "acled", warehouse=tmp_path / "w.duckdb")
    assert out.returncode == 0
    assert "inserted 9, updated 0, unchanged 0, rejected 1" in out.stdout and "rejected_incidents" in out.stdout


def test_sql_formats_and_read_only(loaded):
    query = "SELECT source, count(*) AS n FROM incidents GROUP BY ALL"
    table = rw("sql", query, warehouse=loaded)
    assert table.returncode == 0 and "| curated | 97 |" in table.stdout and "(1 row)" in table.stdout
    assert rw("sql", query, "--format", "csv", warehouse=loaded).stdout.splitlines() == ["source,n", "curated,97"]
    assert json.loads(rw("sql", query, "--format", "json", warehouse=loaded).stdout) == [{"source": "curated", "n": 97}]
    write = rw("sql", "DELETE FROM incident_current", warehouse=loaded)
    assert write.returncode == 1 and "read-only" in write.stderr and "Traceback" not in write.stderr
    typo = rw("sql", "SELEC 1", warehouse=loaded)
    assert typo.returncode == 1 and typo.stderr.startswith("error: Parser Error")


def test_interactive_sql_reads_statements_until_semicolon(loaded):
    out = rw("sql", warehouse=loaded, stdin="SELECT count(*) AS n\nFROM incidents;\n.quit\n")
    assert out.returncode == 0 and "| 97 |" in out.stdout


@pytest.mark.embedded_only("a process holding the DuckDB file")
def test_reader_is_not_blocked_while_a_writer_holds_the_warehouse(loaded, tmp_path):
    from warehouse.snapshot import publish_snapshot

    publish_snapshot(loaded)
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(loaded)!r}); "
                               "print('open', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        start = time.monotonic()
        out = rw("sql", "SELECT count(*) AS n FROM incidents", warehouse=loaded)
        assert out.returncode == 0 and "| 97 |" in out.stdout, out.stderr
        assert time.monotonic() - start < 25
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.embedded_only("the read snapshot copy of the file")
def test_reader_without_snapshot_makes_one_while_no_riskwatch_writer_runs(tmp_path):
    wh = tmp_path / "w.duckdb"
    import duckdb

    duckdb.connect(str(wh)).close()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(wh)!r}); "
                               "print('open', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        out = rw("sql", "SELECT 1 AS one", warehouse=wh)
        assert out.returncode == 0 and "| 1   |" in out.stdout, out.stderr
        assert out.stderr == ""
    finally:
        holder.kill()
        holder.wait()


def test_every_command_has_an_example_in_its_help(tmp_path):
    from riskwatch.cli import cli

    for name, command in cli.commands.items():
        assert "Examples:" in (command.help or ""), name


def test_warehouse_option_works_after_the_command_too(loaded):
    out = subprocess.run([sys.executable, "-m", "riskwatch", "sql", "--warehouse", str(loaded),
                          "SELECT count(*) AS n FROM incidents"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "| 97 |" in out.stdout, out.stderr
