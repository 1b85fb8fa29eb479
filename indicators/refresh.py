"""One refresh of the derived data: tags -> cross-source duplicates -> indicator values."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import duckdb

from indicators.compute import ComputeResult, compute_indicators
from indicators.dedup import refresh_duplicates
from indicators.tags import refresh_tags


@dataclass
class RefreshResult:
    tags: dict
    duplicates: int
    indicators: ComputeResult

    def summary(self) -> str:
        ind = self.indicators
        return (
            f"tags: {self.tags['incidents_retagged']} incident(s) retagged "
            f"({'full' if self.tags['full'] else 'changed only'}); "
            f"cross-source duplicates: {self.duplicates}; indicators ({ind.mode}, as of {ind.as_of}): "
            f"{ind.periods_recomputed} period(s) recomputed, {ind.values_written} value(s) written, "
            f"{ind.past_values_changed} past value(s) changed"
            + (" [history used: revisions after the as-of date left out]" if ind.used_history else "")
        )

    def as_dict(self) -> dict:
        return {"tags": self.tags, "duplicates": self.duplicates, "indicators": asdict(self.indicators)}


def refresh(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, *, watched: list[str], full: bool = False,
    since: dt.date | None = None,
) -> RefreshResult:
    tag_result = refresh_tags(con, full=full)
    con.execute("BEGIN TRANSACTION")
    try:
        links = refresh_duplicates(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    values = compute_indicators(con, as_of, watched=watched, full=full, since=since)
    return RefreshResult(tags=tag_result, duplicates=links, indicators=values)
