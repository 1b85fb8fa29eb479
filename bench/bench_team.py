"""Benchmark: team mode, the lake (PostgreSQL catalog, Parquet files) against the embedded file, one run.

    .venv/bin/python bench/bench_team.py [--rows 1000000] [--workdir /tmp/rwbench] [--no-readme]

(a) an analyst mix of 10 queries (bench/bench_team.py QUERIES), a fresh reader connection per round, repeated
    while a 1e6-row ingest of new incidents runs in another process: latency p50/p99 on the embedded warehouse's
    read snapshot vs the live lake; (b) a 1e6-row `ingest_file` into a new lake vs DuckDB's `CREATE TABLE AS
    read_csv` into a new lake, each in its own process; (c) `riskwatch run` (daily: 1,000 new rows in the inbox)
    on a lake of 1e6 incidents with indicators computed, whole process, on Prefect's ephemeral API and with a
    running Prefect server (on PostgreSQL); (d) two ingests of two different half-size files at the same time
    vs one after the other, each into a new lake. Lakes are copies of one embedded warehouse
    (`warehouse.lake_copy`, what `riskwatch warehouse migrate --to ducklake` does) in one PostgreSQL database
    made for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from bench.bench_indicators import AS_OF, WATCHED, base_warehouse, new_rows_file  # noqa: E402
from bench.common import machine, publish  # noqa: E402
from bench.generate import generate_acled_csv  # noqa: E402
from riskwatch.settings import Lake  # noqa: E402
from tests import lake_mode  # noqa: E402

QUERIES = [
    "SELECT country, count(*) AS n, sum(fatalities) AS deaths FROM incidents GROUP BY 1 ORDER BY 2 DESC",
    "SELECT date_trunc('month', event_date) AS month, count(*), sum(fatalities) FROM incidents "
    "WHERE country = 'Pakistan' AND event_date >= DATE '2024-01-01' GROUP BY 1 ORDER BY 1",
    "SELECT event_date, country, location, actor1, fatalities FROM incidents ORDER BY fatalities DESC NULLS LAST, "
    "incident_id LIMIT 20",
    "SELECT count(*) FROM incidents WHERE notes ILIKE '%suicide%'",
    "SELECT admin1, event_type, count(*) FROM incidents WHERE country = 'Afghanistan' GROUP BY ALL "
    "ORDER BY 3 DESC LIMIT 20",
    "SELECT indicator, series, grain, max(period_start), count(*) FROM indicator_values GROUP BY ALL",
    "SELECT period_start, value FROM indicator_values WHERE indicator = 'chinese_nationals_attacks' "
    "AND series = 'PAK' AND grain = 'quarter' ORDER BY period_start DESC LIMIT 12",
    "SELECT tag, count(*) FROM incident_tags GROUP BY 1 ORDER BY 2 DESC",
    "SELECT * FROM alerts ORDER BY 1 LIMIT 50",
    "SELECT source, count(*), max(event_date), max(ingested_at) FROM incidents GROUP BY 1",
]
INGEST = """
import sys, time, json, datetime as dt
from validation.gx_engine import import_gx
import_gx()                                   # GX imported before the clock, as in a long-lived worker
from riskwatch.settings import load_settings
from validation.ingest import ingest_file
from warehouse import db
settings = load_settings()
t0 = time.perf_counter()
con = db.connect(settings.warehouse, memory_limit=settings.memory_limit, lake=settings.lake)
r = ingest_file(con, sys.argv[1], "acled", settings, as_of=dt.date.fromisoformat(sys.argv[2]))
con.close()
print(json.dumps({"seconds": time.perf_counter() - t0, "status": r.status, "inserted": r.inserted}))
"""
CTAS = """
import sys, time, json
from riskwatch.settings import load_settings
from warehouse import lake
settings = load_settings()
t0 = time.perf_counter()
con = lake.connect(settings.lake, config={"memory_limit": settings.memory_limit})
n = con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{sys.argv[1]}')").fetchone()
con.close()
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


