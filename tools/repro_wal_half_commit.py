"""Reproduce DuckDB's half-applied COMMIT after a kill (issue 11 item 3), with plain DuckDB only.

A child process commits ONE transaction holding a big INSERT (written optimistically to the database
file) and a one-row INSERT into a second table; the parent SIGKILLs it as soon as the .wal file appears
(i.e. during COMMIT). Reopening then shows, per try, whether the transaction came back whole, not at all,
or split (big table kept, small row lost) - the split is the upstream bug our ingest recovery repairs.

    python tools/repro_wal_half_commit.py --tries 9 --rows 1000000 --dir /tmp/repro
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE big (i BIGINT, s VARCHAR)")
con.execute("CREATE TABLE small (run INTEGER)")
con.execute("CHECKPOINT")
print("ready", flush=True)
con.execute("BEGIN")
con.execute("INSERT INTO small VALUES (1)")
con.execute(f"INSERT INTO big SELECT i, 'row ' || i FROM range({sys.argv[2]}) t(i)")
con.execute("COMMIT")
print("committed", flush=True)
"""


def one_try(db: Path, rows: int, delay: float) -> str:
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(rows)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    wal = Path(f"{db}.wal")
    deadline = time.monotonic() + 60
    while not (wal.exists() and wal.stat().st_size > 0) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)
    time.sleep(delay)
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.wait()
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    big, small = (con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("big", "small"))
    con.close()
    if big == rows and small == 1:
        return "whole"
    if big == 0 and small == 0:
        return "none"
    return f"SPLIT big={big} small={small}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tries", type=int, default=9)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--delay-ms", type=float, default=0.0, help="extra wait after the .wal appears")
    ap.add_argument("--dir", default="/tmp/repro_wal")
    a = ap.parse_args()
    import duckdb

    folder = Path(a.dir)
    folder.mkdir(parents=True, exist_ok=True)
    outcomes = [one_try(folder / "t.duckdb", a.rows, a.delay_ms / 1000) for _ in range(a.tries)]
    for i, o in enumerate(outcomes, 1):
        print(f"try {i}: {o}")
    split = sum(o.startswith("SPLIT") for o in outcomes)
    print(f"duckdb {duckdb.__version__}: {split} of {a.tries} kills split the transaction")


if __name__ == "__main__":
    main()
