"""Source spellings of places -> ISO 3166-2 subdivisions (pycountry) and normalised admin2 names.

One province written three ways by three sources is one series: admin1 names resolve to the ISO 3166-2
code and its current name, through warehouse/places.yml for the spellings and historical units pycountry
cannot know (FATA -> PK-KP), else by name. The results live in two small tables (migration 010) that the
`incidents` view joins, refreshed from the distinct names in the warehouse, so no row is touched.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import cache
from pathlib import Path

import duckdb
import pycountry
import yaml

from warehouse.db import records

PLACES = Path(__file__).with_name("places.yml")
# Words sources add to a unit's name that ISO 3166-2 leaves out ('Sindh Province', 'Islamabad Capital Territory').
_SUFFIXES = re.compile(r"\b(province|provinsi|division|region|state|capital territory|federal territory)\b")
# Dropped from admin2 names before comparing ('Khyber Agency' = 'Khyber').
ADMIN2_SUFFIX = r"\s+(Agency|District|Tehsil)$"


def places_hash(path: Path | None = None) -> str:
    return hashlib.sha256((path or PLACES).read_bytes()).hexdigest()[:12]


@cache
def _config(text: str) -> dict:
    raw = yaml.safe_load(text) or {}
    return {"admin1": {c: {k.lower(): v for k, v in (m or {}).items()} for c, m in (raw.get("admin1") or {}).items()},
            "admin2": {k: v for k, v in (raw.get("admin2") or {}).items()}}


def _key(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().replace("&", " and ")
    plain = _SUFFIXES.sub(" ", plain)
    return " ".join(re.findall(r"[a-z0-9]+", plain))


@cache
def _subdivisions(iso3: str) -> dict[str, tuple[str, str]]:
    """Normalised name -> (code, current name) of the country's top-level subdivisions."""
    country = pycountry.countries.get(alpha_3=iso3)
    subs = pycountry.subdivisions.get(country_code=country.alpha_2) if country else None
    return {_key(s.name): (s.code, s.name) for s in (subs or []) if not getattr(s, "parent_code", None)}


def resolve_admin1(iso3: str | None, name: str | None, path: Path | None = None) -> tuple[str | None, str | None]:
    """(ISO 3166-2 code, current name) of a source's admin1 spelling in country `iso3`, or (None, None)."""
    if not iso3 or not name or not name.strip():
        return None, None
    path = path or PLACES
    alias = _config(path.read_text(encoding="utf-8"))["admin1"].get(iso3, {}).get(name.strip().lower())
    if alias:
        sub = pycountry.subdivisions.get(code=alias)
        if sub is None:
            raise ValueError(f"{path}: {name!r} maps to {alias!r}, which is no ISO 3166-2 code")
        return sub.code, sub.name
    return _subdivisions(iso3).get(_key(name), (None, None))


def normalise_admin2(name: str | None, path: Path | None = None) -> str | None:
    """The admin2 name cross-source matching compares: places.yml's alias ('NWA' -> 'North Waziristan'), else
    the name without a trailing ' Agency' / ' District' / ' Tehsil' ('Khyber Agency' -> 'Khyber')."""
    if name is None or not name.strip():
        return name
    aliases = {k.lower(): v for k, v in _config((path or PLACES).read_text(encoding="utf-8"))["admin2"].items()}
    if name.lower() in aliases:   # an alias to null: the spelling names no district (admin2_norm NULL)
        return aliases[name.lower()]
    return re.sub(ADMIN2_SUFFIX, "", name, flags=re.IGNORECASE).strip()


def refresh_places(con: duckdb.DuckDBPyConnection, path: Path | None = None) -> dict[str, int]:
    """Rebuild admin1_places and admin2_places from the distinct names in incident_current (a few hundred:
    resolved in Python once each; the incidents view joins the tables)."""
    path = path or PLACES
    names = con.execute("SELECT DISTINCT country_iso3, admin1 FROM incident_current "
                        "WHERE country_iso3 IS NOT NULL AND nullif(trim(admin1), '') IS NOT NULL").fetchall()
    rows = [(c, n, *resolve_admin1(c, n, path)) for c, n in names]
    con.execute("DELETE FROM admin1_places")
    if rows:
        con.executemany("INSERT INTO admin1_places VALUES (?, ?, ?, ?)", rows)
    admin2 = [(n, normalise_admin2(n, path)) for (n,) in con.execute(
        "SELECT DISTINCT admin2 FROM incident_current WHERE nullif(trim(admin2), '') IS NOT NULL").fetchall()]
    con.execute("DELETE FROM admin2_places")
    if admin2:
        con.executemany("INSERT INTO admin2_places VALUES (?, ?)", admin2)
    return {"admin1": len(rows), "admin1_unresolved": sum(r[2] is None for r in rows), "admin2": len(admin2)}


def unresolved_admin1(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Source spellings that resolved to no ISO 3166-2 subdivision (each keeps its own series)."""
    return records(con.execute("SELECT country_iso3, name FROM admin1_places WHERE admin1_code IS NULL ORDER BY 1, 2"))
