"""Incident tags from declarative rules (indicators/tags.yml), evaluated as one DuckDB SELECT.

Rules are data so analysts can read, review and extend them with their own examples; they compile to
SQL over any relation shaped like the `incidents` view, so the same rules tag the warehouse, a table
of example rows, or an as-of reconstruction of past incident versions.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import duckdb
import yaml

from warehouse.countries import resolve_new_names
from warehouse.sources.mapping import ident, literal

RULES_PATH = Path(__file__).with_name("tags.yml")
_GROUPS = ("all", "any", "none")
_OPS = ("regex", "in", "not_in", "equals", "not_null")
_CONDITION_KEYS = {*_GROUPS, "sql", "field", "ignore", *_OPS}
_RULE_KEYS = {"name", "tag", "description", "detail", "examples"} | _CONDITION_KEYS
_FIELD = re.compile(r"[a-z_][a-z0-9_]*")
# 'Military Forces of Iran (1989-) IRGC' / 'Government of United States of America' -> the state's name;
# pycountry (via country_names) turns it into ISO3, so no hand-kept actor table is needed.
_STATE_NAME = r"nullif(trim(regexp_extract({col}, '^(?:Military Forces|Government) of\s+([^(]+)', 1)), '')"


def load_rules(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The rules of `path` (default indicators/tags.yml), checked so a typo fails loudly, not silently."""
    path = Path(path) if path else RULES_PATH
    rules = yaml.safe_load(path.read_text(encoding="utf-8")) or []
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
        examples = rule.get("examples") or {}
        if not examples.get("match") or not examples.get("no_match"):
            raise ValueError(f"{where}: needs examples with at least one match and one no_match")
        condition_sql(_condition_of(rule), where)  # fails here rather than at tagging time
    return rules


def _condition_of(rule: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rule.items() if k in _CONDITION_KEYS}


def condition_sql(node: dict[str, Any], where: str = "condition") -> str:
    """SQL predicate for one condition node; every part is NULL-safe so that `none:` negates cleanly."""
    if not isinstance(node, dict) or not node:
        raise ValueError(f"{where}: a condition must be a non-empty mapping, got {node!r}")
    if set(node) - _CONDITION_KEYS:
        raise ValueError(f"{where}: unknown condition key(s) {sorted(set(node) - _CONDITION_KEYS)}")
    parts = []
    if "field" in node or set(node) & set(_OPS):
        parts.append(_field_sql(node, where))
    if "sql" in node:
        parts.append(f"coalesce(({node['sql']}), false)")
    for group in _GROUPS:
        if group in node:
            items = node[group]
            if not isinstance(items, list) or not items:
                raise ValueError(f"{where}: `{group}` needs a non-empty list")
            joined = (" AND " if group == "all" else " OR ").join(condition_sql(c, where) for c in items)
            parts.append(f"(NOT ({joined}))" if group == "none" else f"({joined})")
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def _field_sql(node: dict[str, Any], where: str) -> str:
    field, ops = node.get("field"), [k for k in _OPS if k in node]
    if not isinstance(field, str) or not _FIELD.fullmatch(field) or len(ops) != 1:
        raise ValueError(f"{where}: {node!r} needs `field: <column>` and exactly one of {', '.join(_OPS)}")
    col, op, value = ident(field), ops[0], node[ops[0]]
    if op == "regex":
        re.compile(value)  # Python's syntax is close enough to RE2's to catch most typos early
        text = f"coalesce(CAST({col} AS VARCHAR), '')"
        if node.get("ignore"):
            # Phrases that mention the thing without asserting it ("no Chinese nationals were harmed").
            re.compile(node["ignore"])
            text = f"regexp_replace({text}, {literal(node['ignore'])}, ' ', 'gi')"
        return f"regexp_matches({text}, {literal(value)}, 'i')"
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{where}: `{op}` needs a non-empty list")
        values = ", ".join(literal(v) for v in value)
        return f"coalesce({col} IN ({values}), false)" if op == "in" else f"coalesce({col} NOT IN ({values}), true)"
    if op == "equals":
        return f"coalesce({col} = {literal(value)}, false)"
    present = f"nullif(trim(CAST({col} AS VARCHAR)), '') IS NOT NULL"
    return present if value else f"NOT ({present})"


