"""Parts: records that a record of another source reports together with others (links.yml `aggregates`).

UCDP often codes one event for a day's drone strikes in one place where BIJ lists each strike. One-to-one
linking joins the UCDP record to one of them; the others would look unreported. Such a record (its own text
says several strikes) may take, as parts, the other candidates of that source that have no link to its
source: each part stays its own event and counts once, and the aggregate never represents an event.
"""

from __future__ import annotations

import duckdb

from warehouse.sources.mapping import literal


def assign_parts(con: duckdb.DuckDBPyConnection, cfg: dict) -> None:
    """_lk_part (part, whole, score, reasons) from the candidates (_lk_cand), the picked links (_lk_pick)
    and the events they form (_lk_label): each part takes its best aggregate.

    A record is an aggregate of a candidate when its own text says several events (links.yml `aggregates`),
    or, for the sources and families of `aggregate_by_toll`, when its toll is more than the record it is
    linked to can explain and that record's toll plus the candidate's still fits in it."""
    by_toll = cfg.get("aggregate_by_toll") or {}
    sources = ", ".join(literal(x) for x in by_toll.get("sources") or []) or "NULL"
    families = ", ".join(literal(x) for x in by_toll.get("families") or []) or "NULL"
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE _lk_part AS
-- only same-day candidates of records that may be aggregates (few): the rest never have parts
WITH agg AS (SELECT incident_id FROM _lk_rec
             WHERE aggregate OR (source IN ({sources}) AND family IN ({families}))),
cand AS (SELECT b AS part, source_b AS part_source, a AS whole, source_a AS whole_source, gap, score, reasons
         FROM _lk_cand SEMI JOIN agg ON agg.incident_id = a WHERE gap = 0 UNION ALL
         SELECT a, source_a, b, source_b, gap, score, reasons FROM _lk_cand SEMI JOIN agg ON agg.incident_id = b
         WHERE gap = 0),
-- the record each whole is linked to directly, per source
partner AS (SELECT a AS whole, b AS partner, source_b AS source FROM _lk_pick
            UNION ALL SELECT b, a, source_a FROM _lk_pick),
c AS (SELECT cand.*, w.aggregate AS says_several,
             coalesce(w.source IN ({sources}) AND w.family IN ({families}) AND q.f_lo > 0
                      AND w.f_lo > pr.f_hi AND pr.f_lo + q.f_lo <= w.f_hi, false) AS toll_several
      FROM cand JOIN partner pt ON pt.whole = cand.whole AND pt.source = cand.part_source
      JOIN _lk_rec w ON w.incident_id = cand.whole JOIN _lk_rec pr ON pr.incident_id = pt.partner
      JOIN _lk_rec q ON q.incident_id = cand.part
      WHERE cand.gap = 0 AND pt.partner <> cand.part),                             -- a day's events
-- the sources each candidate part's event holds
ev AS (SELECT l.id, r.source FROM _lk_label l SEMI JOIN c ON c.part = l.id JOIN _lk_label m ON m.label = l.label
       JOIN _lk_rec r ON r.incident_id = m.id)
SELECT part, whole, score,
       CASE WHEN says_several THEN 'its text reports several' ELSE 'its toll sums several' END || '; ' || reasons
           AS reasons
FROM c
WHERE (says_several OR toll_several)
  AND NOT EXISTS (SELECT 1 FROM ev WHERE ev.id = c.part AND ev.source = c.whole_source)      -- part is free
QUALIFY row_number() OVER (PARTITION BY part ORDER BY score DESC, whole) = 1""")


def write_parts(con: duckdb.DuckDBPyConnection) -> None:
    """incident_link_parts from _lk_part; rows that did not change keep their matched_at."""
    con.execute("CREATE OR REPLACE TEMP TABLE _lk_part_new AS SELECT part AS incident_id, whole AS part_of, score, "
                "'part of ' || whole || ', ' || reasons AS reasons FROM _lk_part")
    con.execute("DELETE FROM incident_link_parts d WHERE NOT EXISTS (SELECT 1 FROM _lk_part_new n WHERE "
                "n.incident_id = d.incident_id AND n.part_of = d.part_of AND n.score IS NOT DISTINCT FROM d.score "
                "AND n.reasons IS NOT DISTINCT FROM d.reasons)")
    con.execute("INSERT INTO incident_link_parts SELECT incident_id, part_of, score, reasons, "
                "CAST(current_timestamp AS TIMESTAMP) FROM _lk_part_new "
                "ANTI JOIN incident_link_parts USING (incident_id)")
    con.execute("DROP TABLE temp._lk_part_new; DROP TABLE temp._lk_part")
