"""Cross-source deduplication into incident_duplicates (rule in dedup.yml, documented in the README)."""

from __future__ import annotations

import copy
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import yaml

CONFIG = Path(__file__).with_name("dedup.yml")


def load_config(path: Path = CONFIG) -> dict[str, Any]:
    """The file as it is now: read on every call, parsed once per distinct content (a long-running
    `serve` picks up an edit at its next refresh, like config_hash does)."""
    return copy.deepcopy(_parsed(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=8)
def _parsed(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)


def config_hash(path: Path = CONFIG) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _families_sql(cfg: dict) -> str:
    rows = [f"('{t.replace(chr(39), chr(39) * 2)}', '{fam}')" for fam, types in cfg["families"].items() for t in types]
    return "SELECT * FROM (VALUES " + ", ".join(rows) + ") f(event_type, family)"


def refresh_duplicates(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute incident_duplicates over the current incidents; returns the number of links.

    For each pair of sources (better-ranked first) a record of the worse-ranked source links to its
    closest match in the better one; each record is matched at most once per source pair, so two
    distinct events of one source never collapse into one.
    """
    cfg = load_config()
    sources = [r[0] for r in con.execute("SELECT DISTINCT source FROM incident_current").fetchall()]
    ranked = sorted(sources, key=lambda s: (cfg["source_priority"].index(s) if s in cfg["source_priority"]
                                            else len(cfg["source_priority"]), s))
    con.execute("DELETE FROM incident_duplicates")
    if len(ranked) < 2:
        return 0
    con.execute(f"CREATE OR REPLACE TEMP TABLE _fam AS {_families_sql(cfg)}")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _dd AS SELECT i.incident_id, i.source, i.event_date, i.country_iso3, "
        "i.admin2, i.latitude, i.longitude, coalesce(i.geo_precision, 1) AS geo_precision, f.family "
        "FROM incident_current i JOIN _fam f USING (event_type) WHERE NOT i.is_deleted"
    )
    params = {"days": cfg["max_days_apart"], "km": cfg["max_distance_km"], "coarse": cfg["coarse_geo_precision"]}
    for rank, worse in enumerate(ranked[1:], start=1):
        for better in ranked[:rank]:
            con.execute(
                "INSERT INTO incident_duplicates SELECT incident_id, duplicate_of, 'dedup.yml', "
                "CAST(current_timestamp AS TIMESTAMP) FROM ("
                " SELECT w.incident_id, b.incident_id AS duplicate_of,"
                "  row_number() OVER (PARTITION BY w.incident_id ORDER BY abs(w.event_date - b.event_date), km) AS rw,"
                "  row_number() OVER (PARTITION BY b.incident_id ORDER BY abs(w.event_date - b.event_date), km) AS rb"
                " FROM (SELECT *, 0 AS k FROM _dd WHERE source = $worse) w"
                " JOIN (SELECT * FROM _dd WHERE source = $better) b"
                "  ON w.country_iso3 = b.country_iso3 AND w.family = b.family"
                "  AND b.event_date BETWEEN w.event_date - $days AND w.event_date + $days,"
                " LATERAL (SELECT 6371 * 2 * asin(sqrt(pow(sin(radians(b.latitude - w.latitude) / 2), 2) + "
                "  cos(radians(w.latitude)) * cos(radians(b.latitude)) * "
                "  pow(sin(radians(b.longitude - w.longitude) / 2), 2))) AS km)"
                " WHERE (km <= $km OR (greatest(w.geo_precision, b.geo_precision) >= $coarse AND w.admin2 = b.admin2))"
                "  AND w.incident_id NOT IN (SELECT incident_id FROM incident_duplicates)"
                ") WHERE rw = 1 AND rb = 1",
                {**params, "worse": worse, "better": better},
            )
    return con.execute("SELECT count(*) FROM incident_duplicates").fetchone()[0]