class Bench:
    def __init__(self, a: argparse.Namespace, database: str):
        self.a, self.database, self.workdir = a, database, Path(a.workdir)
        self.lakes = 0

    def lake_env(self, name: str, warehouse: Path) -> dict:
        """The environment of a process using the lake `name` (its own catalog schema and data directory)."""
        env = {**os.environ, "RISKWATCH_BACKEND": "ducklake", "RISKWATCH_CATALOG": lake_mode.catalog(self.database),
               "RISKWATCH_DATA_PATH": str(self.workdir / "team" / name), "RISKWATCH_METADATA_SCHEMA": name,
               "RISKWATCH_WAREHOUSE": str(warehouse), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "RISKWATCH_ALERT_TO": "desk@example.org", "RISKWATCH_REPORT_TO": "desk@example.org"}
        for key in ("RISKWATCH_SMTP_HOST", "PREFECT_API_URL", "RISKWATCH_CONFIG"):
            env.pop(key, None)
        return env

    def lake(self, env: dict) -> Lake:
        return Lake(env["RISKWATCH_CATALOG"], env["RISKWATCH_DATA_PATH"], env["RISKWATCH_METADATA_SCHEMA"])

    def new_lake(self, prefix: str, source: Path | None = None) -> dict:
        """A new lake (empty, or a copy of the embedded warehouse `source`); its environment."""
        from warehouse.lake_copy import copy_to_lake

        self.lakes += 1
        name = f"{prefix}_{self.lakes}"
        folder = self.workdir / "team" / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        env = self.lake_env(name, folder / "wh.duckdb")
        if source is not None:
            copy_to_lake(source, self.lake(env))
        else:   # created (migrated) once, as a team does before its workers start (README "Team mode")
            from warehouse import db

            db.connect(env["RISKWATCH_WAREHOUSE"], lake=self.lake(env)).close()
        return env


def py(code: str, *args: str, env: dict, cwd: Path) -> dict:
    import json

    out = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=cwd, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def ingest_proc(csv: Path, env: dict, cwd: Path) -> subprocess.Popen:
    """The ingest in its own process, its output in files (a pipe nobody reads while it runs would fill up
    with GX's logging and block it)."""
    out = (cwd / f"ingest-{csv.stem}.out").open("w")
    err = (cwd / f"ingest-{csv.stem}.err").open("w")
    proc = subprocess.Popen([sys.executable, "-c", INGEST, str(csv), AS_OF.isoformat()], env=env, cwd=cwd,
                            stdout=out, stderr=err, text=True)
    out.close()
    err.close()
    proc.outputs = (cwd / f"ingest-{csv.stem}.out", cwd / f"ingest-{csv.stem}.err")
    return proc


def finished(proc: subprocess.Popen) -> dict:
    import json

    proc.wait()
    out, err = (p.read_text() for p in proc.outputs)
    if proc.returncode:
        raise RuntimeError(err[-3000:])
    return json.loads(out.strip().splitlines()[-1])


def renamed(src: Path, dst: Path, prefix: str, every: int = 1, part: int = 0) -> Path:
    """`src` with every event id prefixed (new incidents); with `every` > 1 only the rows whose id hashes to
    `part` (disjoint parts of one file)."""
    if not dst.exists():
        duckdb.sql(f"COPY (SELECT * REPLACE ('{prefix}' || event_id_cnty AS event_id_cnty) FROM "
                   f"read_csv('{src}', all_varchar=true) WHERE hash(event_id_cnty) % {every} = {part}) "
                   f"TO '{dst}' (HEADER)")
    return dst


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def analysts(open_reader, proc: subprocess.Popen) -> dict:
    """Rounds of the 10 queries, each on a freshly opened reader, for as long as the ingest `proc` runs."""
    latencies, opens, rounds, seen = [], [], 0, []
    while proc.poll() is None or rounds == 0:
        t0 = time.perf_counter()
        con = open_reader()
        opens.append(time.perf_counter() - t0)
        for q in QUERIES:
            t = time.perf_counter()
            con.execute(q).fetchall()
            latencies.append(time.perf_counter() - t)
        seen.append(con.execute("SELECT count(*) FROM incidents").fetchone()[0])
        con.close()
        rounds += 1
    return {"p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99), "open_p50": pct(opens, 0.5),
            "rounds": rounds, "first_count": seen[0], "last_count": seen[-1], "ingest": finished(proc)}


