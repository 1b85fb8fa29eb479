"""The rules of indicators/links.yml as SQL: each record's family and place keys, candidate pairs, scores.

Pure SQL builders and the config reader; indicators/links.py runs them and assigns the links.
"""

from __future__ import annotations

import copy
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from indicators.tag_conditions import condition_of, condition_sql
from warehouse.sources.mapping import literal

CONFIG = Path(__file__).with_name("links.yml")
_ROW_KEYS = {"sources", "family", "side"}


def load_config(path: Path = CONFIG) -> dict[str, Any]:
    """The file as it is now (read on every call, parsed once per distinct content), checked."""
    cfg = copy.deepcopy(_parsed(path.read_text(encoding="utf-8")))
    families = {row["family"] for row in cfg["families"]}
    for i, row in enumerate(cfg["families"]):
        where = f"{path}: families row {i + 1} ({row.get('family')})"
        if not row.get("sources") or row.get("side") not in ("state", "non_state", "none"):
            raise ValueError(f"{where}: needs sources and side (state | non_state | none)")
        extra = set(row) - _ROW_KEYS
        if extra:
            condition_sql(condition_of(row), where)
    for pair in cfg["compatible"]:
        if len(pair) != 2 or not set(pair) <= families:
            raise ValueError(f"{path}: compatible pair {pair} names a family no row defines")
    return cfg


@lru_cache(maxsize=8)
def _parsed(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)


def config_hash(path: Path = CONFIG) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def family_sql(cfg: dict) -> tuple[str, str]:
    """SQL expressions (family, side) of a record: the first families row of its source (or '*') that holds."""
    fam, side = [], []
    for row in cfg["families"]:
        srcs = [s for s in row["sources"] if s != "*"]
        applies = "true" if "*" in row["sources"] else f"source IN ({', '.join(literal(s) for s in srcs)})"
        cond = condition_sql(condition_of(row), row["family"]) if set(row) - _ROW_KEYS else "true"
        when = f"WHEN {applies} AND {cond}"
        fam.append(f"{when} THEN {literal(row['family'])}")
        side.append(f"{when} THEN {literal(row['side'])}")
    return f"CASE {' '.join(fam)} END", f"CASE {' '.join(side)} END"


def aggregate_sql(cfg: dict) -> str:
    """SQL boolean: the record reports several events of another source at once (links.yml `aggregates`)."""
    whens = []
    for row in cfg.get("aggregates") or []:
        srcs = [s for s in row["sources"] if s != "*"]
        applies = "true" if "*" in row["sources"] else f"source IN ({', '.join(literal(s) for s in srcs)})"
        whens.append(f"WHEN {applies} THEN {condition_sql(condition_of(row), 'aggregates')}")
    return f"coalesce(CASE {' '.join(whens)} END, false)" if whens else "false"


def compatible_sql(cfg: dict) -> str:
    """A relation (fa, fb, same) of the family pairs that may link, both orders."""
    pairs = {(a, b) for a, b in cfg["compatible"]} | {(b, a) for a, b in cfg["compatible"]}
    rows = ", ".join(f"({literal(a)}, {literal(b)}, {literal(a == b)})" for a, b in sorted(pairs))
    return f"SELECT * FROM (VALUES {rows}) c(fa, fb, same)"


# Words that say nothing about who acted: they would make every state or every militant group agree.
_ACTOR_STOP = ["government", "military", "forces", "police", "unknown", "civilians", "the", "and", "group",
               "pakistan", "afghanistan", "india", "iran", "unidentified", "armed", "militants", "state",
               "islamic", "movement", "front", "army", "liberation", "tribe", "lashkar"]


def _group(col: str) -> str:
    """The actor when it is an armed group; states are compared through the families instead (a UCDP side A
    names the conflict's government, not the shooter)."""
    return (f"CASE WHEN regexp_matches({col}, '^(Government|Military Forces|Police Forces) of ') THEN NULL "
            f"ELSE {col} END")


def _actors(cfg: dict) -> str:
    """The armed-group names of a record as one string, from the fields links.yml `actor_fields` lists."""
    fields = cfg["actor_fields"]
    join = lambda cols: "concat_ws(' ', " + ", ".join(_group(c) for c in cols) + ")"  # noqa: E731
    whens = " ".join(f"WHEN {literal(s)} THEN {join(cols)}" for s, cols in fields.items() if s != "*")
    return f"CASE source {whens} ELSE {join(fields['*'])} END" if whens else join(fields["*"])


