"""The bad-input corpus, generated here: every bad row is a named rejection, every bad file or argument a
one-line error; never a traceback, never a change to the warehouse beyond the run's own record.

Everything runs through the real CLI (click's runner, in-process) on real warehouse files.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from riskwatch.cli import cli
from tests.conftest import ACLED_COLUMNS, SAMPLE, acled_row, write_csv
from warehouse import db

# (row overrides, reason fragment): each is one bad ACLED row among good ones.
ACLED_ROWS = [
    ({"timestamp": "abc"}, "(source_updated_at): unparseable revision time 'abc'"),
    ({"timestamp": "-1"}, "(source_updated_at): unparseable revision time '-1'"),
    ({"timestamp": "1.5e9"}, "(source_updated_at): unparseable revision time '1.5e9'"),
    ({"timestamp": "99999999999999"}, "(source_updated_at): unparseable revision time '99999999999999'"),
    ({"timestamp": "99999999999"}, "(source_updated_at): impossible revision time 99999999999"),
    ({"event_id_cnty": "\t"}, "(source_event_id): id \"\\t\" is blank or holds a control character"),
    ({"event_id_cnty": ""}, "(source_event_id): missing id"),
    ({"notes": "NUL \x00 inside"}, "(_nul_columns): NUL byte in notes"),
    ({"fatalities": "99999999999"}, "(fatalities): fatalities 99999999999 out of range"),
    ({"fatalities": "many"}, "(fatalities): fatalities 'many' is not a number"),
    ({"fatalities": "-1"}, "(fatalities): negative fatalities -1"),
    ({"fatalities": "2.5"}, "(fatalities): fatalities 2.5 is not a whole number"),
    ({"latitude": "abc"}, "(latitude): latitude 'abc' is not a number"),
    ({"latitude": "124.5"}, "(latitude): latitude 124.5 out of range"),
    ({"latitude": "nan"}, "(latitude): latitude 'nan' is not a number"),
    ({"longitude": "200"}, "(longitude): longitude 200 out of range"),
    ({"event_date": "yesterday"}, "(event_date): unparseable or missing date 'yesterday'"),
    ({"event_date": "2999-01-01"}, "(event_date): impossible date 2999-01-01"),
    ({"event_date": "1850-01-01"}, "(event_date): impossible date 1850-01-01"),
    ({"country": "Atlantis"}, "(country): unknown country 'Atlantis'"),
    ({"country": ""}, "(country): missing country"),
    ({"geo_precision": "99999999999"}, "(geo_precision): geo_precision 99999999999 out of range"),
    ({"time_precision": "abc"}, "(date_precision): date_precision 'abc' is not a number"),
]
# Native JSON records (merged into a good record).
NATIVE_ROWS = [
    ({"notes": "a\u0000b"}, "(_nul_columns): NUL byte in notes"),
    ({"source_updated_at": "soon"}, "(source_updated_at): unparseable revision time 'soon'"),
    ({"fatalities_high": "1e12"}, "(fatalities_high): fatalities_high 1e12 out of range"),
    ({"date_end": "2024-10-01"}, "(date_end): end date 2024-10-01 before start date"),
    ({"date_end": "x"}, "(date_end): unparseable end date 'x'"),
    ({"geo_precision": "abc"}, "(geo_precision): geo_precision 'abc' is not a number"),
    ({"latitude": "91"}, "(latitude): latitude 91 out of range"),
    ({"event_date": "2024-02-30"}, "(event_date): unparseable or missing date '2024-02-30'"),
    ({"country": "Narnia"}, "(country): unknown country 'Narnia'"),
    ({"source_event_id": "   "}, "(source_event_id): missing id"),
]
# UCDP GED rows (old schema, from the bundled sample).
UCDP_ROWS = [
    ({"best_est": "abc"}, "(fatalities): fatalities 'abc' is not a number"),
    ({"date_start": "13/45/2020 00:00:00"}, "(event_date): unparseable or missing date '13/45/2020 00:00:00'"),
    ({"latitude": "95"}, "(latitude): latitude 95 out of range"),
    ({"id": "\t"}, "(source_event_id): id \"\\t\" is blank or holds a control character"),
    ({"low_est": "100000000000"}, "(fatalities_low): fatalities_low 100000000000 out of range"),
    ({"where_prec": "2.5"}, "(geo_precision): geo_precision 2.5 is not a whole number"),
    ({"date_prec": "-1"}, "(date_precision): date_precision -1 out of range"),
]
MALFORMED_ROW = "MALFORMED1,2024-10-06,too,few,fields"


def rw(warehouse: Path, *args: str):
    return CliRunner().invoke(cli, ["--warehouse", str(warehouse), *args])


def no_traceback(out) -> None:
    assert out.exception is None or isinstance(out.exception, SystemExit), repr(out.exception)


def warehouse_state(wh: Path) -> dict:
    """What a bad input must not change (ingest_runs may gain the run's own 'refused' record)."""
    try:
        con = db.connect(wh, read_only=True)
    except db.WarehouseMissing:
        return {}
    try:
        tables = ("incident_current", "incident_history", "rejected_rows", "reports", "notifications")
        return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}
    finally:
        con.close()


