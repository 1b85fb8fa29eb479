"""Benchmark: the end-to-end `riskwatch run` on a warehouse of N incidents with 1,000 new ones in the inbox.

    .venv/bin/python bench/bench_run.py [--rows 1000000] [--workdir /tmp/rwbench] [--no-readme]

Two fresh processes on two copies of the same warehouse (N incidents, indicators already computed): one
runs `riskwatch run` (the `pipeline` flow on Prefect's ephemeral API: ingest the inbox, refresh,
validate, alert, weekly report), the other calls the same steps directly, without Prefect. The
difference is Prefect's overhead; the second is our own work, timed step by step.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_indicators import AS_OF, WATCHED, base_warehouse, new_rows_file  # noqa: E402
from bench.common import machine, publish  # noqa: E402

DIRECT = """
import json, sys, time, datetime as dt
t0 = time.perf_counter(); steps = {}
def step(name, fn):
    s = time.perf_counter(); out = fn(); steps[name] = time.perf_counter() - s; return out
from riskwatch.settings import load_settings
from warehouse import db
settings = load_settings()
con = db.connect(settings.warehouse, memory_limit=settings.memory_limit)
as_of = dt.date.fromisoformat(sys.argv[1])
from validation.ingest import ingest_file
from flows.tasks import inbox_files
step("ingest 1,000 rows (incl. GX import)", lambda: [ingest_file(con, f, s, settings)
                                   for f, s in inbox_files(settings)])
from indicators.refresh import refresh
step("refresh (tags, duplicates, indicators)", lambda: refresh(con, as_of, watched=settings.watched_countries))
from validation.suites import run_validation
step("validate (GX suites + Data Docs)", lambda: run_validation(con, as_of, settings))
from alerts.lifecycle import evaluate_alerts
step("alerts", lambda: evaluate_alerts(con, as_of, settings))
from reports.delivery import email_weekly_report
from reports.weekly import build_weekly_report
step("weekly report + email", lambda: email_weekly_report(con, build_weekly_report(con, as_of, settings), settings))
con.close()
print(json.dumps({"steps": steps, "total_in_process": time.perf_counter() - t0}))
"""


def prepared_copy(base: Path, folder: Path, new_rows: Path) -> dict:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "inbox" / "acled").mkdir(parents=True)
    shutil.copyfile(base, folder / "wh.duckdb")
    shutil.copyfile(new_rows, folder / "inbox" / "acled" / "new.csv")
    (folder / "riskwatch.toml").write_text((ROOT / "riskwatch.toml").read_text())
    env = {**os.environ, "RISKWATCH_WAREHOUSE": str(folder / "wh.duckdb"),
           "RISKWATCH_CONFIG": str(folder / "riskwatch.toml"), "RISKWATCH_ALERT_TO": "desk@example.org",
           "RISKWATCH_REPORT_TO": "desk@example.org",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("RISKWATCH_SMTP_HOST", None)
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workdir", default="/tmp/rwbench")
    ap.add_argument("--no-readme", action="store_true")
    a = ap.parse_args()
    workdir = Path(a.workdir)
    base = base_warehouse(a.rows, workdir, "3GB")
    refreshed = workdir / f"run_base_{a.rows}.duckdb"
    if not refreshed.exists():
        shutil.copyfile(base, refreshed)
        from indicators.refresh import refresh
        from warehouse import db
        con = db.connect(refreshed)
        refresh(con, AS_OF, watched=WATCHED)
        con.close()
    new_rows = new_rows_file(workdir)
    cli = Path(sys.executable).with_name("riskwatch")
    env = prepared_copy(refreshed, workdir / "run_prefect", new_rows)
    start = time.perf_counter()
    subprocess.run([str(cli), "run", "--as-of", AS_OF.isoformat()], cwd=workdir / "run_prefect", env=env,
                   check=True, capture_output=True)
    with_prefect = time.perf_counter() - start
    env = prepared_copy(refreshed, workdir / "run_direct", new_rows)
    # -P: the working directory, where the run writes reports/, must not shadow the reports package.
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-P", "-c", DIRECT, AS_OF.isoformat()], cwd=workdir / "run_direct", env=env,
                         check=True, capture_output=True, text=True)
    direct = time.perf_counter() - start
    steps = json.loads(out.stdout.strip().splitlines()[-1])["steps"]
    rows = [("`riskwatch run` (pipeline flow, ephemeral Prefect API), whole process", with_prefect),
            ("the same steps without Prefect, whole process", direct),
            ("Prefect overhead (difference)", with_prefect - direct),
            *((f"  our work: {name}", t) for name, t in steps.items()),
            ("  our work, all steps", sum(steps.values()))]
    table = "| what | time (s) |\n|---|---:|\n" + "\n".join(f"| {n} | {t:.2f} |" for n, t in rows)
    section = (f"`python bench/bench_run.py --rows {a.rows}` — {machine()}; {a.rows:,} incidents + 1,000 new."
               f"\n\n{__doc__.split(chr(10) * 2, 2)[2].strip()}\n\n{table}\n\nTarget: our own work under 10 s.")
    publish("End-to-end run", section, to_readme=not a.no_readme)


if __name__ == "__main__":
    main()
