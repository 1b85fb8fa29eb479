"""`make test`: the whole suite on both warehouse backends, side by side (2 cores: each run waits on
subprocesses, servers and I/O much of the time, so together they take little longer than one).

The embedded run is plain `pytest -q`; the lake run is the same with RISKWATCH_TEST_BACKEND=ducklake
(tests/lake_mode.py: a PostgreSQL database on 127.0.0.1:5432 made and dropped by the run). Each run's output
is printed whole when it ends; the exit code is non-zero when either failed. Extra arguments go to both.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

RUNS = {"embedded DuckDB": {}, "DuckLake (PostgreSQL catalog)": {"RISKWATCH_TEST_BACKEND": "ducklake"}}


def main(args: list[str]) -> int:
    started, procs = time.monotonic(), {}
    for name, env in RUNS.items():
        out = tempfile.TemporaryFile(mode="w+")
        procs[name] = (subprocess.Popen([sys.executable, "-m", "pytest", "-q", *args], env={**os.environ, **env},
                                        stdout=out, stderr=subprocess.STDOUT), out)
    codes = {}
    for name, (proc, out) in procs.items():
        codes[name] = proc.wait()
        out.seek(0)
        print(f"===== {name}: exit {codes[name]} =====", flush=True)
        sys.stdout.write(out.read())
    print(f"===== both backends in {time.monotonic() - started:.0f} s: "
          + ", ".join(f"{n} {'passed' if c == 0 else f'FAILED ({c})'}" for n, c in codes.items()), flush=True)
    return 0 if all(c == 0 for c in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
