"""Benchmark: row checks as DuckDB flag columns, validated by Great Expectations via gx_engine.

    .venv/bin/python bench/bench_validate.py [--rows 1000000] [--repeat 2] [--raw]
    .venv/bin/python bench/bench_validate.py --ingest [--csv /tmp/acled_1000000.csv] [--no-readme]

Builds an incident-like table in DuckDB (with a known sprinkle of bad rows), computes 8 boolean
flags in one SQL query, hands only the flag columns to validation.gx_engine.run_suite and checks
that GX's unexpected counts equal DuckDB's own failure counts. ``--raw`` also times GX on the raw
columns (equivalent checks as plain expectations) for comparison; that path is slow and large.

``--ingest`` times the real path instead: warehouse.load.ingest_file on a generated ACLED export
(bench/generate.py), once with the GX batch checks (validation.ingest.check_batch, timed inside
the same load: flags SQL, GX, storing) and once with them replaced by the plain reject-share check,
each in its own child process so each peak RSS (VmHWM) is its own; results go to README "## Validation".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from validation.gx_engine import Check, run_suite

EVENT_TYPES = ["Battles", "Explosions/Remote violence", "Violence against civilians", "Protests", "Riots",
               "Strategic developments"]

# Deterministic: every value is hash(row, k); roughly 1e-4 of rows are bad in each way.
GENERATE = f"""
CREATE OR REPLACE TABLE incidents AS
SELECT
    CASE WHEN i % 99991 = 5 THEN NULL
         ELSE 'EV' || lpad(CAST(CASE WHEN i % 49999 = 7 THEN i - 1 ELSE i END AS VARCHAR), 9, '0')
    END AS source_event_id,
    CASE WHEN hash(i, 1) % 10000 = 0 THEN DATE '2999-01-01'
         ELSE DATE '2016-01-01' + CAST(hash(i, 2) % 3650 AS INTEGER) END AS event_date,
    CASE WHEN hash(i, 3) % 10000 = 0 THEN 123.0
         ELSE 20 + (hash(i, 4) % 2000000) / 100000.0 END AS latitude,
    CASE WHEN hash(i, 5) % 10000 = 0 THEN NULL
         ELSE 60 + (hash(i, 6) % 3000000) / 100000.0 END AS longitude,
    CASE WHEN hash(i, 7) % 10000 = 0 THEN -1
         ELSE CAST(floor(-ln(1 - (hash(i, 8) % 1000000) / 1000000.0) * 1.5) AS INTEGER) END AS fatalities,
    CASE WHEN hash(i, 9) % 10000 = 0 THEN 'Unknown'
         ELSE {"[" + ", ".join(f"'{t}'" for t in EVENT_TYPES) + "]"}[1 + CAST(hash(i, 10) % 6 AS INTEGER)]
    END AS event_type,
    CASE WHEN hash(i, 11) % 10000 = 0 THEN 'pk'
         ELSE ['PAK', 'AFG', 'IRN', 'IND'][1 + CAST(hash(i, 12) % 4 AS INTEGER)] END AS country_iso3
