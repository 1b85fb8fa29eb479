"""`riskwatch warehouse migrate --to ducklake`: an embedded warehouse into a lake (team mode)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from riskwatch.cli import Fail
from riskwatch.settings import Settings, SettingsError


@click.group(name="warehouse")
def warehouse_group() -> None:
    """Manage the warehouse itself: move an embedded warehouse into a lake (team mode).

    \b
    Examples:
      riskwatch warehouse migrate --to ducklake --catalog 'postgres:dbname=riskwatch host=127.0.0.1'
    """


@warehouse_group.command()
@click.option("--to", "to", type=click.Choice(["ducklake"]), required=True, help="Target backend.")
@click.option("--catalog", default=None, help="Lake catalog (default [warehouse] catalog / RISKWATCH_CATALOG).")
@click.option("--data-path", default=None, help="Lake data directory (default [warehouse] data_path).")
@click.option("--metadata-schema", default=None,
              help="Catalog schema of the lake (default [warehouse] metadata_schema).")
@click.pass_obj
def migrate(settings: Settings, to: str, catalog: str | None, data_path: str | None,
            metadata_schema: str | None) -> None:
    """Copy the embedded warehouse (--warehouse FILE) into a new lake and check every table's row count.

    Then set [warehouse] backend = "ducklake" (and the same catalog / data_path / metadata_schema) in
    riskwatch.toml: every command and flow uses the lake from then on. The file is left as it was.

    \b
    Examples:
      riskwatch --warehouse warehouse/riskwatch.duckdb warehouse migrate --to ducklake \\
          --catalog 'postgres:dbname=riskwatch host=db.example user=riskwatch' --data-path /srv/riskwatch/lake \\
          --metadata-schema riskwatch
    """
    from warehouse import db
    from warehouse.lake import LakeError
    from warehouse.lake_copy import LakeNotEmpty, copy_to_lake
    from warehouse.lock import WriterBusy, writer_lock

    source = Path(settings.warehouse)
    if not source.is_file():
        raise Fail(f"no embedded warehouse at {source} to migrate (give it with --warehouse)")
    overrides = {"RISKWATCH_BACKEND": to}
    for key, value in (("RISKWATCH_CATALOG", catalog), ("RISKWATCH_DATA_PATH", data_path),
                       ("RISKWATCH_METADATA_SCHEMA", metadata_schema)):
        if value:
            overrides[key] = value
    target = dataclasses.replace(settings, environ={**settings.environ, **overrides})
    try:
        lake = target.lake
        with writer_lock(source, timeout=settings.busy_timeout):
            counts = copy_to_lake(source, lake)
    except (SettingsError, LakeError, LakeNotEmpty, WriterBusy, db.NotAWarehouse, db.WarehouseBusy) as exc:
        raise Fail(str(exc)) from exc
    width = max(len(c.table) for c in counts)
    for c in counts:
        click.echo(f"  {c.table:<{width}}  {c.source_rows:>10}  {c.lake_rows:>10}  {'ok' if c.ok else 'MISMATCH'}")
    bad = [c.table for c in counts if not c.ok]
    if bad:
        raise Fail(f"row counts differ in {', '.join(bad)}")
    click.echo(f"copied {len(counts)} tables, {sum(c.lake_rows for c in counts)} rows, into lake "
               f"{lake.metadata_schema} (data in {lake.data_path}); set [warehouse] backend = \"ducklake\" to use it")