def records_sql(cfg: dict) -> str:
    """One row per current record that can link: dates as a range, place keys, family, actor words."""
    family, side = family_sql(cfg)
    stop = ", ".join(literal(w) for w in _ACTOR_STOP)
    d1 = ("coalesce(date_end, CASE date_precision WHEN 4 THEN CAST(last_day(event_date) AS DATE) "
          "WHEN 5 THEN CAST(date_trunc('year', event_date) + INTERVAL 1 YEAR - INTERVAL 1 DAY AS DATE) "
          "ELSE event_date END)")
    return f"""
SELECT incident_id, source, country_iso3, CAST(event_date AS DATE) AS d0,
       CAST(greatest({d1}, event_date) AS DATE) AS d1,
       latitude AS lat, longitude AS lon, coalesce(geo_precision, 1) AS geo,
       -- places as warehouse/places.py normalised them: the ISO 3166-2 code (else the lower-cased name) and
       -- admin2 as matching compares it (NULL where the source's admin2 names no district)
       coalesce(admin1_code, nullif(lower(trim(admin1)), '')) AS a1, lower(a2_norm) AS a2,
       family, side, {aggregate_sql(cfg)} AS aggregate,
       list_filter(list_distinct(regexp_extract_all(lower({_actors(cfg)}), '[a-z0-9]{{3,}}')),
                   w -> NOT list_contains([{stop}], w)) AS words,
       coalesce(fatalities_low, fatalities) AS f_lo, coalesce(fatalities_high, fatalities) AS f_hi
FROM (SELECT c.*, p1.admin1_code, CASE WHEN p2.name IS NULL THEN nullif(trim(c.admin2), '') ELSE p2.admin2_norm END
             AS a2_norm
      FROM (SELECT *, {family} AS family, {side} AS side FROM incident_current WHERE NOT is_deleted) c
      LEFT JOIN admin1_places p1 ON p1.country_iso3 = c.country_iso3 AND p1.name = c.admin1
      LEFT JOIN admin2_places p2 ON p2.name = c.admin2)
WHERE family IS NOT NULL AND country_iso3 IS NOT NULL AND event_date IS NOT NULL"""


