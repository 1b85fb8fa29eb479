"""`riskwatch sql` as an attacker uses it: every way to write a file or change the warehouse is refused,
by the statement classifier (DuckDB's parser) and, behind it, by the locked-down session.

Each attempt runs through the real CLI on a real warehouse file; after each one the warehouse's bytes,
the folder around it and the files elsewhere are compared with before: 0 allowed writes.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from riskwatch.cli import cli
from tests.conftest import ROOT, acled_row, write_csv
from validation.ingest import ingest_file
from warehouse import db
from warehouse.query import NotReadOnly, lock_down, read_statements, run_query
from warehouse.snapshot import publish_snapshot

# {wh}: the warehouse file, {dir}: a folder beside it, {other}: another DuckDB file there.
ESCAPES = [
    "COPY (SELECT 'x') TO '{wh}' (FORMAT csv)",
    "COPY (SELECT 'x') TO '{dir}/out.csv'",
    "COPY incident_current TO '{dir}/dump.parquet' (FORMAT parquet)",
    "copy (select 1) to '{dir}/lower.csv'",
    "/* harmless */ COPY (SELECT 1) TO '{dir}/commented.csv'",
    "EXPORT DATABASE '{dir}/export'",
    "EXPORT DATABASE '{dir}/export_parquet' (FORMAT parquet)",
    "SELECT 1; COPY (SELECT 1) TO '{dir}/smuggled.csv'",
    "COPY (SELECT 1) TO '{dir}/first.csv'; SELECT 42",
    "SELECT 1; SELECT 2; DROP VIEW incidents",
    "ATTACH '{other}' AS o; CREATE TABLE o.t AS SELECT 1",
    "ATTACH '{wh}' AS w2 (READ_WRITE)",
    "ATTACH '{dir}/new.duckdb' AS n",
    "COPY FROM DATABASE memory TO o",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "RESET enable_external_access",
    "SET profiling_output = '{dir}/profile.json'",
    "PRAGMA enable_profiling = 'json'",
    "PRAGMA profiling_output = '{dir}/profile.json'",
    "SET temp_directory = '{dir}/spill'",
    "SET VARIABLE v = 1",
    "CALL checkpoint()",
    "CHECKPOINT",
    "VACUUM",
    "CREATE MACRO leak() AS 1",
    "CREATE TEMP TABLE t AS SELECT 1",
    "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')",
    "INSERT INTO incident_current (incident_id) VALUES ('x')",
    "DELETE FROM incident_current",
    "UPDATE ingest_runs SET status = 'x'",
    "DROP TABLE incident_current",
    "BEGIN TRANSACTION",
    "EXPLAIN ANALYZE COPY (SELECT 1) TO '{dir}/explained.csv'",
    "EXPLAIN (FORMAT json) COPY (SELECT 1) TO '{dir}/explained2.csv'",
    "SELECT * FROM query('COPY (SELECT 1) TO ''{dir}/via_query.csv''')",
    "DETACH riskwatch",
    "USE memory",
    "SELECT * FROM read_csv('{dir}/secret.csv')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/etc/*')",
]

READS = [
    "SELECT count(*) AS n FROM incidents",
    "WITH x AS (SELECT source FROM incidents) SELECT count(*) FROM x",
    "FROM incidents SELECT incident_id LIMIT 1",
    "VALUES (1, 'a')",
    "DESCRIBE incidents",
    "SHOW TABLES",
    "SUMMARIZE incidents",
    "EXPLAIN SELECT * FROM incidents",
    "EXPLAIN ANALYZE SELECT count(*) FROM incidents",
    "PRAGMA show_tables",
    "SELECT 1; SELECT count(*) AS n FROM incidents",
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sql")
    wh = root / "wh" / "riskwatch.duckdb"
    con = db.connect(wh)
    ingest_file(con, write_csv(root / "a.csv", [acled_row(event_id_cnty=f"PAK{i}") for i in range(3)]), "acled")
    con.close()
    publish_snapshot(wh)   # as every CLI writer does: readers read it (else the first read would create it)
    (wh.parent / "files").mkdir()
    (wh.parent / "files" / "secret.csv").write_text("a,b\n1,2\n")
    duckdb.connect(str(wh.parent / "files" / "other.duckdb")).close()
    return wh


def state(wh: Path) -> dict:
    """Every file under the warehouse's folder (and /tmp's top level) with its content hash."""
    files = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in wh.parent.rglob("*") if p.is_file()}
    files.update({str(p): None for p in Path("/etc").glob("hostname*")})
    return files


def sql(wh: Path, query: str):
    return CliRunner().invoke(cli, ["--warehouse", str(wh), "sql", query])


@pytest.mark.parametrize("template", ESCAPES)
def test_escape_is_refused_with_one_line_and_writes_nothing(warehouse, template):
    files = warehouse.parent / "files"
    query = template.format(wh=warehouse, dir=files, other=files / "other.duckdb")
    before = state(warehouse)
    out = sql(warehouse, query)
    assert out.exit_code == 1, out.output
    assert out.stdout == "" and len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error: ")
    assert out.exception is None or isinstance(out.exception, SystemExit)
    assert state(warehouse) == before
    check = sql(warehouse, "SELECT count(*) AS n FROM incidents")
    assert check.exit_code == 0 and "| 3 |" in check.stdout


@pytest.mark.parametrize("query", READS)
def test_reads_still_work(warehouse, query):
    before = state(warehouse)
    out = sql(warehouse, query)
    assert out.exit_code == 0, out.output
    assert out.stdout.strip() and state(warehouse) == before


def test_classifier_names_the_refused_statement_and_runs_nothing(warehouse, tmp_path):
    with pytest.raises(NotReadOnly, match="read-only: statement 2 of 2 is COPY .*nothing was run"):
        read_statements(f"SELECT 1; COPY (SELECT 1) TO '{tmp_path}/x.csv'")
    con = db.connect(warehouse, read_only=True)
    try:
        with pytest.raises(NotReadOnly):
            run_query(con, "CREATE TEMP TABLE t AS SELECT 1; SELECT 2")
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0] == 0
    finally:
        con.close()


def test_locked_session_refuses_file_access_even_without_the_classifier(warehouse, tmp_path):
    """The second wall: a front-end that forgot read_statements still cannot write or read files."""
    con = lock_down(db.connect(warehouse, read_only=True))
    try:
        for attempt in (f"COPY (SELECT 1) TO '{tmp_path}/x.csv'", f"EXPORT DATABASE '{tmp_path}/e'",
                        "SET enable_external_access = true", f"ATTACH '{tmp_path}/n.duckdb'"):
            with pytest.raises(duckdb.Error):
                con.execute(attempt)
        assert list(tmp_path.iterdir()) == []
        assert lock_down(con).execute("SELECT count(*) FROM incidents").fetchone()[0] == 3
    finally:
        con.close()


def test_interactive_prompt_refuses_and_goes_on(warehouse):
    target = warehouse.parent / "files" / "prompt.csv"
    out = subprocess.run([sys.executable, "-m", "riskwatch", "--warehouse", str(warehouse), "sql"], cwd=ROOT,
                         input=f"COPY (SELECT 1) TO '{target}';\nSELECT count(*) AS n FROM incidents;\n.quit\n",
                         capture_output=True, text=True, timeout=120)
    # Piped, it runs as a script: the refused statement is reported, the next one still runs, exit 1 (issue 17).
    assert out.returncode == 1 and "| 3 |" in out.stdout
    assert "read-only: the statement is COPY" in out.stderr and "Traceback" not in out.stderr
    assert not target.exists()
