"""Loads a crash left half-done are completed or undone before the next writer works on the warehouse.

Why: DuckDB 1.5.5 can replay a killed COMMIT only in part - a big INSERT (written straight to the
database file) kept while the small rows of the same transaction are lost (tools/repro_wal_half_commit.py).
So a load never relies on one COMMIT being atomic. It goes through states recorded in ingest_runs:

    staging  the run row, committed alone before any data is written
    loaded   data, history and rejects written; committed with the run's counts
    success  set only after the rows carrying the run id match those counts (publish)

`recover` (every writer's start, `riskwatch doctor`) publishes a 'loaded' run whose rows match, and undoes
every other unfinished run - and rows whose run id has no ingest_runs row at all. Undo deletes the rows
carrying the run id and restores the versions the run archived (incident_history rows closed at the run's
start time, valid_to = started_at), in steps that can each be repeated after another crash.

On a lake several writers load at once, each commit is atomic, and a 'staging' run may be another live
process's: it is undone only when its writer (recorded as host:pid in the run's message while it stages) is
a dead process of this host, or when it has been staging longer than STALE_AFTER (a writer on another host).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

UNFINISHED = ("staging", "loaded", "running")
KILL_ENV = "RISKWATCH_KILL_AT"      # test hook: the phase at which the process SIGKILLs itself
_active: set[int] = set()           # runs this process is loading now: never "recovered" under its feet
STALE_AFTER = dt.timedelta(hours=6)  # lake: a run staging this long on another host is a dead writer's


def writer_tag() -> str:
    """'writer <host>:<pid>', kept in a staging run's message so recovery on a lake can tell whose it is."""
    return f"writer {socket.gethostname()}:{os.getpid()}"


