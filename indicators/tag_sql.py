"""Tag rules (indicators/tags.yml) compiled to one DuckDB SELECT over any incidents-shaped relation.

The same SQL tags the warehouse, a table of example rows, or an as-of reconstruction of past incident
versions. Free-text regexes are what it costs, so the compiler spends one regex pass per text field.
"""

from __future__ import annotations

import re
from typing import Any

from indicators.tag_conditions import (
    GROUPS,
    any_of,
    condition_of,
    condition_sql,
    text_sql,
)
from indicators.tag_evidence import confidence_sql, evidence_sql
from warehouse.sources.mapping import ident, literal

# 'Military Forces of Iran (1989-) IRGC' / 'Government of United States of America' -> the state's name;
# pycountry (via country_names) turns it into ISO3, so no hand-kept actor table is needed.
# The prefix test keeps the regex off the rows (most) that name no state.
STATE_NAME_SQL = (r"CASE WHEN starts_with({col}, 'Military Forces of') OR starts_with({col}, 'Government of') THEN "
               r"nullif(trim(regexp_extract({col}, '^(?:Military Forces|Government) of\s+([^(]+)', 1)), '') END")


TAG_COLUMNS = ("incident_id", "tag", "detail", "rule", "evidence", "confidence")


def regexes_by_field(rules: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Every regex (and ignore pattern) of the rules, grouped by the field it reads, in rule order."""
    found: dict[str, list[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if "regex" in node and isinstance(node.get("field"), str):
                patterns = found.setdefault(node["field"], [])
                for pattern in (node["regex"], node.get("ignore")):
                    if pattern and pattern not in patterns:
                        patterns.append(pattern)
            for key in GROUPS:
                walk(node.get(key))

    for rule in rules:
        walk(condition_of(rule))
    return found


def as_relation(relation: str) -> str:
    """A table/view name as is, a query in parentheses."""
    relation = relation.strip()
    return relation if re.fullmatch(r'[\w."]+', relation) else f"({relation})"


def tag_select_sql(rules: list[dict[str, Any]], relation: str, *, prechecks: bool = True) -> str:
    """SELECT incident_id, tag, detail, rule, evidence, confidence over `relation` (incidents-shaped); run
    prepare_origins first.

    One scan evaluates every rule. Regular expressions over free text cost a full pass each, whatever
    they ask for, so a field that several rules read by regex (notes, actor2, ...) is first tested
    once against all of its patterns joined as alternatives (`_rx_<field>`); the rules' own regexes
    then run only on the rows that passed. An `ignore` pattern joins the alternatives too, so a row
    whose text matches only once a phrase is blanked out is still looked at. `prechecks=False` gives the
    plain form (each regex on every row it reaches), which the tests hold the fast one to.
    """
    if not rules:
        return "SELECT " + ", ".join(f"CAST(NULL AS VARCHAR) AS {c}" for c in TAG_COLUMNS) + " WHERE false"
    shared = {f: p for f, p in regexes_by_field(rules).items() if len(p) > 1 and prechecks}
    guarded = frozenset(shared)
    # A field's pre-check runs only on rows where some rule reading it could still hold without its regexes.
    relaxed = [(condition_sql(condition_of(r), r["name"], guarded, relaxed=True), set(regexes_by_field([r])))
               for r in rules] if shared else []
    need = {f: any_of([sql for sql, fields in relaxed if f in fields]) for f in shared}
    guards = "".join(
        f", (CASE WHEN {need[f]} THEN regexp_matches({text_sql(f)}, "
        f"{literal('|'.join(f'(?:{p})' for p in patterns))}, 'i') ELSE false END) AS {ident('_rx_' + f)}"
        for f, patterns in shared.items()
    )
    hits = ", ".join(
        f"{condition_sql(condition_of(r), r['name'], guarded)} AS _hit_{i}"
        + (f", CAST(({r['detail']}) AS VARCHAR) AS _detail_{i}" if r.get("detail") else "")
        for i, r in enumerate(rules)
    )
    # Evidence is worked out only on the rows a rule tagged (CASE), from the hits computed once below.
    whys = ", ".join(
        f"CASE WHEN _hit_{i} THEN {evidence_sql(condition_of(r))} END AS _evidence_{i}, "
        f"CASE WHEN _hit_{i} THEN {confidence_sql(r)} END AS _confidence_{i}" for i, r in enumerate(rules))
    branches = "\nUNION ALL\n".join(
        f"SELECT incident_id, {literal(r['tag'])} AS tag, {f'_detail_{i}' if r.get('detail') else 'NULL'} AS detail, "
        f"{literal(r['name'])} AS rule, _evidence_{i} AS evidence, _confidence_{i} AS confidence "
        f"FROM _tag_hits WHERE _hit_{i}"
        for i, r in enumerate(rules)
    )
    state, state2 = STATE_NAME_SQL.format(col="_r.actor1"), STATE_NAME_SQL.format(col="_r.actor2")
    # Materialized: the rules' results (not the incidents) are computed once and read by every branch.
    return (
        f"WITH _tag_input AS (SELECT _r.*, coalesce(_r.perpetrator_iso3, _cn.iso3) AS origin_iso3, "
        f"_cn2.iso3 AS actor2_iso3 FROM {as_relation(relation)} _r LEFT JOIN country_names _cn ON _cn.name = {state} "
        f"LEFT JOIN country_names _cn2 ON _cn2.name = {state2}),\n"
        f"_tag_checked AS (SELECT *{guards} FROM _tag_input),\n"
        f"_tag_hits AS MATERIALIZED (SELECT incident_id, {', '.join(f'_hit_{i}' for i in range(len(rules)))}, "
        f"{''.join(f'_detail_{i}, ' for i, r in enumerate(rules) if r.get('detail'))}{whys} "
        f"FROM (SELECT *, {hits} FROM _tag_checked))\n{branches}"
    )
