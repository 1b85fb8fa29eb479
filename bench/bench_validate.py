"""Benchmark: validation's share of a real 1e6-row ingest, with GX deciding (issue 15).

    .venv/bin/python bench/bench_validate.py [--rows 1000000] [--csv FILE] [--bad 0.001] [--no-readme]

Loads a generated ACLED export (bench/generate.py, with --bad of its rows made to fail a rule: latitude
out of range, so GX's unexpected rows are quarantined and the file is re-read numbered) through
validation.ingest.ingest_file into a fresh warehouse, in a child process of its own so its peak RSS
(VmHWM) is its own. Validation = the row rules (row_rules.judge_rows: GX's SQL engine in DuckDB, both
passes) + the batch checks (ingest.check_batch), timed inside the same load. Results go to README
"## Validation". Target: validation <= 50% of the load's time, peak RSS <= 2 GiB.
"""

from __future__ import annotations

import argparse
import csv as csvlib
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

AS_OF = dt.date(2025, 12, 31)
README = Path(__file__).with_name("README.md")


def vm_mib(field: str = "VmHWM") -> float:
    match = re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def child(a: argparse.Namespace) -> dict:
    t = time.perf_counter()
    import great_expectations  # noqa: F401 - once per process, timed apart from the load

    gx_import = time.perf_counter() - t
    from validation import ingest, row_rules
    from warehouse.db import connect

    spent = {"judge": 0.0, "check_batch": 0.0, "judge_calls": 0}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t
                if name == "judge":
                    spent["judge_calls"] += 1
        return wrapper

    con = connect(a.db, memory_limit=a.memory_limit)
    t = time.perf_counter()
    run = ingest.ingest_file(con, a.csv, "acled", as_of=AS_OF, judge=timed("judge", row_rules.judge_rows),
                             validate=timed("check_batch", ingest.check_batch))
    seconds = time.perf_counter() - t
    con.close()
    return {"seconds": seconds, **spent, "gx_import": gx_import, "status": run.status, "rows": run.rows_read,
            "rejected": run.rejected, "inserted": run.inserted, "peak_mib": vm_mib()}


def make_csv(path: Path, rows: int, bad: float) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.generate import generate_acled_csv

    clean = path.with_name(path.stem + "_clean.csv")
    if not clean.exists():
        generate_acled_csv(str(clean), rows)
    step = int(1 / bad) if bad else 0
    with clean.open(newline="", encoding="utf-8") as src, path.open("w", newline="", encoding="utf-8") as dst:
        reader, writer = csvlib.reader(src), csvlib.writer(dst)
        header = next(reader)
        writer.writerow(header)
        lat = header.index("latitude")
        for i, row in enumerate(reader):
            if step and i % step == step - 1:
                row[lat] = "123.5"
            writer.writerow(row)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--bad", type=float, default=0.001)
    p.add_argument("--csv")
    p.add_argument("--db")
    p.add_argument("--memory-limit", default="2GB")
    p.add_argument("--workdir", default="/tmp/bench_validate")
    p.add_argument("--child", action="store_true")
    p.add_argument("--no-readme", action="store_true")
    a = p.parse_args()
    if a.child:
        print(json.dumps(child(a)))
        return
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    csv = Path(a.csv or work / f"acled_{a.rows}_bad{a.bad}.csv")
    if not csv.exists():
        make_csv(csv, a.rows, a.bad)
    db = work / "wh.duckdb"
    for f in (db, db.with_name(db.name + ".wal")):
        f.unlink(missing_ok=True)
    out = subprocess.run([sys.executable, __file__, "--child", "--csv", str(csv), "--db", str(db),
                          "--memory-limit", a.memory_limit], stdout=subprocess.PIPE, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    db.unlink(missing_ok=True)
    validation = r["judge"] + r["check_batch"]
    share = validation / r["seconds"]
    from importlib.metadata import version

    section = (
        f"## Validation\n\n`python bench/bench_validate.py` on `{csv.name}` ({r['rows']:,} rows, "
        f"{csv.stat().st_size / 1e6:.0f} MB, {r['rejected']:,} rejected: latitude 123.5 in every "
        f"{int(1 / a.bad) if a.bad else 0}th row), {dt.date.today()}, DuckDB {version('duckdb')}, GX "
        f"{version('great-expectations')}, duckdb-engine {version('duckdb-engine')}, {os.cpu_count()} CPUs "
        f"(shared with other work), memory_limit {a.memory_limit}. One load in its own process; GX import "
        f"({r['gx_import']:.1f} s, once per process) is not in the load time.\n\n"
        "| load (s) | row rules: GX on the staged table (s) | batch checks (s) | validation share | "
        "peak RSS (MiB) |\n|---:|---:|---:|---:|---:|\n"
        f"| {r['seconds']:.2f} | {r['judge']:.2f} ({r['judge_calls']} passes: counts, then the numbered re-read) | "
        f"{r['check_batch']:.2f} | {share:.0%} | {r['peak_mib']:,.0f} |\n\n"
        f"Targets: validation <= 50% of the load: {'met' if share <= 0.5 else '**missed**'}; peak RSS <= 2 GiB: "
        f"{'met' if r['peak_mib'] <= 2048 else '**missed**'}. Status {r['status']}, {r['inserted']:,} inserted.\n")
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