def _abandoned(message: str | None, started: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a lake run still staging belongs to no live writer."""
    host, _, pid = (message or "").removeprefix("writer ").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return started is None or now - started > STALE_AFTER


@dataclass
class Recovery:
    published: list[int] = field(default_factory=list)   # 'loaded' runs whose rows matched: now 'success'
    undone: list[int] = field(default_factory=list)      # runs rolled back to the state before them

    def summary(self) -> str:
        if not (self.published or self.undone):
            return "no interrupted loads"
        return (f"{len(self.published)} interrupted load(s) completed {self.published}, "
                f"{len(self.undone)} undone {self.undone}")


def crash_point(phase: str, con: duckdb.DuckDBPyConnection | None = None) -> None:
    """Test hook: SIGKILL this process at `phase` when RISKWATCH_KILL_AT names it.

    `commit` kills from a watcher thread as soon as DuckDB grows the .wal during the COMMIT that follows.
    """
    wanted = os.environ.get(KILL_ENV)
    if wanted != phase:
        return
    if phase != "commit" or con is None:
        os.kill(os.getpid(), signal.SIGKILL)
    wal = Path(f"{database_path(con)}.wal")
    start = wal.stat().st_size if wal.exists() else 0

    def watch() -> None:
        while not (wal.exists() and wal.stat().st_size != start):
            time.sleep(0.0002)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True).start()


def database_path(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]


def _expected(kind: str, inserted: int, updated: int, deleted: int) -> tuple[int, int]:
    """(rows in incident_current carrying the run id, history rows it archived) of a complete load."""
    return (deleted, deleted) if kind == "deletions" else (inserted + updated, updated)


def written(con: duckdb.DuckDBPyConnection, run_id: int, source: str, started: dt.datetime) -> tuple[int, int]:
    """(current rows carrying `run_id`, history rows closed at `started` for `source`) as stored now."""
    return con.execute(
        "SELECT (SELECT count(*) FROM incident_current WHERE ingest_run_id = $run), "
        "(SELECT count(*) FROM incident_history WHERE valid_to = $started AND source = $source)",
        {"run": run_id, "started": started, "source": source}).fetchone()


def publish(con: duckdb.DuckDBPyConnection, run_id: int) -> bool:
    """Mark a 'loaded' run 'success' when its stored rows match its counts; False (unchanged) otherwise."""
    row = con.execute("SELECT kind, source, started_at, inserted, updated, deleted FROM ingest_runs "
                      "WHERE run_id = ? AND status = 'loaded'", [run_id]).fetchone()
    if row is None:
        return con.execute("SELECT count(*) FROM ingest_runs WHERE run_id = ? AND status = 'success'",
                           [run_id]).fetchone()[0] == 1
    kind, source, started, inserted, updated, deleted = row
    if written(con, run_id, source, started) != _expected(kind, inserted, updated, deleted):
        return False
    con.execute("UPDATE ingest_runs SET status = 'success' WHERE run_id = ? AND status = 'loaded'", [run_id])
    return True


def undo(con: duckdb.DuckDBPyConnection, run_id: int, source: str | None, started: dt.datetime | None,
         reason: str) -> None:
    """Put back the state before run `run_id`; safe to repeat after a crash at any point of it."""
    from warehouse.db import transaction

    if started is not None:
        params = {"run": run_id, "started": started, "source": source}
        archived = "SELECT incident_id FROM incident_history WHERE valid_to = $started AND source = $source"
        with transaction(con):   # 1: the run's rows out, the versions it superseded back (repeatable)
            con.execute(f"DELETE FROM incident_current WHERE ingest_run_id = $run OR incident_id IN ({archived})",
                        params)
            con.execute("INSERT INTO incident_current SELECT * EXCLUDE (valid_to) FROM incident_history "
                        "WHERE valid_to = $started AND source = $source", {"started": started, "source": source})
    else:
        con.execute("DELETE FROM incident_current WHERE ingest_run_id = ?", [run_id])
    with transaction(con):       # 2: only once 1 is durable, forget the archived copies and the rejects
        if started is not None:
            con.execute("DELETE FROM incident_history WHERE valid_to = $started AND source = $source",
                        {"started": started, "source": source})
        con.execute("DELETE FROM rejected_rows WHERE ingest_run_id = ?", [run_id])
        con.execute("UPDATE ingest_runs SET status = 'failed', message = ?, finished_at = "
                    "CAST(current_timestamp AS TIMESTAMP) WHERE run_id = ?", [reason, run_id])


def recover(con: duckdb.DuckDBPyConnection) -> Recovery:
    """Complete or undo every load a crash interrupted (see the module docstring)."""
    from warehouse.lake import is_lake

    done = Recovery()
    on_lake = is_lake(con)
    now = con.execute("SELECT CAST(current_timestamp AS TIMESTAMP)").fetchone()[0]
    placeholders = ", ".join(f"'{s}'" for s in UNFINISHED)
    unfinished = con.execute(f"SELECT run_id, status, source, started_at, message FROM ingest_runs WHERE status IN "
                             f"({placeholders}) ORDER BY run_id DESC").fetchall()
    for run_id, status, source, started, message in unfinished:
        if run_id in _active:
            continue
        if on_lake and status != "loaded" and not _abandoned(message, started, now):
            continue   # another writer's load in progress
        if status == "loaded" and publish(con, run_id):
            done.published.append(run_id)
            continue
        undo(con, run_id, source, started, f"interrupted while {status} (process killed or crashed); "
                                           "undone by recovery: ingest the file again")
        done.undone.append(run_id)
    if on_lake:   # a lake commit is atomic and the run row is committed first: no orphans to look for
        return done
    # Rows of a run with no ingest_runs row at all (a half-replayed COMMIT of a version before this module).
    orphans = con.execute("SELECT ingest_run_id, any_value(source), max(valid_from) FROM incident_current c "
                          "WHERE ingest_run_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ingest_runs r "
                          "WHERE r.run_id = c.ingest_run_id) GROUP BY 1").fetchall()
    for run_id, source, started in orphans:
        if run_id not in _active:
            undo(con, run_id, source, started, "orphaned rows undone by recovery")
            done.undone.append(run_id)
    return done
