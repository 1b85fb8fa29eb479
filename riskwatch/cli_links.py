"""`riskwatch links`: cross-source links to review, weakest first, both records side by side."""

from __future__ import annotations

import click

from riskwatch.cli import open_reader
from riskwatch.settings import Settings
from warehouse.query import FORMATS, render


@click.command("links")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many links.")
@click.option("--source", default=None, help="Only links with a record of this source on either side.")
@click.option("--max-score", type=click.FloatRange(0, 1), default=None, help="Only links scoring at most this.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table: one block per link, fields side by side; csv/json: one row per link (a_*, b_* fields).")
@click.pass_obj
def links(settings: Settings, limit: int, source: str | None, max_score: float | None, fmt: str) -> None:
    """List cross-source links to review, lowest scores first, with both records side by side.

    A wrong link goes into indicators/link_overrides.yml as `forbidden`, a missed one as `confirmed`
    (with a note); the next `riskwatch indicators` honours them.

    \b
    Examples:
      riskwatch links
      riskwatch links --source gtd --limit 50
      riskwatch links --max-score 0.7 --format csv > review.csv
    """
    from indicators.link_review import links_to_review, side_by_side

    con = open_reader(settings)
    try:
        columns, rows = links_to_review(con, limit=limit, source=source, max_score=max_score)
    finally:
        con.close()
    if fmt != "table":
        click.echo(render(columns, rows, fmt))
        return
    if not rows:
        click.echo("no links (run `riskwatch indicators` to compute them)")
    for row in rows:
        r = dict(zip(columns, row, strict=True))
        via = "" if r["matched_with"] == r["duplicate_of"] else f" (event's canonical record: {r['duplicate_of']})"
        click.echo(f"\nscore {r['score']:.2f} [{r['rule']}]{via}: {r['reasons']}")
        click.echo(render(*side_by_side(columns, row), max_width=60))
