"""Writing a checked batch: classify rows against the warehouse, then insert new and update revised ones.

Every function reads the staged table its caller names (`checked`, see load.StagedBatch).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from warehouse import versions
from warehouse.canonical import COLUMNS
from warehouse.sources.mapping import literal

if TYPE_CHECKING:
    from warehouse.load import IngestResult

# What the checks read (checks.yml, source vocabularies) stays in the staged table; the other columns only say
# whether they are filled, so a multi-GB file never sits twice in memory. The write re-reads the file.
CHECKED_COLUMNS = {"source_event_id", "event_date", "date_end", "latitude", "longitude", "fatalities", "country",
                   "event_type", "sub_event_type", "disorder_type", "source_updated_at", "fatalities_low",
                   "fatalities_high", "date_precision", "geo_precision"}
PAYLOAD = [c for c in COLUMNS if c not in CHECKED_COLUMNS] + ["extra"]
DATA_COLUMNS = [*COLUMNS, "country_iso3", "extra"]              # what a row carries into incident_current
INTEGER_COLUMNS = {c for c, t in COLUMNS.items() if t == "INTEGER"}   # staged as DOUBLE so checks see 2.5


def classify(con, checked: str, run: IngestResult, now: dt.datetime, first_load: bool) -> None:
    """Count the actions of the good rows of `checked`; archive the versions that updates supersede."""
    if first_load:   # every good row is new, nothing to compare
        counts = {"insert": con.execute(f"SELECT count(*) FROM {checked} WHERE _reason IS NULL").fetchone()[0]}
    else:
        counts = dict(con.execute(f"SELECT _action, count(*) FROM {checked} WHERE _reason IS NULL GROUP BY 1")
                      .fetchall())
    run.inserted, run.updated, run.unchanged = (int(counts.get(k) or 0) for k in ("insert", "update", "unchanged"))
    if run.updated:
        versions.archive(con, f"SELECT incident_id FROM {checked} WHERE _reason IS NULL AND _action = 'update'", now)


def _typed(value_of, c: str) -> str:
    return f"CAST({value_of(c)} AS INTEGER)" if c in INTEGER_COLUMNS else value_of(c)


def _insert_sql(source: str, rows_sql: str, value_of) -> str:
    select = ", ".join(_typed(value_of, c) for c in DATA_COLUMNS)
    return (f"INSERT INTO incident_current (incident_id, source, {', '.join(DATA_COLUMNS)}, row_hash, is_deleted, "
            f"first_ingested_at, valid_from, ingest_run_id, source_file, source_line) "
            f"SELECT s.incident_id, {literal(source)}, {select}, s.row_hash, false, {value_of('first_ingested_at')}, "
            f"$now, $run, $file, s._rec + 1 FROM {rows_sql}")


def write_all(con, staged: str, checked: str, source: str, path: Path, run: IngestResult, now: dt.datetime,
              numbered: bool) -> None:
    """A first load: every row of query `staged` (a second read of the file) that `checked` passed."""
    con.execute(f"SET preserve_insertion_order = {'true' if numbered else 'false'}")
    # Rejected rows may share an id with a good one: with record numbers, pick rows by number.
    keep = f"s._rec IN (SELECT _rec FROM {checked} WHERE _reason IS NULL)" if numbered else "true"
    con.execute(_insert_sql(source, f"({staged}) s WHERE {keep}",
                            lambda c: "$now" if c == "first_ingested_at" else f"s.{c}"),
                {"now": now, "run": run.run_id, "file": str(path)})


def write_changed(con, checked: str, source: str, path: Path, run: IngestResult, now: dt.datetime) -> None:
    """New rows of `checked` are inserted; revised rows are updated in place (their old version is in
    history already).

    In place, not delete + insert: deleting 1% of rows scattered over every row group makes DuckDB's
    checkpoint rewrite all of them (~1.8 s per million rows); updating them costs a fraction of that.
    """
    def value_of(c: str) -> str:
        if c == "first_ingested_at":
            return "$now"
        return f"s.{c}" if c in CHECKED_COLUMNS or c == "country_iso3" else f"s._p_{c}"

    params = {"now": now, "run": run.run_id, "file": str(path)}
    if run.inserted:
        con.execute(_insert_sql(source, f"{checked} s WHERE s._reason IS NULL AND s._action = 'insert'", value_of),
                    params)
    if run.updated:
        values = ", ".join(f"{_typed(value_of, c)} AS {c}" for c in DATA_COLUMNS)
        sets = ", ".join(f"{c} = r.{c}" for c in [*DATA_COLUMNS, "row_hash"])
        con.execute(f"UPDATE incident_current SET {sets}, is_deleted = false, valid_from = $now, ingest_run_id = $run, "
                    f"source_file = $file, source_line = r._rec + 1 FROM (SELECT s.incident_id, {values}, s.row_hash, "
                    f"s._rec FROM {checked} s WHERE s._reason IS NULL AND s._action = 'update') r "
                    f"WHERE incident_current.incident_id = r.incident_id", params)
