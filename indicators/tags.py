"""Incident tags from declarative rules (indicators/tags.yml): loading, checking, refreshing.

Rules are data so analysts can read, review and extend them with their own examples; indicators/tag_sql.py
compiles them to SQL.
"""

from __future__ import annotations

import copy
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import yaml

from indicators.tag_conditions import CONDITION_KEYS, CONFIDENCES, condition_of, condition_sql
from indicators.tag_sql import STATE_NAME_SQL, as_relation, tag_select_sql
from warehouse.countries import resolve_new_names
from warehouse.db import transaction
from warehouse.places import places_hash, refresh_places

__all__ = ["condition_sql", "load_rules", "prepare_origins", "refresh_tags", "rules_hash", "tag_select_sql"]

RULES_PATH = Path(__file__).with_name("tags.yml")
_RULE_KEYS = {"name", "tag", "description", "detail", "confidence", "examples"} | CONDITION_KEYS


def load_rules(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The rules of `path` (default indicators/tags.yml), checked so a typo fails loudly, not silently.

    The file is read on every call and parsed and checked once per distinct content: every indicator
    computation reads the rules (a backtest ~60 times) and parsing tags.yml costs ~0.1 s each time."""
    path = Path(path) if path else RULES_PATH
    return copy.deepcopy(_checked_rules(path.read_text(encoding="utf-8"), str(path)))


@lru_cache(maxsize=8)
def _checked_rules(text: str, path: str) -> list[dict[str, Any]]:
    rules = yaml.safe_load(text) or []
    if not isinstance(rules, list):
        raise ValueError(f"{path}: expected a list of rules")
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        name = rule.get("name") if isinstance(rule, dict) else None
        where = f"{path}: rule {name or f'#{i + 1}'}"
        if not name or not rule.get("tag") or not rule.get("description"):
            raise ValueError(f"{where}: name, tag and description are required")
        if name in seen:
            raise ValueError(f"{where}: duplicate name")
        seen.add(name)
        if set(rule) - _RULE_KEYS:
            raise ValueError(f"{where}: unknown key(s) {sorted(set(rule) - _RULE_KEYS)}")
        if rule.get("confidence") is not None and rule["confidence"] not in CONFIDENCES:
            raise ValueError(f"{where}: confidence must be one of {', '.join(CONFIDENCES)}")
        examples = rule.get("examples") or {}
        if not examples.get("match") or not examples.get("no_match"):
            raise ValueError(f"{where}: needs examples with at least one match and one no_match")
        condition_sql(condition_of(rule), where)  # fails here rather than at tagging time
    return rules


def rules_hash(rules: list[dict[str, Any]]) -> str:
    """Hash of what the rules compute (their SQL, and the place names they read: admin1_code comes from
    warehouse/places.yml): editing a description or an example forces no retag, a new alias does."""
    return hashlib.sha256((tag_select_sql(rules, "incidents") + places_hash()).encode("utf-8")).hexdigest()


def prepare_origins(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    """Resolve the state names in actor1 and actor2 of `relation` into country_names; returns how many were new."""
    rel = as_relation(relation)
    return resolve_new_names(con, f"SELECT {STATE_NAME_SQL.format(col='actor1')} FROM {rel} "
                                  f"UNION SELECT {STATE_NAME_SQL.format(col='actor2')} FROM {rel}")


def refresh_tags(con: duckdb.DuckDBPyConnection, *, full: bool = False,
                 rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Retag the incidents whose current version changed since the last refresh (or all), atomically."""
    rules = load_rules() if rules is None else rules
    digest = rules_hash(rules)
    try:
        with transaction(con):
            refresh_places(con)  # rules read admin1_code / admin2_norm, which the incidents view joins from these
            state = con.execute(
                "SELECT refreshed_at, definitions_hash FROM refresh_state WHERE component = 'tags'"
            ).fetchone()
            full = full or state is None or state[1] != digest
            if full:
                con.execute("DELETE FROM incident_tag_rows")  # also drops rows of incidents no longer present
                relation = "incidents"
                retagged = con.execute("SELECT count(*) FROM incident_current").fetchone()[0]
            else:
                # A deletion is a new current (tombstone) version too, so it lands in the scope and loses its tags.
                con.execute("CREATE OR REPLACE TEMP TABLE _tag_scope AS SELECT DISTINCT incident_id "
                            "FROM incident_current WHERE valid_from > ?", [state[0]])
                con.execute("DELETE FROM incident_tag_rows WHERE incident_id IN (SELECT incident_id FROM _tag_scope)")
                relation = "SELECT * FROM incidents WHERE incident_id IN (SELECT incident_id FROM _tag_scope)"
                retagged = con.execute("SELECT count(*) FROM _tag_scope").fetchone()[0]
            prepare_origins(con, relation)
            tags = con.execute(
                f"INSERT INTO incident_tag_rows (incident_id, tag, detail, rule, evidence, confidence, tagged_at) "
                f"SELECT incident_id, tag, detail, rule, evidence, confidence, CAST(current_timestamp AS TIMESTAMP) "
                f"FROM ({tag_select_sql(rules, relation)})"
            ).fetchone()[0]
            # The high-water mark is the newest version seen, not the clock: the next refresh picks up
            # exactly the versions written after this snapshot.
            con.execute(
                "MERGE INTO refresh_state USING (SELECT 'tags' AS component, coalesce(max(valid_from), ?, "
                "TIMESTAMP '1970-01-01') AS refreshed_at, ? AS definitions_hash FROM incident_current) s "
                "ON refresh_state.component = s.component "
                "WHEN MATCHED THEN UPDATE SET refreshed_at = s.refreshed_at, definitions_hash = s.definitions_hash "
                "WHEN NOT MATCHED THEN INSERT (component, refreshed_at, definitions_hash) "
                "VALUES (s.component, s.refreshed_at, s.definitions_hash)",
                [state[0] if state else None, digest],
            )
    finally:
        con.execute("DROP TABLE IF EXISTS temp._tag_scope")
    return {"full": full, "incidents_retagged": retagged, "tags": tags}