FROM range(?) AS t(i)
"""

# One pass; each flag is TRUE when the row passes. COALESCE matters: a NULL flag would be skipped
# by GX's column-map expectations (they ignore missing values) and so silently pass.
FLAGS = {
    "id_present": "source_event_id IS NOT NULL",
    "id_unique": "count(*) OVER (PARTITION BY source_event_id) = 1 OR source_event_id IS NULL",
    "date_ok": "event_date BETWEEN DATE '1997-01-01' AND current_date",
    "lat_ok": "latitude BETWEEN -90 AND 90",
    "lon_ok": "longitude BETWEEN -180 AND 180",
    "fatalities_ok": "fatalities >= 0",
    "event_type_ok": "event_type IN (" + ", ".join(f"'{t}'" for t in EVENT_TYPES) + ")",
    "iso3_ok": "regexp_full_match(country_iso3, '[A-Z]{3}')",
}
FLAG_SQL = "SELECT " + ", ".join(f"COALESCE({sql}, FALSE) AS {name}" for name, sql in FLAGS.items()) + " FROM incidents"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2,
                        help="run_suite calls (the first one is cold); with --ingest: loads of each kind")
    parser.add_argument("--raw", action="store_true", help="also time GX directly on the raw columns")
    parser.add_argument("--ingest", action="store_true", help="time check_batch inside ingest_file instead")
    parser.add_argument("--csv", default=None, help="ACLED-shaped CSV (default /tmp/acled_<rows>.csv, made if absent)")
    parser.add_argument("--workdir", default="/tmp/rwvalbench")
    parser.add_argument("--memory-limit", action="append", help="DuckDB memory_limit; repeatable (default 3GB, 1GB)")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--phase", choices=["gx", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(ingest_phase(args)))
        return
    if args.ingest:
        bench_ingest(args)
        return

    con = duckdb.connect()
    t = time.perf_counter()
    con.execute(GENERATE, [args.rows])
    print(f"generate {args.rows:,} rows in DuckDB      {time.perf_counter() - t:7.3f} s")

    t = time.perf_counter()
    flags = con.execute(FLAG_SQL).df()
    print(f"DuckDB flags query (+ to pandas)       {time.perf_counter() - t:7.3f} s  "
          f"({len(FLAGS)} flags, {flags.memory_usage(deep=True).sum() / 2**20:.0f} MiB)")
    expected = {name: int((~flags[name]).sum()) for name in FLAGS}
    print(f"peak RSS before GX                     {peak_rss_mb():7.0f} MiB")

    t = time.perf_counter()
    import great_expectations  # noqa: F401 - timed here so run_suite below excludes it

    print(f"GX import                              {time.perf_counter() - t:7.3f} s")

    checks = [Check(name, "expect_column_values_to_be_in_set", {"column": name, "value_set": [True]},
                    severity="warning" if name == "event_type_ok" else "critical") for name in FLAGS]
    checks.append(Check("row_count", "expect_table_row_count_to_be_between", {"min_value": 1}))
    for attempt in range(args.repeat):
        t = time.perf_counter()
        results = run_suite("incident_flags", flags, checks)
        label = "cold" if attempt == 0 else "warm"
        print(f"GX run_suite ({label}, {len(checks)} expectations)      {time.perf_counter() - t:7.3f} s")
    got = {r.check_name: r.unexpected_count for r in results if r.check_name in FLAGS}
    if got != expected:
        raise SystemExit(f"GX and DuckDB disagree: {got} != {expected}")
    print("failing rows per flag (GX == DuckDB):  "
          + ", ".join(f"{k}={v}" for k, v in got.items()))
    print(f"peak RSS after GX                      {peak_rss_mb():7.0f} MiB")

    if args.raw:
        raw = con.execute("SELECT * FROM incidents").df()
        raw_checks = [
            Check("id_nn", "expect_column_values_to_not_be_null", {"column": "source_event_id"}),
            Check("id_unique", "expect_column_values_to_be_unique", {"column": "source_event_id"}),
            Check("lat", "expect_column_values_to_be_between",
                  {"column": "latitude", "min_value": -90, "max_value": 90}),
            Check("lon_nn", "expect_column_values_to_not_be_null", {"column": "longitude"}),
            Check("lon", "expect_column_values_to_be_between",
                  {"column": "longitude", "min_value": -180, "max_value": 180}),
            Check("fatalities", "expect_column_values_to_be_between", {"column": "fatalities", "min_value": 0}),
            Check("event_type", "expect_column_values_to_be_in_set",
                  {"column": "event_type", "value_set": EVENT_TYPES}),
            Check("iso3", "expect_column_values_to_match_regex", {"column": "country_iso3", "regex": "^[A-Z]{3}$"}),
        ]
        t = time.perf_counter()
        run_suite("incident_raw", raw, raw_checks)
        print(f"GX on raw columns ({len(raw_checks)} expectations)   {time.perf_counter() - t:7.3f} s")
        print(f"peak RSS after raw GX                  {peak_rss_mb():7.0f} MiB")


AS_OF = dt.date(2025, 12, 31)
README = Path(__file__).with_name("README.md")


def vm_mib(field: str = "VmHWM") -> float:
    # ru_maxrss would carry the parent's peak over fork+exec; VmHWM is this process's own.
    match = re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(match.group(1)) / 1024 if match else peak_rss_mb()


def measured(fn, out: dict):
    """fn, with its own peak RSS: VmHWM is reset on entry (Linux clear_refs 5), the process peak kept aside."""
    def wrapper(*args, **kwargs):
        out["peak_before_mib"], out["rss_entry_mib"] = vm_mib(), vm_mib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            out["check_batch"] = time.perf_counter() - t
            out["check_batch_peak_mib"] = vm_mib()
    return wrapper


def ingest_phase(a: argparse.Namespace) -> dict:
    """Child: one ingest_file into a fresh warehouse, with the GX batch checks or the plain reject check."""
    from validation import gx_engine
    from validation.ingest import IngestRefused, check_batch, ingest_file
    from warehouse.db import connect

    spent = {"check_batch": 0.0, "gx": 0.0, "gx_import": 0.0}
    real_suite = gx_engine.run_suite

    def timed_suite(*args, **kwargs):
        t = time.perf_counter()
        try:
            return real_suite(*args, **kwargs)
        finally:
            spent["gx"] += time.perf_counter() - t

    def plain(con, batch, run, *, max_reject_fraction, **_):  # what the load did before: the reject share only
        if run.rows_read and run.rejected / run.rows_read > max_reject_fraction:
            raise IngestRefused(f"{batch.path}: too many rejected rows")
        return []

    if a.phase == "gx":
        t = time.perf_counter()
        import great_expectations  # noqa: F401 - once per process; timed apart from the load

        spent["gx_import"] = time.perf_counter() - t
        gx_engine.run_suite = timed_suite
    validate = measured(check_batch if a.phase == "gx" else plain, spent)
    con = connect(a.db, memory_limit=a.memory_limit[0])
    t = time.perf_counter()
    run = ingest_file(con, a.csv, "acled", as_of=AS_OF, validate=validate)
    con.close()
    seconds = time.perf_counter() - t
    return {"seconds": seconds, **spent, "status": run.status, "rows": run.rows_read, "rejected": run.rejected,
            "peak_mib": max(vm_mib(), spent.get("peak_before_mib", 0))}


def bench_ingest(a: argparse.Namespace) -> None:
    from importlib.metadata import version

    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    csv = Path(a.csv or f"/tmp/acled_{a.rows}.csv")
    if not csv.exists():
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from bench.generate import generate_acled_csv

        generate_acled_csv(str(csv), a.rows)
    with csv.open("rb") as fh:  # every load reads from a warm page cache
        while fh.read(1 << 24):
            pass
    table = ["| memory_limit | load | time (s) | peak RSS (MiB) | check_batch (s) | of which GX (s) "
             "| peak RSS in check_batch (MiB) |", "|---|---|---:|---:|---:|---:|---:|"]
    verdicts, spread = [], []
    for limit in a.memory_limit or ["3GB", "1GB"]:
        res: dict[str, list[dict]] = {"plain": [], "gx": []}
        for _ in range(a.repeat):  # alternating, fastest of each kept: the box may be busy with other work
            for phase in res:
                db = work / f"wh_{phase}.duckdb"
                for p in (db, db.with_name(db.name + ".wal")):
                    p.unlink(missing_ok=True)
                cmd = [sys.executable, __file__, "--phase", phase, "--csv", str(csv), "--db", str(db),
                       "--memory-limit", limit]
                out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
                res[phase].append(json.loads(out.strip().splitlines()[-1]))
                db.unlink(missing_ok=True)
                print(limit, phase, res[phase][-1], flush=True)
        gx, plain = (min(res[k], key=lambda r: r["seconds"]) for k in ("gx", "plain"))
        table += [f"| {limit} | plain reject-share check (before) | {plain['seconds']:.2f} | {plain['peak_mib']:,.0f} "
                  f"| — | — | — |",
                  f"| {limit} | GX batch checks | {gx['seconds']:.2f} | {gx['peak_mib']:,.0f} | "
                  f"{gx['check_batch']:.2f} ({gx['check_batch'] / gx['seconds']:.0%}) | {gx['gx']:.2f} | "
                  f"{gx['check_batch_peak_mib']:,.0f} ({gx['check_batch_peak_mib'] - gx['rss_entry_mib']:+,.0f}) |"]
        ok = {True: "met", False: "**missed**"}
        verdicts.append(f"memory_limit {limit}: validation {ok[gx['check_batch_peak_mib'] < 2048]}, "
                        f"whole load with validation {ok[gx['peak_mib'] < 2048]}")
        spread.append(f"{limit} " + ", ".join(f"{k} {min(r['seconds'] for r in v):.1f}–"
                                               f"{max(r['seconds'] for r in v):.1f} s" for k, v in res.items()))
    section = (
        f"## Validation\n\n`python bench/bench_validate.py --ingest` on `{csv.name}` ({gx['rows']:,} rows, "
        f"{csv.stat().st_size / 1e6:.0f} MB, {gx['rejected']:,} rejected), {dt.date.today()}, DuckDB "
        f"{version('duckdb')}, GX {version('great-expectations')}, {os.cpu_count()} CPUs. Per memory_limit, "
        f"the same file loaded by ingest_file with the GX batch checks (validation/ingest.py) and with the "
        f"plain reject-share check that preceded them, each load in its own process, fastest of {a.repeat} "
        f"alternating runs. check_batch is timed inside the GX load; its peak RSS is measured from its entry "
        f"(VmHWM reset), in brackets what it adds to the RSS it started with (mostly DuckDB's buffer pool). "
        f"GX import ({gx['gx_import']:.1f} s, once per process) is not in the load times.\n\n"
        + "\n".join(table) + "\n\nTarget peak RSS < 2 GiB: " + "; ".join(verdicts) + ". GX sees only boolean "
        "flag columns (one byte per row and check), never the incidents themselves. Whole-load times vary with "
        "what else the machine runs (all runs: " + "; ".join(spread) + "); check_batch's own time is the "
        "steadier measure of what validation costs.\n")
    print(section)
    if not a.no_readme:
        text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
        pattern = re.compile(r"^## Validation\n.*?(?=^## |\Z)", re.M | re.S)
        text = pattern.sub(lambda _: section, text, count=1) if pattern.search(text) else (
            text.rstrip("\n") + "\n\n" + section)
        README.write_text(text, encoding="utf-8")
        print(f"updated {README}")


if __name__ == "__main__":
    main()
