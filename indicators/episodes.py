"""Episodes: rows a source codes as parts of one attack (GTD `multiple` / `related`) -> incident_episodes.

An indicator that counts episodes (definition `counts: episodes`) counts such rows once. GTD's full
export names the rows of one episode in `related` (eventids, comma-separated, kept in incidents.extra);
the processed subsets have only the `multiple` flag and no eventid, so there rows flagged `multiple = 1`
on the same day, in the same province and by the same group form one episode (the nearest the subset
allows; GTD's codebook: the parts of a multiple incident share time, place and perpetrator).
"""

from __future__ import annotations

import duckdb

_MAX_ROUNDS = 50


def refresh_episodes(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute incident_episodes from the current GTD rows; returns the number of rows in an episode."""
    con.execute("DELETE FROM incident_episodes")
    # related ids -> edges between rows present in the warehouse (a listed id may not have been loaded).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ep_edge AS "
        "WITH g AS (SELECT incident_id, source_event_id, extra->>'related' AS related, "
        "           TRY_CAST(extra->>'multiple' AS DOUBLE) = 1 AS multiple, event_date, admin1, actor1 "
        "           FROM incident_current WHERE source = 'gtd' AND NOT is_deleted), "
        "rel AS (SELECT g.incident_id AS x, o.incident_id AS y FROM g, "
        "        unnest(regexp_extract_all(g.related, '[0-9]+')) AS r(id) JOIN g o ON o.source_event_id = r.id "
        "        WHERE g.related IS NOT NULL AND o.incident_id <> g.incident_id), "
        # Subset rows (no related ids anywhere in the file shape): same day, province and group.
        "sub AS (SELECT a.incident_id AS x, b.incident_id AS y FROM g a JOIN g b ON a.event_date = b.event_date "
        "        AND a.admin1 IS NOT DISTINCT FROM b.admin1 AND a.actor1 IS NOT DISTINCT FROM b.actor1 "
        "        AND a.incident_id <> b.incident_id WHERE a.multiple AND b.multiple AND a.related IS NULL "
        "        AND b.related IS NULL AND NOT EXISTS (SELECT 1 FROM g WHERE g.related IS NOT NULL)) "
        "SELECT x, y, 'gtd related' AS rule FROM rel UNION SELECT y, x, 'gtd related' FROM rel "
        "UNION SELECT x, y, 'gtd multiple: same day, province, group' FROM sub"
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _ep_label AS SELECT x AS id, min(least(x, y)) AS label, "
                "any_value(rule) AS rule FROM _ep_edge GROUP BY x")
    for _ in range(_MAX_ROUNDS):   # label propagation: every row ends with the smallest id of its episode
        if not con.execute(
            "UPDATE _ep_label l SET label = n.label FROM (SELECT e.x AS id, min(m.label) AS label FROM _ep_edge e "
            "JOIN _ep_label m ON m.id = e.y GROUP BY e.x) n WHERE n.id = l.id AND n.label < l.label"
        ).fetchone()[0]:
            break
    n = con.execute("INSERT INTO incident_episodes SELECT id, 'episode:' || label, rule FROM _ep_label").fetchone()[0]
    con.execute("DROP TABLE temp._ep_edge; DROP TABLE temp._ep_label")
    return n
