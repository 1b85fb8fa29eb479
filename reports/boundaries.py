"""The borders the weekly report's map draws, vendored in reports/geo/boundaries.json (built offline by
tools/build_boundaries.py from Natural Earth, public domain), and the admin-1 unit an incident names."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

BOUNDARIES = Path(__file__).parent / "geo" / "boundaries.json"
Ring = list[list[float]]


@dataclass(frozen=True, eq=False)
class Unit:
    """A country or admin-1 unit: polygons of rings (the first ring the outline, the others its holes)."""

    iso3: str
    name: str
    polygons: list[list[Ring]]
    names: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Boundaries:
    attribution: str
    countries: list[Unit]
    admin1: list[Unit]

    def admin1_of(self, iso3: str | None, name: str | None) -> Unit | None:
        """The admin-1 unit a source's admin1 text names ('Balochistan Province' -> Balochistan), or None."""
        return _index(self).get((iso3 or "", normalise(name))) if name else None


def normalise(name: str | None) -> str:
    """Compare admin-1 names without case, punctuation or a trailing 'province'/'region'."""
    text = re.sub(r"[^a-z]+", " ", (name or "").lower().replace("&", " and "))
    return re.sub(r"\s+(province|region|state)$", "", " ".join(text.split()))


@cache
def load(path: Path = BOUNDARIES) -> Boundaries:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Boundaries(
        attribution=raw["attribution"],
        countries=[Unit(c["iso3"], c["name"], c["polygons"]) for c in raw["countries"]],
        admin1=[Unit(a["iso3"], a["name"], a["polygons"], tuple(a["names"])) for a in raw["admin1"]])


@cache
def _index(b: Boundaries) -> dict[tuple[str, str], Unit]:
    return {(u.iso3, normalise(n)): u for u in b.admin1 for n in u.names}
