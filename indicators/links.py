"""Cross-source links into incident_duplicates: scored candidates, one-to-one assignment, clusters.

The rules are in indicators/links.yml (SQL built by indicators/link_rules.py); analysts' confirmed and
forbidden pairs in indicators/link_overrides.yml. Every refresh recomputes all links from the current
records; rows of links that did not change are kept as they were (their matched_at says since when).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from indicators.link_parts import assign_parts, write_parts
from indicators.link_rules import candidates_sql, compatible_sql, config_hash, load_config, records_sql

OVERRIDES = Path(__file__).with_name("link_overrides.yml")
_MAX_ROUNDS = 100  # mutual-best rounds; each assigns at least the best remaining pair, real data needs < 10


@dataclass(frozen=True)
class LinkRefresh:
    links: int                      # records linked to another (rows of incident_links)
    changed_since: dt.date | None   # earliest date of a record whose event changed (None: no change)


def load_overrides(path: Path = OVERRIDES) -> dict[str, list[dict[str, Any]]]:
    """confirmed / forbidden pairs: [{incident_id, other, note}], checked so a typo fails loudly."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    data = data or {}
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in ("confirmed", "forbidden"):
        rows = data.get(kind) or []
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not row.get("incident_id") or not row.get("other") or not row.get("note"):
                raise ValueError(f"{path}: {kind} #{i + 1} needs incident_id, other and note")
            if row["incident_id"].split(":")[0] == row["other"].split(":")[0]:
                raise ValueError(f"{path}: {kind} #{i + 1}: both records are of one source; only sources link")
        out[kind] = rows
    return out


def links_hash(overrides: Path = OVERRIDES) -> str:
    """What the links depend on besides the records (part of the indicators' definitions hash)."""
    text = config_hash() + (overrides.read_text(encoding="utf-8") if overrides.exists() else "")
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _overrides_table(con: duckdb.DuckDBPyConnection, overrides: dict) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE _lk_over (a VARCHAR, b VARCHAR, kind VARCHAR, note VARCHAR)")
    rows = [(min(r["incident_id"], r["other"]), max(r["incident_id"], r["other"]), kind, r["note"])
            for kind, items in overrides.items() for r in items]
    if rows:
        con.executemany("INSERT INTO _lk_over VALUES (?, ?, ?, ?)", rows)


def refresh_links(con: duckdb.DuckDBPyConnection, *, overrides: Path = OVERRIDES) -> LinkRefresh:
    """Recompute incident_duplicates over the current incidents: how many records are linked, and from
    which date on indicator periods must be recomputed because a record joined or left an event (a link
    can span more than the day around a changed record that an incremental refresh looks at)."""
    cfg = load_config()
    _overrides_table(con, load_overrides(overrides))
    con.execute(f"CREATE OR REPLACE TEMP TABLE _lk_rec AS {records_sql(cfg)}")
    # Candidates: scored pairs of compatible records, minus forbidden pairs, plus confirmed ones (score 1,
    # assigned first) whatever the rules say: the analyst read both records.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _lk_cand AS "
        f"SELECT c.*, false AS confirmed FROM ({candidates_sql(cfg, '_lk_rec', compatible_sql(cfg))}) c "
        f"ANTI JOIN _lk_over o ON o.a = c.a AND o.b = c.b "
        f"UNION ALL SELECT o.a, o.b, ca.source, cb.source, NULL, 1.0, 'confirmed by analyst: ' || o.note, true "
        f"FROM _lk_over o JOIN incident_current ca ON ca.incident_id = o.a AND NOT ca.is_deleted "
        f"JOIN incident_current cb ON cb.incident_id = o.b AND NOT cb.is_deleted WHERE o.kind = 'confirmed'"
    )
    _assign_one_to_one(con)
    _cluster(con, cfg)
    assign_parts(con, cfg)
    return _write(con)


