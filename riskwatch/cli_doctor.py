"""`riskwatch doctor`: find and repair what a crash left behind (interrupted loads)."""

from __future__ import annotations

import click

from riskwatch.cli import open_writer
from riskwatch.settings import Settings


@click.command()
@click.pass_obj
def doctor(settings: Settings) -> None:
    """Complete or undo loads a crash or kill interrupted (every writer also does this when it starts).

    \b
    Examples:
      riskwatch doctor
    """
    from warehouse.recovery import recover

    con = open_writer(settings, recover=False)
    try:
        lake = settings.lake
        where = f"lake {lake.metadata_schema} ({lake.data_path})" if lake else settings.warehouse
        click.echo(f"{where}: {recover(con).summary()}")
    finally:
        con.close()
