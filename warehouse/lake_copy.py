"""Moving an embedded warehouse into a lake: every table copied in one transaction, then counted on both sides.

The lake gets the schema from the same migrations (warehouse/db.py); the file is attached read-only into the
lake's connection and each table is copied BY NAME, so a column order difference cannot shift values.
The migration bookkeeping (schema_migrations, schema_views) is the lake's own and is not copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from riskwatch.settings import Lake
from warehouse import db

OWN = {"schema_migrations", "schema_views"}


class LakeNotEmpty(RuntimeError):
    """The target lake already holds data: copying into it would mix two warehouses."""


@dataclass
class TableCopy:
    table: str
    source_rows: int
    lake_rows: int

    @property
    def ok(self) -> bool:
        return self.source_rows == self.lake_rows


def _tables(con: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' AND NOT temporary "
        "ORDER BY table_name", [database]).fetchall() if r[0] not in OWN]


def copy_to_lake(source: str | Path, lake: Lake) -> list[TableCopy]:
    """Copy the embedded warehouse at `source` into `lake` (created when new, refused when it holds data)."""
    db.connect(source, lake=None).close()   # the file's own migrations and crash recovery first
    con = db.connect(source, lake=lake)
    try:
        tables = _tables(con, "lake")
        filled = [t for t in tables if t != "id_counters"
                  and con.execute(f'SELECT count(*) FROM lake.main."{t}"').fetchone()[0]]
        if filled:
            raise LakeNotEmpty(f"the lake already holds data ({', '.join(filled[:5])}): migrate into a new lake "
                               "(another metadata_schema / catalog and data_path)")
        con.execute(f"ATTACH '{str(Path(source).resolve())}' AS src (READ_ONLY)")
        missing = sorted(set(_tables(con, "src")) - set(tables))
        if missing:
            raise RuntimeError(f"tables only in {source}: {', '.join(missing)} (newer than this riskwatch?)")
        with db.transaction(con):
            for t in tables:
                con.execute(f'DELETE FROM lake.main."{t}"')
                con.execute(f'INSERT INTO lake.main."{t}" BY NAME SELECT * FROM src.main."{t}"')
        counts = [TableCopy(t, con.execute(f'SELECT count(*) FROM src.main."{t}"').fetchone()[0],
                            con.execute(f'SELECT count(*) FROM lake.main."{t}"').fetchone()[0]) for t in tables]
        con.execute("DETACH src")
        return counts
    finally:
        con.close()