def _assign_one_to_one(con: duckdb.DuckDBPyConnection) -> None:
    """_lk_pick: per pair of sources each record linked at most once, best total score first.

    Rounds of mutual best: a pair is taken when it is the best remaining pair of both its records (for
    that pair of sources); the records taken leave the pool and the next round starts. This takes pairs
    in the order of the global ranking, unlike a single pass in which each record grabs its nearest
    match and a better pair can be lost to an earlier, worse one.
    """
    # Pairs whose two records have no other candidate (for this pair of sources) need no rounds: most do.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _lk_deg AS SELECT *, count(*) OVER (PARTITION BY a, source_b) = 1 "
        "AND count(*) OVER (PARTITION BY b, source_a) = 1 AS alone FROM _lk_cand")
    con.execute("CREATE OR REPLACE TEMP TABLE _lk_pick AS SELECT * EXCLUDE (alone) FROM _lk_deg WHERE alone")
    con.execute("CREATE OR REPLACE TEMP TABLE _lk_hard AS SELECT * EXCLUDE (alone) FROM _lk_deg WHERE NOT alone")
    con.execute("DROP TABLE temp._lk_deg")
    con.execute("CREATE OR REPLACE TEMP TABLE _lk_pool AS SELECT * FROM _lk_hard")
    order = "ORDER BY confirmed DESC, score DESC"
    for _ in range(_MAX_ROUNDS):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _lk_new AS SELECT * EXCLUDE (ra, rb) FROM ("
            f" SELECT *, row_number() OVER (PARTITION BY a, source_b {order}, b) AS ra,"
            f"  row_number() OVER (PARTITION BY b, source_a {order}, a) AS rb FROM _lk_pool) WHERE ra = 1 AND rb = 1"
        )
        if not con.execute("INSERT INTO _lk_pick SELECT * FROM _lk_new").fetchone()[0]:
            break
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _lk_pool AS SELECT * FROM _lk_pool p "
            "ANTI JOIN _lk_new k ON k.a = p.a AND k.source_b = p.source_b "
            "ANTI JOIN _lk_new k2 ON k2.b = p.b AND k2.source_a = p.source_a")
    con.execute("DROP TABLE temp._lk_pool; DROP TABLE IF EXISTS temp._lk_new")
    for _ in range(_MAX_ROUNDS):
        if not _augment(con):
            break
    con.execute("DROP TABLE temp._lk_hard")


def _augment(con: duckdb.DuckDBPyConnection) -> int:
    """Swap along augmenting paths of length three: a record left without a link takes a pair from a
    record that has another free match, which takes that one. Both ends gain a link, and the total score
    rises (two scores >= min_score replace one <= 1): two strikes a day in one place, reported once by
    one source and twice by the other, are not left unlinked because the better pair came first."""
    n = 0
    # (record, other source) pairs already linked: a record is free for a source when it is not here.
    con.execute("CREATE OR REPLACE TEMP TABLE _lk_taken AS SELECT a AS id, source_b AS other FROM _lk_pick "
                "UNION ALL SELECT b, source_a FROM _lk_pick")
    for free, taken, s_free, s_taken in (("a", "b", "source_b", "source_a"), ("b", "a", "source_a", "source_b")):
        # p: the picked pair (p.{free} = x2) that holds c1.{taken}; c2: x2's free alternative.
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _lk_swap AS SELECT * FROM ("
            f" SELECT c1.a AS a1, c1.b AS b1, c2.a AS a2, c2.b AS b2, p.a AS pa, p.b AS pb,"
            f"  c1.score + c2.score - p.score AS gain FROM _lk_hard c1"
            f" JOIN _lk_pick p ON p.{taken} = c1.{taken} AND p.{s_taken} = c1.{s_taken}"
            f" JOIN _lk_hard c2 ON c2.{free} = p.{free} AND c2.{s_free} = p.{s_free} AND c2.{taken} <> p.{taken}"
            f" ANTI JOIN _lk_taken t1 ON t1.id = c1.{free} AND t1.other = c1.{s_free}"
            f" ANTI JOIN _lk_taken t2 ON t2.id = c2.{taken} AND t2.other = c2.{s_taken}"
            f" WHERE NOT c1.confirmed AND NOT p.confirmed AND c1.{free} <> c2.{free}"
            f" QUALIFY row_number() OVER (PARTITION BY c1.{free}, c1.{s_free} ORDER BY gain DESC, b1, a1) = 1"
            f"  AND row_number() OVER (PARTITION BY p.a, p.b ORDER BY gain DESC, c1.a, c1.b) = 1"
            f"  AND row_number() OVER (PARTITION BY c2.{taken}, c2.{s_taken} ORDER BY gain DESC, c2.a, c2.b) = 1)"
        )
        n += con.execute("SELECT count(*) FROM _lk_swap").fetchone()[0]
        con.execute("DELETE FROM _lk_pick k USING _lk_swap s WHERE k.a = s.pa AND k.b = s.pb")
        for x, y in (("a1", "b1"), ("a2", "b2")):
            con.execute(f"INSERT INTO _lk_pick SELECT c.* FROM _lk_hard c JOIN _lk_swap s "
                        f"ON c.a = s.{x} AND c.b = s.{y}")
        con.execute("CREATE OR REPLACE TEMP TABLE _lk_taken AS SELECT a AS id, source_b AS other FROM _lk_pick "
                    "UNION ALL SELECT b, source_a FROM _lk_pick")
    con.execute("DROP TABLE IF EXISTS temp._lk_swap; DROP TABLE IF EXISTS temp._lk_taken")
    return n


