"""Known episodes (alerts/episodes/*.yml): what the alert rules must react to, and whether they did."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_EPISODES = Path(__file__).parent / "episodes" / "pakistan.yml"
_REQUIRED = ("date", "place", "what", "indicator", "sources")


@dataclass(frozen=True)
class Episode:
    date: dt.date
    place: str
    what: str
    indicator: str
    series: str | None = None
    sources: tuple[str, ...] = ()


@dataclass
class EpisodeResult:
    episode: Episode
    in_data: bool                 # the indicator has a non-zero value for the period holding the date
    alerted: bool = False
    rule: str = ""
    period: str = ""
    fired_on: dt.date | None = None
    delay_days: int | None = None     # fired_on - episode date (negative: the period was already alerting)
    notes: list[str] = field(default_factory=list)


def load_episodes(path: str | Path | None = None) -> list[Episode]:
    """The episodes of a YAML file; a missing key or a bad date fails with the entry's number."""
    path = Path(path) if path else DEFAULT_EPISODES
    try:
        # BaseLoader: every scalar a string, so a bad date is reported here with its entry, not by YAML.
        spec = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read episodes: {str(exc).splitlines()[0]}") from None
    found = []
    for i, e in enumerate(spec.get("episodes") or [] if isinstance(spec, dict) else [], start=1):
        missing = [k for k in _REQUIRED if not isinstance(e, dict) or not e.get(k)]
        if missing:
            raise ValueError(f"{path}: episode #{i}: missing {', '.join(missing)}")
        try:
            day = dt.date.fromisoformat(e["date"])
        except ValueError:
            raise ValueError(f"{path}: episode #{i}: date {e['date']!r} is not YYYY-MM-DD") from None
        found.append(Episode(day, str(e["place"]), str(e["what"]), str(e["indicator"]),
                             str(e["series"]) if e.get("series") else None, tuple(map(str, e["sources"]))))
    if not found:
        raise ValueError(f"{path}: no episodes (expected a list under `episodes:`)")
    return found
