"""Benchmark: ingest_file on a synthetic ACLED export against DuckDB's own CSV load, same run, same file.

    .venv/bin/python bench/bench_ingest.py [--rows 1000000] [--rows 5000000] [--workdir /tmp/rwbench]
                                           [--memory-limit 3GB] [--no-readme]

Per size: generate the CSV (cached in --workdir) and a 1%-revised copy; then, each in its own child
process (`--phase ...`) so peak memory is that phase's alone: DuckDB baseline `CREATE TABLE t AS SELECT *
FROM read_csv(path)` into a fresh file, first ingest into a fresh warehouse, re-ingest of the same file
(must be 'skipped'), ingest of the revised copy (must update ~1% of rows). Peak memory is the child's
VmHWM: ru_maxrss is not used because Linux carries the parent's peak over fork+exec into it.
Times include closing the connection (the checkpoint), not opening it. "GX already imported": the
child imports Great Expectations before the clock starts, as a long-lived process (`riskwatch serve`,
a pipeline run after its first file) has; a fresh process pays ~2 s more (the "fresh process" row).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = Path(__file__).with_name("README.md")
MIB = 2**20
AS_OF = dt.date(2025, 12, 31)
FRACTION = 0.01


def peak_rss_mib() -> float:  # Linux: this process's own high-water RSS
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def run_phase(a: argparse.Namespace) -> dict:
    """Child side: do one phase, return its measurements."""
    sys.path.insert(0, str(ROOT))
    import duckdb

    out: dict = {}
    if a.phase in ("generate", "revise"):
        from bench.generate import generate_acled_csv, revise_acled_csv

        t0 = time.perf_counter()
        if a.phase == "generate":
            generate_acled_csv(a.csv, a.rows)
        else:
            revise_acled_csv(a.src, a.csv, FRACTION)
        out["seconds"] = time.perf_counter() - t0
    else:  # a failure (say out of memory) is a result too: time and peak until it happened
        t0 = c0 = 0.0
        try:
            if a.phase == "ctas":
                con = duckdb.connect(a.db, config={"memory_limit": a.memory_limit})
                t0, c0 = time.perf_counter(), time.process_time()
                out["rows"] = con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{a.csv}')").fetchone()[0]
            else:
                from validation.ingest import ingest_file
                from warehouse.db import connect

                if a.phase == "load-warm":  # a long-lived process (serve, a pipeline after its first file)
                    import great_expectations  # noqa: F401
                con = connect(a.db, memory_limit=a.memory_limit)
                t0, c0 = time.perf_counter(), time.process_time()
                result = ingest_file(con, a.csv, "acled", as_of=AS_OF)
                out.update(result.as_dict(), rows=result.rows_read)
            con.close()
        except Exception as exc:  # noqa: BLE001 - reported in the table
            out.update(status="FAILED", error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
        out.update(seconds=time.perf_counter() - t0, cpu=time.process_time() - c0)  # cpu: all threads
    out["peak_mib"] = peak_rss_mib()
    return out


def child(phase: str, a: argparse.Namespace, **paths: Path | int) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, "--memory-limit", a.memory_limit]
    for key, value in paths.items():
        cmd += [f"--{key}", str(value)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cached_csv(path: Path, meta: dict, make) -> None:
    """(Re)create `path` unless its sidecar says it was made with `meta` and it still has that size."""
    side = path.with_suffix(".meta.json")
    if path.exists() and side.exists():
        old = json.loads(side.read_text())
        if old.get("bytes") == path.stat().st_size and {k: old.get(k) for k in meta} == meta:
            return
    res = make()
    print(f"  made {path.name}: {path.stat().st_size / 1e6:.0f} MB in {res['seconds']:.1f} s", flush=True)
    side.write_text(json.dumps({**meta, "bytes": path.stat().st_size}))


def remove_db(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


def bench_size(rows: int, a: argparse.Namespace) -> dict:
    work = Path(a.workdir)
    csv, rev = work / f"acled_{rows}.csv", work / f"acled_{rows}_rev.csv"
    cached_csv(csv, {"rows": rows, "seed": 1}, lambda: child("generate", a, csv=csv, rows=rows))
    src = csv.stat().st_size
    cached_csv(rev, {"src_bytes": src, "fraction": FRACTION}, lambda: child("revise", a, csv=rev, src=csv))
    ctas_db, wh, warm_db = work / f"ctas_{rows}.duckdb", work / f"wh_{rows}.duckdb", work / f"warm_{rows}.duckdb"
    for db in (ctas_db, wh, warm_db):
        remove_db(db)
    os.sync()  # no writeback of freshly generated files during the timed phases
    for path in (csv, rev):  # every phase then reads from a warm page cache, the baseline included
        with path.open("rb") as fh:
            while fh.read(1 << 24):
                pass
    res = {"rows": rows, "mb": src / 1e6, "rev_mb": rev.stat().st_size / 1e6}
    try:
        for name, path, db in (("ctas", csv, ctas_db), ("warm", csv, warm_db), ("first", csv, wh), ("reload", csv, wh),
                               ("revised", rev, wh)):
            phase = {"ctas": "ctas", "warm": "load-warm", "revised": "load-warm"}.get(name, "load")
            res[name] = child(phase, a, csv=path, db=db)
            print(f"  {name:8s} {res[name]['seconds']:7.2f} s  peak {res[name]['peak_mib']:6.0f} MiB  "
                  f"{res[name].get('error', '')}", flush=True)
        res["wh_mb"] = wh.stat().st_size / 1e6
    finally:
        for db in (ctas_db, wh, warm_db):
            remove_db(db)
    return res


def tables(results: list[dict]) -> str:
    lines = ["| rows | phase | time (s) | CPU (s) | rows/s | MB/s | peak RSS (MiB) | outcome |",
             "|---:|---|---:|---:|---:|---:|---:|---|"]
    summary = ["| rows | first ingest (GX imported) vs CTAS throughput (≥ 40%) | re-ingest (< 1 s) "
               "| revised / CTAS time (≤ 1.5x) "
               "| ingest peak RSS (≤ 3 GiB at 5e6) | warehouse file |", "|---:|---:|---:|---:|---:|---:|"]
    labels = {"ctas": "DuckDB CTAS read_csv", "warm": "first ingest, GX already imported",
              "first": "first ingest, fresh process (incl. 2 s GX import)", "reload": "re-ingest same file",
              "revised": "ingest 1%-revised copy, GX already imported"}
    ok = {True: "ok", False: "**MISS**"}
    for r in results:
        for key, label in labels.items():
            p = r[key]
            mb = r["rev_mb"] if key == "revised" else r["mb"]
            done = "error" not in p and p.get("status") != "skipped"
            outcome = p.get("error") or (f"{p['rows']:,} rows" if key == "ctas" else f"{p['status']}: ins "
                                         f"{p['inserted']:,}, upd {p['updated']:,}, unch {p['unchanged']:,}, "
                                         f"rej {p['rejected']:,}")
            speed = f"{p['rows'] / p['seconds']:,.0f} | {mb / p['seconds']:.0f}" if done else "— | —"
            lines.append(f"| {r['rows']:,} | {label} | {p['seconds']:.2f} | {p['cpu']:.1f} | {speed} | "
                         f"{p['peak_mib']:,.0f} | {outcome} |")
        ctas, first, reload, rev = (r[k] for k in ("ctas", "warm", "reload", "revised"))
        share, ratio = ctas["seconds"] / first["seconds"], rev["seconds"] / ctas["seconds"]
        cold = ctas["seconds"] / r["first"]["seconds"]
        peak = max(first["peak_mib"], reload["peak_mib"], rev["peak_mib"])
        upd = (f"updated {rev['updated'] / rev['rows']:.2%} {ok[abs(rev['updated'] / rev['rows'] - FRACTION) < 0.002]}"
               if "error" not in rev else "**FAILED** after")
        summary.append(
            f"| {r['rows']:,} | {share:.0%} {ok[share >= 0.4 and 'error' not in first]} (fresh process {cold:.0%}) "
            f"| {reload['seconds']:.2f} s "
            f"{ok[reload['seconds'] < 1 and reload.get('status') == 'skipped']} | {upd} {ratio:.2f}x "
            f"{ok[ratio <= 1.5 and 'error' not in rev]} | {peak:,.0f} MiB {ok[peak <= 3072]} | {r['wh_mb']:,.0f} MB |")
    return "\n".join(lines) + "\n\n" + "\n".join(summary) + "\n"


def machine(a: argparse.Namespace) -> str:
    ram = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # Linux only
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    return (f"{dt.date.today()}, {os.cpu_count()} CPUs ({cpu.group(1).strip() if cpu else platform.machine()}), "
            f"{ram / 2**20:.1f} GiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, DuckDB {version('duckdb')}, memory_limit {a.memory_limit}, "
            f"load average at start {os.getloadavg()[0]:.1f}")


def write_readme(section: str) -> None:
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Ingest\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    README.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, action="append", help="rows per file; repeat for several sizes")
    ap.add_argument("--workdir", default="/tmp/rwbench")
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--no-readme", action="store_true", help="print the tables only")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    for hidden in ("--csv", "--src", "--db"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.phase:
        a.rows = a.rows[0] if a.rows else None
        print(json.dumps(run_phase(a), default=str))
        return
    Path(a.workdir).mkdir(parents=True, exist_ok=True)
    results, desc = [], machine(a)
    for rows in a.rows or [1_000_000]:
        print(f"{rows:,} rows:", flush=True)
        results.append(bench_size(rows, a))
    section = (f"## Ingest\n\n`python bench/bench_ingest.py {' '.join(f'--rows {r}' for r in a.rows or [1_000_000])}`"
               f" — {desc}.\n\n{__doc__.split(chr(10) + chr(10), 2)[2].strip()}\n\n{tables(results)}")
    print("\n" + section)
    if not a.no_readme:
        write_readme(section)
        print(f"updated {README}")


if __name__ == "__main__":
    main()