def _cluster(con: duckdb.DuckDBPyConnection, cfg: dict) -> None:
    """_lk_member (incident_id, event_id): the records of one real event share event_id.

    Picked pairs join transitively (connected components, by label propagation in SQL). A component
    that would hold two records of one source, or a forbidden pair, is split: its pairs are added best
    first and a pair that would join two such records is left out.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE _lk_edge AS SELECT a AS x, b AS y FROM _lk_pick "
                "UNION ALL SELECT b, a FROM _lk_pick")
    con.execute("CREATE OR REPLACE TEMP TABLE _lk_label AS SELECT x AS id, min(least(x, y)) AS label "
                "FROM _lk_edge GROUP BY x")
    while con.execute(
        "UPDATE _lk_label l SET label = n.label FROM (SELECT e.x AS id, min(m.label) AS label FROM _lk_edge e "
        "JOIN _lk_label m ON m.id = e.y GROUP BY e.x) n WHERE n.id = l.id AND n.label < l.label"
    ).fetchone()[0]:
        pass
    # Components with a clash: two records of one source, or a forbidden pair, inside.
    bad = [r[0] for r in con.execute(
        "SELECT label FROM _lk_label l JOIN _lk_rec r ON r.incident_id = l.id GROUP BY label "
        "HAVING count(*) > count(DISTINCT r.source) UNION "
        "SELECT la.label FROM _lk_over o JOIN _lk_label la ON la.id = o.a JOIN _lk_label lb ON lb.id = o.b "
        "WHERE o.kind = 'forbidden' AND la.label = lb.label").fetchall()]
    if bad:
        _split(con, bad)
    con.execute("DROP TABLE temp._lk_edge")


def _split(con: duckdb.DuckDBPyConnection, labels: list[str]) -> None:
    """Rebuild the clashing components pair by pair, best first, skipping pairs that would clash."""
    con.execute("CREATE OR REPLACE TEMP TABLE _lk_bad (label VARCHAR)")
    con.executemany("INSERT INTO _lk_bad VALUES (?)", [(x,) for x in labels])
    pairs = con.execute(
        "SELECT a, b, source_a, source_b FROM _lk_pick p JOIN _lk_label l ON l.id = p.a "
        "SEMI JOIN _lk_bad USING (label) "
        "ORDER BY confirmed DESC, score DESC, a, b").fetchall()
    forbidden = {(a, b) for a, b in con.execute("SELECT a, b FROM _lk_over WHERE kind = 'forbidden'").fetchall()}
    members: dict[str, set[tuple[str, str]]] = {}   # root -> {(source, incident_id)}
    root: dict[str, str] = {}
    dropped = []
    for a, b, sa, sb in pairs:
        ra, rb = root.setdefault(a, a), root.setdefault(b, b)
        ma, mb = members.setdefault(ra, {(sa, a)}), members.setdefault(rb, {(sb, b)})
        clash = {s for s, _ in ma} & {s for s, _ in mb} or any(
            (min(x, y), max(x, y)) in forbidden for _, x in ma for _, y in mb)
        if ra == rb or clash:
            dropped.append((a, b)) if clash and ra != rb else None
            continue
        ma |= mb
        for _, m in mb:
            root[m] = ra
        del members[rb]
    con.execute("DELETE FROM _lk_label WHERE label IN (SELECT label FROM _lk_bad)")
    con.executemany("INSERT INTO _lk_label VALUES (?, ?)",
                    [(m, min(x for _, x in ms)) for ms in members.values() for _, m in ms])
    con.execute("CREATE OR REPLACE TEMP TABLE _lk_drop (a VARCHAR, b VARCHAR)")
    if dropped:
        con.executemany("INSERT INTO _lk_drop VALUES (?, ?)", dropped)
        con.execute("DELETE FROM _lk_pick p USING _lk_drop d WHERE p.a = d.a AND p.b = d.b")


def _write(con: duckdb.DuckDBPyConnection) -> LinkRefresh:
    """incident_duplicates from the clusters: every member but the canonical record points at it."""
    prio = load_config()["source_priority"]
    rank = "CASE r.source " + " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(prio)) + f" ELSE {len(prio)} END"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _lk_new AS "
        # A record that reports several events (it has parts) never represents one of them.
        f"WITH m AS (SELECT l.id, l.label, first(l.id ORDER BY l.id IN (SELECT whole FROM _lk_part), {rank}, "
        f"r.source, l.id) OVER (PARTITION BY l.label) "
        f"  AS canonical FROM _lk_label l JOIN _lk_rec r ON r.incident_id = l.id), "
        # Each record's own best pair says why it belongs to the event (through another member if not the canonical).
        f"e AS (SELECT a AS id, b AS other, score, reasons FROM _lk_pick "
        f"UNION ALL SELECT b, a, score, reasons FROM _lk_pick) "
        f"SELECT m.id AS incident_id, m.canonical AS duplicate_of, e.score, "
        f"CASE WHEN e.other = m.canonical THEN e.reasons ELSE 'via ' || e.other || ': ' || e.reasons END AS reasons, "
        f"e.other AS matched_with FROM m JOIN e ON e.id = m.id WHERE m.id <> m.canonical "
        f"QUALIFY row_number() OVER (PARTITION BY m.id ORDER BY e.other = m.canonical DESC, e.score DESC, e.other) = 1"
    )
    changed = con.execute(
        "WITH o AS (SELECT incident_id, duplicate_of FROM incident_duplicates), "
        "n AS (SELECT incident_id, duplicate_of FROM _lk_new), "
        "d AS ((SELECT * FROM o EXCEPT SELECT * FROM n) UNION ALL (SELECT * FROM n EXCEPT SELECT * FROM o)), "
        # an equality join on each id (a join ON x IN (a, b) is a nested loop over both tables)
        "ids AS (SELECT incident_id AS id FROM d UNION SELECT duplicate_of FROM d) "
        "SELECT min(c.event_date) FROM ids JOIN incident_current c ON c.incident_id = ids.id"
    ).fetchone()[0]
    con.execute("DELETE FROM incident_duplicates d WHERE NOT EXISTS (SELECT 1 FROM _lk_new n WHERE "
                "n.incident_id = d.incident_id AND n.duplicate_of = d.duplicate_of AND n.matched_with "
                "IS NOT DISTINCT FROM d.matched_with AND n.score IS NOT DISTINCT FROM d.score "
                "AND n.reasons IS NOT DISTINCT FROM d.reasons)")
    con.execute("INSERT INTO incident_duplicates (incident_id, duplicate_of, rule, matched_at, score, reasons, "
                "matched_with) SELECT incident_id, duplicate_of, "
                "CASE WHEN starts_with(reasons, 'confirmed') THEN 'link_overrides.yml' ELSE 'links.yml' END, "
                "CAST(current_timestamp AS TIMESTAMP), "
                "score, reasons, matched_with FROM _lk_new ANTI JOIN incident_duplicates USING (incident_id)")
    write_parts(con)
    for t in ("_lk_new", "_lk_pick", "_lk_cand", "_lk_label", "_lk_rec", "_lk_over"):
        con.execute(f"DROP TABLE IF EXISTS temp.{t}")
    links = con.execute("SELECT count(*) FROM incident_duplicates").fetchone()[0]
    return LinkRefresh(links=links, changed_since=changed.date() if isinstance(changed, dt.datetime) else changed)