def _acled_file(path: Path) -> tuple[Path, list[str]]:
    good = [acled_row(event_id_cnty=f"PAK{i}") for i in range(80)]
    bad = [acled_row(**{"event_id_cnty": f"BAD{i}", **o}) for i, (o, _) in enumerate(ACLED_ROWS)]
    write_csv(path, good + bad)
    with path.open("a", newline="") as fh:
        fh.write(MALFORMED_ROW + "\r\n")
    return path, [r for _, r in ACLED_ROWS] + ["malformed CSV row"]


def _native_file(path: Path) -> tuple[Path, list[str]]:
    base = {"event_date": "2024-10-06", "country": "Pakistan", "source_updated_at": "2024-10-07T10:00:00"}
    good = [{**base, "source_event_id": f"N{i}"} for i in range(32)]
    bad = [{**base, "source_event_id": f"NB{i}", **o} for i, (o, _) in enumerate(NATIVE_ROWS)]
    path.write_text(json.dumps(good + bad))
    return path, [r for _, r in NATIVE_ROWS]


def _ucdp_file(path: Path) -> tuple[Path, list[str]]:
    with (SAMPLE / "ucdp_ged_pakistan.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [row for _, row in zip(range(25), reader, strict=False)]
    bad = [{**rows[i], **o} for i, (o, _) in enumerate(UCDP_ROWS)]
    write_csv(path, rows[len(UCDP_ROWS):] + bad + [{**r, "id": f"9{r['id']}"} for r in rows[:len(UCDP_ROWS)]])
    return path, [r for _, r in UCDP_ROWS]


ROW_FILES = {"acled": (_acled_file, "a.csv"), "native": (_native_file, "n.json"), "ucdp": (_ucdp_file, "u.csv")}


@pytest.mark.parametrize("source", list(ROW_FILES))
def test_every_bad_row_is_a_named_rejection_and_only_good_rows_load(tmp_path, source):
    build, name = ROW_FILES[source]
    path, reasons = build(tmp_path / name)
    wh = tmp_path / "wh.duckdb"
    out = rw(wh, "ingest", str(path), "--source", source, "--as-of", "2025-12-31")
    no_traceback(out)
    assert out.exit_code == 0, out.output
    assert f"rejected {len(reasons)}" in out.stdout
    con = db.connect(wh, read_only=True)
    try:
        got = [r for (r,) in con.execute("SELECT reason FROM rejected_incidents ORDER BY line").fetchall()]
        loaded = {r for (r,) in con.execute("SELECT source_event_id FROM incident_current").fetchall()}
    finally:
        con.close()
    assert len(got) == len(reasons)
    for reason in reasons:
        assert sum(reason in g for g in got) == 1, (reason, got)
    # Only the good rows: ACLED PAK*, native N*, UCDP the sample's rows (the bad ones' ids were renamed 9*).
    assert len(loaded) == {"acled": 80, "native": 32, "ucdp": 25}[source]
    assert not {i for i in loaded if i.startswith(("BAD", "NB", "MALFORMED"))}


def _bad_files(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (CLI arguments after --warehouse, fragment of the one-line error)."""
    header = ",".join(ACLED_COLUMNS)
    rows = [acled_row(event_id_cnty=f"F{i}") for i in range(3)]
    good = write_csv(tmp / "good.csv", rows).read_text()
    lines = good.split("\r\n")
    files = {
        "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
        "empty": (b"", "the file is empty"),
        "blank": (b"  \n\n ", "the file is empty"),
        "missing_columns": (good.replace("latitude,", "lat,").encode(), "missing required column(s) latitude"),
        "duplicate_header": ((header + ",notes\r\n").encode(), "notes appear more than once"),
        "case_duplicate_header": ((header + ",Notes\r\n").encode(), "Notes appear more than once"),
        "mixed_line_endings": ((lines[0] + "\n" + "\r\n".join(lines[1:3]) + "\r" + "\n".join(lines[3:])).encode(),
                               "cannot be read as CSV"),
        "header_field_over_128k": (("a," + "x" * 140_000 + "\n1,2\n").encode(), "not a CSV file"),
        "one_column": (b"hello\nworld\n", "not a CSV file"),
        "utf16": (good.encode("utf-16"), "not a text file"),
        "gzip": (gzip.compress(good.encode()), "not a text file"),
        "too_many_rejects": (write_csv(tmp / "r.csv", [acled_row(event_id_cnty=f"R{i}", latitude="999")
                                                        for i in range(4)]).read_bytes(), "over the 25% limit"),
    }
    cases = {}
    for name, (content, message) in files.items():
        path = tmp / f"{name}.csv"
        path.write_bytes(content)
        cases[name] = (["ingest", str(path), "--source", "acled"], message)
    bad_json = tmp / "bad.json"
    bad_json.write_text('{"source_event_id": "N1", "event_date": ')
    numbers = tmp / "numbers.json"
    numbers.write_text("[1, 2, 3]")
    mapping = tmp / "broken.yml"
    mapping.write_text("name: broken\ncolumns:\n  source_event_id: id\n  no_such_column: x\n")
    cases.update({
        "invalid_json": (["ingest", str(bad_json), "--source", "native"], "not valid JSON records"),
        "json_not_objects": (["ingest", str(numbers), "--source", "native"], "missing required column"),
        "no_such_file": (["ingest", str(tmp / "nope.csv"), "--source", "acled"], "no such file"),
        "directory_as_file": (["ingest", str(tmp), "--source", "acled"], "is a directory"),
        "unknown_source": (["ingest", str(tmp / "good.csv"), "--source", "acled2"], "unknown source 'acled2'"),
        "broken_mapping": (["ingest", str(tmp / "good.csv"), "--source", str(mapping)], "not canonical columns"),
        "bad_as_of": (["ingest", str(tmp / "good.csv"), "--source", "acled", "--as-of", "2024-13-45"],
                      "month 13 out of range"),
        "demo_as_of_yesterday": (["demo", "--as-of", "yesterday"], "'yesterday' is not a date"),
        "report_out_unwritable": (["report", "--as-of", "2024-11-10", "--no-email", "--out", "/proc/nope/r.html"],
                                  "/proc/nope: No such file or directory"),
        "report_out_under_a_file": (["report", "--as-of", "2024-11-10", "--no-email", "--out",
                                     str(tmp / "good.csv" / "r.html")], "good.csv: File exists"),
        "missing_config": (["--config", str(tmp / "none.toml"), "validate"], "none.toml"),
        "sql_unknown_format": (["sql", "SELECT 1", "--format", "xml"], "'xml' is not one of"),
        "sql_syntax": (["sql", "SELEC 1"], "Parser Error"),
        "sql_unknown_table": (["sql", "SELECT * FROM nope"], "Table with name nope does not exist"),
    })
    return cases


CASE_NAMES = [
    "png", "empty", "blank", "missing_columns", "duplicate_header", "case_duplicate_header", "mixed_line_endings",
    "header_field_over_128k", "one_column", "utf16", "gzip", "too_many_rejects", "invalid_json", "json_not_objects",
    "no_such_file", "directory_as_file", "unknown_source", "broken_mapping", "bad_as_of", "demo_as_of_yesterday",
    "report_out_unwritable", "report_out_under_a_file", "missing_config", "sql_unknown_format", "sql_syntax",
    "sql_unknown_table"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    wh = tmp_path_factory.mktemp("bad") / "wh.duckdb"
    path = write_csv(wh.parent / "seed.csv", [acled_row(event_id_cnty=f"S{i}") for i in range(5)])
    out = rw(wh, "ingest", str(path), "--source", "acled")
    assert out.exit_code == 0, out.output
    return wh


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_file_or_argument_is_one_line_and_changes_nothing(loaded, tmp_path, name):
    args, message = _bad_files(tmp_path)[name]
    before = warehouse_state(loaded)
    out = rw(loaded, *args)
    no_traceback(out)
    assert out.exit_code != 0 and out.stdout.strip() == "", out.output
    assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error: "), out.stderr
    assert message in out.stderr
    assert warehouse_state(loaded) == before


@pytest.mark.embedded_only("a --warehouse file that is not a DuckDB file; a lake has no warehouse file")
@pytest.mark.parametrize("content", [b"event_id_cnty,event_date\nPAK1,2024-10-06\n", b"", b"\x00" * 64])
def test_a_warehouse_that_is_not_a_duckdb_file_is_refused_and_left_alone(tmp_path, content):
    fake = tmp_path / "incidents.csv"
    fake.write_bytes(content)
    data = write_csv(tmp_path / "a.csv", [acled_row()])
    for args in (["ingest", str(data), "--source", "acled"], ["sql", "SELECT 1"], ["validate"]):
        out = rw(fake, *args)
        no_traceback(out)
        assert out.exit_code == 1 and out.stderr.strip().splitlines() == [
            f"error: --warehouse {fake} exists and is {'an empty file' if not content else 'not a DuckDB database'}; "
            "give the warehouse's .duckdb file (or a new path), and the data file to `riskwatch ingest`"]
    assert fake.read_bytes() == content


def test_a_header_over_64_kb_loads_with_every_column(tmp_path):
    filler = [f"extra_column_{i:02d}_" + "x" * 1200 for i in range(60)]   # ~72 KB before the real columns
    rows = [{**dict.fromkeys(filler, "x"), **acled_row(event_id_cnty=f"H{i}")} for i in range(3)]
    path = write_csv(tmp_path / "wide.csv", rows, columns=filler + ACLED_COLUMNS)
    wh = tmp_path / "wh.duckdb"
    out = rw(wh, "ingest", str(path), "--source", "acled", "--as-of", "2025-12-31")
    no_traceback(out)
    assert out.exit_code == 0 and "inserted 3" in out.stdout, out.output
    check = rw(wh, "sql", f"SELECT count(*) AS n, max(extra->>'{filler[-1]}') AS x FROM incidents", "--format", "csv")
    assert check.stdout.splitlines() == ["n,x", "3,x"]


def test_refused_mixed_line_endings_are_recorded_as_refused_with_the_cause(loaded, tmp_path):
    args, _ = _bad_files(tmp_path)["mixed_line_endings"]
    rw(loaded, *args)
    out = rw(loaded, "sql", "SELECT status, message FROM ingest_runs ORDER BY run_id DESC LIMIT 1", "--format", "json")
    (last,) = json.loads(out.stdout)
    assert last["status"] == "refused" and "cannot be read as CSV" in last["message"]
    assert "TransactionContext" not in last["message"]
