"""One refresh of the derived data: tags -> cross-source links -> indicator values."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field

import duckdb

from indicators.compute import ComputeResult, compute_indicators
from indicators.episodes import refresh_episodes
from indicators.links import refresh_links
from indicators.tags import refresh_tags
from warehouse.db import transaction


@dataclass
class RefreshResult:
    tags: dict
    duplicates: int
    indicators: ComputeResult
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step

    def summary(self) -> str:
        ind = self.indicators
        return (
            f"tags: {self.tags['incidents_retagged']} incident(s) retagged "
            f"({'full' if self.tags['full'] else 'changed only'}); "
            f"cross-source duplicates: {self.duplicates}; indicators ({ind.mode}, as of {ind.as_of}): "
            f"{ind.periods_recomputed} period(s) recomputed, {ind.values_written} value(s) written, "
            f"{ind.past_values_changed} past value(s) changed"
            + (" [history used: revisions after the as-of date left out]" if ind.used_history else "")
            + "; took " + ", ".join(f"{step} {secs:.2f} s" for step, secs in self.seconds.items())
        )

    def as_dict(self) -> dict:
        return {"tags": self.tags, "duplicates": self.duplicates, "indicators": asdict(self.indicators),
                "seconds": self.seconds}


def refresh(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, *, watched: list[str], full: bool = False,
    since: dt.date | None = None,
) -> RefreshResult:
    seconds, start = {}, time.perf_counter()
    tag_result = refresh_tags(con, full=full)  # resolves places first: rules read admin1_code
    seconds["tags"], start = time.perf_counter() - start, time.perf_counter()
    with transaction(con):
        linked = refresh_links(con)
        refresh_episodes(con)
    seconds["duplicates"], start = time.perf_counter() - start, time.perf_counter()
    # Periods of records that joined or left an event are recomputed too, wherever their dates lie.
    since = min(d for d in (since, linked.changed_since) if d) if (since or linked.changed_since) else None
    values = compute_indicators(con, as_of, watched=watched, full=full, since=since)
    seconds["indicators"] = time.perf_counter() - start
    return RefreshResult(tags=tag_result, duplicates=linked.links, indicators=values, seconds=seconds)
