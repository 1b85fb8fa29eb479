"""`make test`: the whole suite on both warehouse backends at once.

The embedded run is `pytest -q` on DuckDB files; the lake run is the same suite with RISKWATCH_TEST_BACKEND=ducklake
(tests/lake_mode.py: every warehouse a DuckLake whose catalog is a PostgreSQL database on 127.0.0.1:5432, made
and dropped by the run). Each run spreads its test files over two pytest-xdist workers (`-n 2 --dist loadfile`),
so the four workers keep both cores busy until the end instead of one long run finishing alone. Each run's
output is printed whole when it ends; the exit code is non-zero when either failed. Extra arguments go to both
runs (`python tools/test_both_backends.py -x tests/alerts`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

RUNS = {"embedded DuckDB": {"RISKWATCH_TEST_BACKEND": "duckdb"},
        "DuckLake (PostgreSQL catalog)": {"RISKWATCH_TEST_BACKEND": "ducklake"}}
WORKERS = os.environ.get("RISKWATCH_TEST_WORKERS", "2")


def main(args: list[str]) -> int:
    started, procs = time.monotonic(), {}
    for name, env in RUNS.items():
        out = tempfile.TemporaryFile(mode="w+")
        cmd = [sys.executable, "-m", "pytest", "-q", "-n", WORKERS, "--dist", "loadfile", *args]
        procs[name] = (subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT), out)
    codes = {}
    for name, (proc, out) in procs.items():
        codes[name] = proc.wait()
        out.seek(0)
        print(f"===== {name}: exit {codes[name]} =====", flush=True)
        sys.stdout.write(out.read())
    print(f"===== both backends in {time.monotonic() - started:.0f} s: "
          + ", ".join(f"{n} {'passed' if c == 0 else f'FAILED (exit {c})'}" for n, c in codes.items()), flush=True)
    return 0 if all(c == 0 for c in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
