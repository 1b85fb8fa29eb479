"""Country names -> ISO 3166 alpha-3 through pycountry (no hand-kept table), cached in the warehouse.

Names are matched exactly (pycountry's lookup), then by their words regardless of order, accents
and filler words ('Democratic Republic of Congo' = 'Congo, The Democratic Republic of the').
country_aliases.yml holds only the names the sources use that ISO 3166 does not carry (Kosovo,
older English names). Anything else is unknown: a rejection reason, never a guess.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from pathlib import Path

import duckdb
import pycountry
import yaml

from warehouse.sources.mapping import literal

_PREFIXES = re.compile(r"^(government of|military forces of|police forces of)\s+", re.I)
_FILLER = {"the", "of", "and", "republic"}


def _words(text: str) -> frozenset[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return frozenset(w for w in re.findall(r"[a-z]+", plain) if w not in _FILLER)


@cache
def _by_words() -> dict[frozenset[str], set[str]]:
    index: dict[frozenset[str], set[str]] = {}
    for c in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            if getattr(c, attr, None):
                index.setdefault(_words(getattr(c, attr)), set()).add(c.alpha_3)
    return index


@cache
def _aliases() -> dict[str, str]:
    raw = yaml.safe_load((Path(__file__).parent / "country_aliases.yml").read_text(encoding="utf-8"))
    return {k.lower(): v for k, v in (raw or {}).items()}


@lru_cache(maxsize=4096)
def iso3(name: str | None) -> str | None:
    """ISO alpha-3 for a country name, code, common/official name or state label; None when unknown."""
    if not name or not name.strip():
        return None
    text = _PREFIXES.sub("", name.strip())
    text = re.sub(r"\s*\(.*\)$", "", text).strip()
    if text.lower() in _aliases():
        return _aliases()[text.lower()]
    try:
        return pycountry.countries.lookup(text).alpha_3
    except LookupError:
        pass
    hits = _by_words().get(_words(text), set())
    return next(iter(hits)) if len(hits) == 1 else None


def seed_known_names(con: duckdb.DuckDBPyConnection) -> int:
    """Cache every ISO 3166 name (and alias) once, so a load joins a table instead of calling Python per name."""
    names = {alias: code for alias, code in _aliases().items()}
    names.update({k: v for k, v in ((n, c.alpha_3) for c in pycountry.countries
                                    for n in (c.name, getattr(c, "official_name", None),
                                              getattr(c, "common_name", None), c.alpha_3) if n)})
    have = {r[0] for r in con.execute("SELECT name FROM country_names").fetchall()}
    todo = [(n, code) for n, code in names.items() if n not in have and n.lower() not in have]
    if todo:
        values = ", ".join("(" + ", ".join(literal(x) for x in pair) + ")" for pair in todo)
        con.execute(f"INSERT INTO country_names VALUES {values}")
    return len(todo)


def country_map_sql(con: duckdb.DuckDBPyConnection) -> str:
    """A DuckDB MAP literal of every resolved name in `country_names` -> ISO3, used as `(map)[name]`.

    A map, not a join: DuckDB underestimates a CSV scan and would build a join's hash table on the file.
    """
    pairs = con.execute("SELECT name, iso3 FROM country_names WHERE iso3 IS NOT NULL ORDER BY name").fetchall()
    if not pairs:
        return "MAP([]::VARCHAR[], []::VARCHAR[])"
    return "MAP {" + ", ".join(f"{literal(n)}: {literal(c)}" for n, c in pairs) + "}"


def resolve_new_names(con: duckdb.DuckDBPyConnection, names_sql: str) -> int:
    """Add to `country_names` every distinct name produced by `names_sql` not seen before."""
    new = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT n FROM ({names_sql}) t(n) WHERE n IS NOT NULL "
            "AND n NOT IN (SELECT name FROM country_names)"
        ).fetchall()
    ]
    if new:
        con.executemany("INSERT INTO country_names VALUES (?, ?)", [(n, iso3(n)) for n in new])
    return len(new)