def candidates_sql(cfg: dict, records: str, compatible: str) -> str:
    """Candidate pairs (a, b) of two sources, a.source < b.source, with score and reasons.

    Pairs are found by equality joins, so the cost grows with the records, not their square: precisely
    located records on (country, grid cell, day), `a` spread over each day of its date range widened by
    window_days and over the cells its max_km disc can reach, `b` over its own days and cell; records with
    a coarse location on (country, admin1, day). One row is kept per pair (the first shared day).
    Cells are 2 x max_km wide in latitude and, in longitude, as wide as that is at 60 degrees (further from
    the equator a longitude degree is shorter still, so pairs near max_km apart there could be missed).
    """
    w, km, coarse = int(cfg["window_days"]), float(cfg["max_km"]), int(cfg["coarse_geo_precision"])
    wt = cfg["weights"]
    total = sum(wt.values())
    span = int(cfg["max_days_span"])
    cy = round(2 * km / 111.32, 6)           # degrees of latitude in a cell
    cx = round(2 * km / (111.32 * 0.5), 6)   # degrees of longitude at 60 degrees (cos 60 = 0.5)
    unc = cfg.get("point_uncertainty") or {}
    fams = ", ".join(literal(f) for f in unc.get("families") or [])
    unc_sql = (f"CASE WHEN family IN ({fams}) THEN CASE geo "
               + " ".join(f"WHEN {int(g)} THEN {float(k)}" for g, k in unc["km"].items()) + " ELSE 0 END ELSE 0 END"
               if unc.get("km") and fams else "0")
    gate = float(cfg["fatality_gate"]["min_agreement"])
    exempt = ", ".join(literal(f) for f in cfg["fatality_gate"]["except_families"]) or "NULL"
    return f"""
WITH r AS (SELECT *, geo >= {coarse} AS is_coarse, {unc_sql} AS unc, floor(lat / {cy}) AS gy, floor(lon / {cx}) AS gx,
                  CASE WHEN lat / {cy} - floor(lat / {cy}) < 0.5 THEN -1 ELSE 1 END AS ny,
                  CASE WHEN lon / {cx} - floor(lon / {cx}) < 0.5 THEN -1 ELSE 1 END AS nx
           FROM {records} WHERE d1 - d0 < {span}),
-- Precise pairs: grid cells twice max_km wide, so a record's max_km disc lies in its cell and the three
-- neighbours on its side; `a` goes into those 4 cells x the days of its widened range, `b` into its own
-- (b, one row per record-day, is the hash join's small build side; expanding b over the 4 cells instead
-- joins fewer rows but builds a 4x larger table, and measured no faster at 5e6: bench/README.md).
ra AS (SELECT incident_id, source, country_iso3, d0, d1, unnest([gy, gy, gy + ny, gy + ny]) AS cell_y,
              unnest([gx, gx + nx, gx, gx + nx]) AS cell_x FROM r WHERE NOT is_coarse AND unc = 0
              AND lat IS NOT NULL AND source < (SELECT max(source) FROM r)),   -- `a` is never of the last source
rad AS (SELECT *, unnest(generate_series(d0 - {w}, d1 + {w}, INTERVAL 1 DAY))::DATE AS day FROM ra),
rb AS (SELECT incident_id, source, country_iso3, d0, gy AS cell_y, gx AS cell_x,
              unnest(generate_series(d0, d1, INTERVAL 1 DAY))::DATE AS day FROM r
       WHERE NOT is_coarse AND unc = 0 AND lat IS NOT NULL),
near AS (SELECT rad.incident_id AS a, rb.incident_id AS b FROM rad JOIN rb USING (country_iso3, cell_y, cell_x, day)
         WHERE rad.source < rb.source AND day = greatest(rad.d0 - {w}, rb.d0)),
-- Pairs with a coarse record (an area's centre) or a point known only to some km (point_uncertainty,
-- further than the grid reaches): by (country, admin1, day), only where one side is such a record.
ca AS (SELECT incident_id, source, country_iso3, a1, d0, is_coarse OR unc > 0 AS is_coarse,
              unnest(generate_series(d0 - {w}, d1 + {w}, INTERVAL 1 DAY))::DATE AS day FROM r WHERE a1 IS NOT NULL),
cb AS (SELECT incident_id, source, country_iso3, a1, d0, is_coarse OR unc > 0 AS is_coarse,
              unnest(generate_series(d0, d1, INTERVAL 1 DAY))::DATE AS day FROM r WHERE a1 IS NOT NULL),
wide AS (SELECT ca.incident_id AS a, cb.incident_id AS b FROM (SELECT * FROM ca WHERE is_coarse) ca
         JOIN cb USING (country_iso3, a1, day) WHERE ca.source < cb.source AND day = greatest(ca.d0 - {w}, cb.d0)
         UNION ALL
         SELECT ca.incident_id, cb.incident_id FROM (SELECT * FROM ca WHERE NOT is_coarse) ca
         JOIN (SELECT * FROM cb WHERE is_coarse) cb USING (country_iso3, a1, day)
         WHERE ca.source < cb.source AND day = greatest(ca.d0 - {w}, cb.d0)),
pairs AS (SELECT * FROM near UNION ALL SELECT * FROM wide),
x AS (SELECT A.incident_id AS a, B.incident_id AS b, A.source AS source_a, B.source AS source_b,
             A.family AS fam_a, B.family AS fam_b, c.same,
             greatest(0, A.d0 - B.d1, B.d0 - A.d1) AS gap, greatest(A.d1 - A.d0, B.d1 - B.d0) AS span,
             6371 * 2 * asin(sqrt(pow(sin(radians(B.lat - A.lat) / 2), 2) + cos(radians(A.lat)) * cos(radians(B.lat))
                 * pow(sin(radians(B.lon - A.lon) / 2), 2))) AS km,
             greatest(A.geo, B.geo) >= {coarse} AS coarse, greatest(A.geo, B.geo) AS geo_max,
             {km} + greatest(A.unc, B.unc) AS reach,
             coalesce(A.a1 = B.a1, false) AS same_a1,
             coalesce(A.a2 = B.a2, false) AS same_a2,
             A.a2 IS NULL OR B.a2 IS NULL AS a2_missing,
             list_intersect(A.words, B.words) AS shared, len(A.words) = 0 OR len(B.words) = 0 AS actor_unknown,
             A.f_lo AS fa_lo, A.f_hi AS fa_hi, B.f_lo AS fb_lo, B.f_hi AS fb_hi,
             -- A province is a big place: known only to admin1, a record also needs a shared armed group
             -- or the same (non-zero) death toll.
             len(list_intersect(A.words, B.words)) > 0 OR coalesce(A.f_lo <= B.f_hi AND B.f_lo <= A.f_hi
                 AND greatest(A.f_hi, B.f_hi) > 0, false) AS agree
      FROM pairs p JOIN (SELECT *, {unc_sql} AS unc FROM {records}) A ON A.incident_id = p.a
      JOIN (SELECT *, {unc_sql} AS unc FROM {records}) B ON B.incident_id = p.b
      JOIN ({compatible}) c ON c.fa = A.family AND c.fb = B.family),
s AS (SELECT *,
             (1 - gap / {w + 1}) * CASE WHEN span = 0 THEN 1 WHEN span <= 7 THEN 0.8 ELSE 0.5 END AS s_date,
             CASE WHEN NOT coarse THEN 1 - 0.5 * coalesce(km, reach) / reach
                  WHEN same_a2 THEN 0.5 WHEN geo_max = {coarse} THEN 0.3 ELSE 0.2 END AS s_place,
             CASE WHEN same THEN 1 ELSE 0.6 END AS s_family,
             CASE WHEN len(shared) > 0 THEN 1 WHEN actor_unknown THEN 0.5 ELSE 0 END AS s_actor,
             CASE WHEN fa_lo IS NULL OR fb_lo IS NULL THEN 0.5
                  WHEN fa_lo <= fb_hi AND fb_lo <= fa_hi THEN 1
                  ELSE (least(fa_hi, fb_hi) + 1) / (greatest(fa_lo, fb_lo) + 1) END AS s_fat
      FROM x
      WHERE (s_fat >= {gate} OR fam_a IN ({exempt}) OR fam_b IN ({exempt}))
        -- beyond max_km (a point known only to some km) the pair must be of one day and agree on the toll
        AND ((NOT coarse AND (km <= {km} OR (km <= reach AND gap = 0
                                             AND (fa_lo IS NULL OR fb_lo IS NULL OR s_fat >= {gate}))))
         OR (coarse AND (same_a2 OR (a2_missing AND same_a1
                             AND (km <= {float(cfg["coarse_km"])} OR (geo_max > {coarse} AND agree)))))))
SELECT a, b, source_a, source_b, gap,
       round(({wt['date']} * s_date + {wt['place']} * s_place + {wt['family']} * s_family
              + {wt['actor']} * s_actor + {wt['fatalities']} * s_fat) / {total}, 4) AS score,
       concat_ws('; ', CASE WHEN gap = 0 THEN 'same dates' ELSE gap || ' day(s) apart' END
                          || CASE WHEN span > 0 THEN ' (range of ' || span + 1 || ' days)' ELSE '' END,
                 CASE WHEN NOT coarse THEN round(km, 1) || ' km' || CASE WHEN reach > {km}
                      THEN ' (a place known to ' || round(reach - {km}) || ' km)' ELSE '' END
                      WHEN same_a2 THEN 'same admin2 (coarse location)'
                      WHEN geo_max = {coarse} THEN 'admin2 centre ' || round(km) || ' km, same admin1'
                      ELSE 'same admin1 (location known to admin1 only)' END,
                 fam_a || CASE WHEN same THEN '' ELSE '~' || fam_b END,
                 CASE WHEN len(shared) > 0 THEN 'actors share ' || array_to_string(shared, ',')
                      WHEN actor_unknown THEN 'actor unknown' ELSE 'actors differ' END,
                 CASE WHEN fa_lo IS NULL OR fb_lo IS NULL THEN 'fatalities unknown'
                      ELSE 'fatalities ' || fa_lo || CASE WHEN fa_hi > fa_lo THEN '-' || fa_hi ELSE '' END
                           || ' vs ' || fb_lo || CASE WHEN fb_hi > fb_lo THEN '-' || fb_hi ELSE '' END END) AS reasons
FROM s WHERE ({wt['date']} * s_date + {wt['place']} * s_place + {wt['family']} * s_family
              + {wt['actor']} * s_actor + {wt['fatalities']} * s_fat) / {total} >= {float(cfg['min_score'])}"""