def part_a(b: Bench, base: Path, extra: Path) -> list[tuple]:
    from warehouse import db
    from warehouse.snapshot import open_snapshot, publish_snapshot

    folder = b.workdir / "team" / "a_embedded"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    wh = folder / "wh.duckdb"
    shutil.copyfile(base, wh)
    publish_snapshot(wh)
    env = {**b.lake_env("unused", wh), "RISKWATCH_BACKEND": "duckdb"}
    emb = analysts(lambda: open_snapshot(wh)[0], ingest_proc(extra, env, folder))
    env = b.new_lake("a_lake", base)
    lake = b.lake(env)
    live = analysts(lambda: db.connect(env["RISKWATCH_WAREHOUSE"], read_only=True, lake=lake),
                    ingest_proc(extra, env, Path(env["RISKWATCH_DATA_PATH"])))
    rows = []
    for name, r in (("embedded, read snapshot", emb), ("lake, live", live)):
        rows.append((f"(a) analyst mix during a {b.a.rows:,}-row ingest: {name}",
                     f"p50 {r['p50'] * 1000:.0f} ms, p99 {r['p99'] * 1000:.0f} ms",
                     f"{r['rounds']} rounds x 10 queries; reader open p50 {r['open_p50'] * 1000:.0f} ms; incidents "
                     f"seen {r['first_count']:,} -> {r['last_count']:,}; the ingest took "
                     f"{r['ingest']['seconds']:.1f} s ({r['ingest']['status']}, {r['ingest']['inserted']:,} inserted)"))
    return rows


def part_b(b: Bench, csv: Path) -> tuple[list[tuple], float]:
    env = b.new_lake("b_ctas")
    ctas = py(CTAS, str(csv), env=env, cwd=Path(env["RISKWATCH_DATA_PATH"]))["seconds"]
    env = b.new_lake("b_ingest")
    ing = py(INGEST, str(csv), AS_OF.isoformat(), env=env, cwd=Path(env["RISKWATCH_DATA_PATH"]))
    share = ctas / ing["seconds"]
    return [(f"(b) DuckDB CREATE TABLE AS read_csv into a new lake, {b.a.rows:,} rows", f"{ctas:.1f} s",
             f"{b.a.rows / ctas:,.0f} rows/s"),
            (f"(b) ingest_file into a new lake, {b.a.rows:,} rows (GX imported)", f"{ing['seconds']:.1f} s",
             f"{b.a.rows / ing['seconds']:,.0f} rows/s = {share:.0%} of CTAS (target >= 40%: "
             f"{'met' if share >= 0.4 else 'MISSED'}); {ing['status']}, {ing['inserted']:,} inserted")], share


def part_c(b: Bench, refreshed: Path, new_rows: Path) -> list[tuple]:
    from tests.prefect_server import postgres_database, prefect_server

    def run(extra_env: dict, label: str) -> tuple:
        env = b.new_lake("c_run", refreshed) | extra_env
        cwd = Path(env["RISKWATCH_DATA_PATH"])
        (cwd / "inbox" / "acled").mkdir(parents=True)
        shutil.copyfile(new_rows, cwd / "inbox" / "acled" / "new.csv")
        cli = Path(sys.executable).with_name("riskwatch")
        t0 = time.perf_counter()
        out = subprocess.run([str(cli), "run", "--as-of", AS_OF.isoformat()], cwd=cwd, env=env, capture_output=True,
                             text=True)
        took = time.perf_counter() - t0
        if out.returncode:
            raise RuntimeError(out.stdout[-2000:] + out.stderr[-2000:])
        return (f"(c) `riskwatch run` on a {b.a.rows:,}-incident lake, 1,000 new rows, {label}", f"{took:.1f} s",
                f"whole process; target <= 8 s: {'met' if took <= 8 else 'MISSED'}")

    rows = [run({"PREFECT_HOME": str(b.workdir / "team" / "prefect_ephemeral")}, "Prefect's ephemeral API")]
    with postgres_database() as prefect_db, prefect_server(b.workdir / "team" / "prefect_server", prefect_db) as (
            api, env):
        rows.append(run({"PREFECT_API_URL": api, "PREFECT_HOME": env["PREFECT_HOME"]},
                        "running Prefect server (PostgreSQL)"))
    return rows