def _relation(relation: str) -> str:
    """A table/view name as is, a query in parentheses."""
    relation = relation.strip()
    return relation if re.fullmatch(r'[\w."]+', relation) else f"({relation})"


def tag_select_sql(rules: list[dict[str, Any]], relation: str) -> str:
    """SELECT incident_id, tag, detail, rule over `relation` (incidents-shaped); run prepare_origins first."""
    state = _STATE_NAME.format(col="_r.actor1")
    branches = [
        f"SELECT incident_id, {literal(r['tag'])} AS tag, "
        f"CAST({'(' + str(r['detail']) + ')' if r.get('detail') else 'NULL'} AS VARCHAR) AS detail, "
        f"{literal(r['name'])} AS rule FROM _tag_input WHERE {condition_sql(_condition_of(r), r['name'])}"
        for r in rules
    ]
    if not branches:
        return "SELECT CAST(NULL AS VARCHAR) AS incident_id, CAST(NULL AS VARCHAR) AS tag, " \
               "CAST(NULL AS VARCHAR) AS detail, CAST(NULL AS VARCHAR) AS rule WHERE false"
    # Materialized: the relation (possibly a history reconstruction) is scanned once for all rules.
    return (
        f"WITH _tag_input AS MATERIALIZED (SELECT _r.*, coalesce(_r.perpetrator_iso3, _cn.iso3) AS origin_iso3 "
        f"FROM {_relation(relation)} _r LEFT JOIN country_names _cn ON _cn.name = {state})\n"
        + "\nUNION ALL\n".join(branches)
    )


def rules_hash(rules: list[dict[str, Any]]) -> str:
    """Hash of what the rules compute (their SQL): editing a description or an example forces no retag."""
    return hashlib.sha256(tag_select_sql(rules, "incidents").encode("utf-8")).hexdigest()


def prepare_origins(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    """Resolve the state names in actor1 of `relation` into country_names; returns how many were new."""
    return resolve_new_names(con, f"SELECT {_STATE_NAME.format(col='actor1')} FROM {_relation(relation)}")


def refresh_tags(con: duckdb.DuckDBPyConnection, *, full: bool = False,
                 rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Retag the incidents whose current version changed since the last refresh (or all), atomically."""
    rules = load_rules() if rules is None else rules
    digest = rules_hash(rules)
    con.execute("BEGIN TRANSACTION")
    try:
        state = con.execute(
            "SELECT refreshed_at, definitions_hash FROM refresh_state WHERE component = 'tags'"
        ).fetchone()
        full = full or state is None or state[1] != digest
        # A deletion is a new current (tombstone) version too, so it lands in the scope and loses its tags.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _tag_scope AS SELECT DISTINCT incident_id FROM incident_current "
            "WHERE ? OR valid_from > ?", [full, None if full else state[0]],
        )
        if full:
            con.execute("DELETE FROM incident_tag_rows")  # also drops rows of incidents no longer present
            relation = "incidents"
        else:
            con.execute("DELETE FROM incident_tag_rows WHERE incident_id IN (SELECT incident_id FROM _tag_scope)")
            relation = "SELECT * FROM incidents WHERE incident_id IN (SELECT incident_id FROM _tag_scope)"
        prepare_origins(con, relation)
        tags = con.execute(
            f"INSERT INTO incident_tag_rows (incident_id, tag, detail, rule, tagged_at) "
            f"SELECT incident_id, tag, detail, rule, CAST(current_timestamp AS TIMESTAMP) "
            f"FROM ({tag_select_sql(rules, relation)})"
        ).fetchone()[0]
        # The high-water mark is the newest version seen, not the clock: the next refresh picks up
        # exactly the versions written after this snapshot.
        con.execute(
            "INSERT INTO refresh_state (component, refreshed_at, definitions_hash) "
            "SELECT 'tags', coalesce(max(valid_from), ?, TIMESTAMP '1970-01-01'), ? FROM incident_current "
            "ON CONFLICT (component) DO UPDATE SET refreshed_at = excluded.refreshed_at, "
            "definitions_hash = excluded.definitions_hash",
            [state[0] if state else None, digest],
        )
        retagged = con.execute("SELECT count(*) FROM _tag_scope").fetchone()[0]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS temp._tag_scope")
    return {"full": full, "incidents_retagged": retagged, "tags": tags}