def part_d(b: Bench, halves: list[Path]) -> list[tuple]:
    env = b.new_lake("d_sequential")
    cwd = Path(env["RISKWATCH_DATA_PATH"])
    t0 = time.perf_counter()
    seq = [finished(ingest_proc(h, env, cwd)) for h in halves]
    sequential = time.perf_counter() - t0
    env = b.new_lake("d_concurrent")
    cwd = Path(env["RISKWATCH_DATA_PATH"])
    t0 = time.perf_counter()
    procs = [ingest_proc(h, env, cwd) for h in halves]
    conc = [finished(p) for p in procs]
    concurrent = time.perf_counter() - t0
    from warehouse import db

    con = db.connect(env["RISKWATCH_WAREHOUSE"], read_only=True, lake=b.lake(env))
    total = con.execute("SELECT count(*) FROM incidents").fetchone()[0]
    con.close()
    half = b.a.rows // 2
    return [(f"(d) two {half:,}-row ingests one after the other", f"{sequential:.1f} s",
             ", ".join(f"{r['status']} {r['inserted']:,}" for r in seq)),
            ("(d) the same two ingests at the same time", f"{concurrent:.1f} s",
             ", ".join(f"{r['status']} {r['inserted']:,}" for r in conc) + f"; lake holds {total:,} incidents; "
             f"{sequential / concurrent:.2f}x the sequential throughput")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workdir", default="/tmp/rwbench")
    ap.add_argument("--parts", default="abcd")
    ap.add_argument("--no-readme", action="store_true")
    a = ap.parse_args()
    workdir = Path(a.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    load_start, described = os.getloadavg(), machine()
    csv = workdir / f"acled_{a.rows}.csv"
    if not csv.exists():
        generate_acled_csv(str(csv), a.rows)
    base = base_warehouse(a.rows, workdir, "3GB")
    refreshed = workdir / f"run_base_{a.rows}.duckdb"
    if not refreshed.exists():
        from indicators.refresh import refresh
        from warehouse import db

        shutil.copyfile(base, refreshed)
        con = db.connect(refreshed, lake=None)
        refresh(con, AS_OF, watched=WATCHED)
        con.close()
    extra = renamed(csv, workdir / f"acled_{a.rows}_new.csv", "X")
    halves = [renamed(csv, workdir / f"acled_{a.rows}_half{p}.csv", f"H{p}", 2, p) for p in (0, 1)]
    database = lake_mode.create_database()
    rows: list[tuple] = []
    try:
        b = Bench(a, database)
        parts = {"a": lambda: part_a(b, refreshed, extra), "b": lambda: part_b(b, csv)[0],
                 "c": lambda: part_c(b, refreshed, new_rows_file(workdir)), "d": lambda: part_d(b, halves)}
        for part in a.parts:
            t0 = time.perf_counter()
            rows += parts[part]()
            print(f"part {part}: {time.perf_counter() - t0:.0f} s", *rows[-2:], sep="\n", file=sys.stderr, flush=True)
    finally:
        lake_mode.drop_database(database)
    load_end = os.getloadavg()
    table = "| what | result | notes |\n|---|---:|---|\n" + "\n".join(f"| {w} | {r} | {n} |" for w, r, n in rows)
    section = (f"`python bench/bench_team.py --rows {a.rows}` — {described}; load average 1/5/15 min at the end "
               f"{load_end[0]:.1f}/{load_end[1]:.1f}/{load_end[2]:.1f} (start {load_start[0]:.1f}, "
               f"{load_start[1]:.1f}, {load_start[2]:.1f}).\n\n"
               f"{__doc__.split(chr(10) * 2, 2)[2].strip()}\n\n{table}")
    publish("Team mode (DuckLake)", section, to_readme=not a.no_readme)


if __name__ == "__main__":
    main()
