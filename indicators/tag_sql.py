"""Tag rules (indicators/tags.yml) compiled to one DuckDB SELECT over any incidents-shaped relation.

The same SQL tags the warehouse, a table of example rows, or an as-of reconstruction of past incident
versions. Free-text regexes are what it costs, so the compiler spends one regex pass per text field.
"""

from __future__ import annotations

import re
from typing import Any

from warehouse.sources.mapping import ident, literal

_GROUPS = ("all", "any", "none")
_OPS = ("regex", "in", "not_in", "equals", "not_null")
CONDITION_KEYS = {*_GROUPS, "sql", "field", "ignore", *_OPS}
CONFIDENCES = ("coded", "text", "dyad")
# Free-text fields: a tag that a regex over one of these made rests on the event's text, not on a code.
TEXT_FIELDS = ("notes", "source_reference")
_FIELD = re.compile(r"[a-z_][a-z0-9_]*")
# 'Military Forces of Iran (1989-) IRGC' / 'Government of United States of America' -> the state's name;
# pycountry (via country_names) turns it into ISO3, so no hand-kept actor table is needed.
# The prefix test keeps the regex off the rows (most) that name no state.
STATE_NAME_SQL = (r"CASE WHEN starts_with({col}, 'Military Forces of') OR starts_with({col}, 'Government of') THEN "
               r"nullif(trim(regexp_extract({col}, '^(?:Military Forces|Government) of\s+([^(]+)', 1)), '') END")


TAG_COLUMNS = ("incident_id", "tag", "detail", "rule", "evidence", "confidence")


def condition_of(rule: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rule.items() if k in CONDITION_KEYS}


def condition_sql(node: dict[str, Any], where: str = "condition", guarded: frozenset[str] = frozenset(),
                  relaxed: bool | None = None) -> str:
    """SQL predicate for one condition node; every part is NULL-safe so that `none:` negates cleanly.

    A regex on a field in `guarded` runs only where that field's combined pre-check (`_rx_<field>`,
    see tag_select_sql) matched, which keeps each free-text field to one regex pass per row. With
    `relaxed` set, those regexes are left out instead: each becomes `relaxed` (flipped under `none`),
    which gives a predicate true wherever the real one could be — where the pre-check is worth running.
    """
    if not isinstance(node, dict) or not node:
        raise ValueError(f"{where}: a condition must be a non-empty mapping, got {node!r}")
    if set(node) - CONDITION_KEYS:
        raise ValueError(f"{where}: unknown condition key(s) {sorted(set(node) - CONDITION_KEYS)}")
    parts = []
    if "field" in node or set(node) & set(_OPS):
        parts.append(_field_sql(node, where, guarded, relaxed))
    if "sql" in node:
        parts.append(f"coalesce(({node['sql']}), false)")
    for group in _GROUPS:
        if group in node:
            items = node[group]
            if not isinstance(items, list) or not items:
                raise ValueError(f"{where}: `{group}` needs a non-empty list")
            flip = None if relaxed is None else (not relaxed if group == "none" else relaxed)
            items = [condition_sql(c, where, guarded, flip) for c in items]
            parts.append(_all_of(items) if group == "all" else
                         _not(_any_of(items)) if group == "none" else _any_of(items))
    return _all_of(parts)


# Every compiled part is a non-NULL boolean, so CASE chains are exact ANDs and ORs. Unlike AND/OR, which
# evaluate both sides on every row outside a WHERE, CASE evaluates a branch only on the rows that reach
# it: a rule's costly tests (regexes, JSON) run only where its cheap leading tests (event type) held.
# Constants (left-out regexes) and repeats fold away, so a relaxed predicate does not evaluate what cannot
# change it.
def _all_of(items: list[str]) -> str:
    items = [item for item in dict.fromkeys(items) if item != "true"]
    if "false" in items or not items:
        return "false" if items else "true"
    return items[0] if len(items) == 1 else f"(CASE WHEN {items[0]} THEN {_all_of(items[1:])} ELSE false END)"


def _any_of(items: list[str]) -> str:
    items = [item for item in dict.fromkeys(items) if item != "false"]
    if "true" in items or not items:
        return "true" if items else "false"
    if len(items) == 1:
        return items[0]
    return "(CASE " + " ".join(f"WHEN {item} THEN true" for item in items[:-1]) + f" ELSE {items[-1]} END)"


def _not(item: str) -> str:
    return {"true": "false", "false": "true"}.get(item, f"(NOT {item})")


def _text(field: str) -> str:
    return f"coalesce(CAST({ident(field)} AS VARCHAR), '')"


def _field_sql(node: dict[str, Any], where: str, guarded: frozenset[str] = frozenset(),
               relaxed: bool | None = None) -> str:
    field, ops = node.get("field"), [k for k in _OPS if k in node]
    if not isinstance(field, str) or not _FIELD.fullmatch(field) or len(ops) != 1:
        raise ValueError(f"{where}: {node!r} needs `field: <column>` and exactly one of {', '.join(_OPS)}")
    col, op, value = ident(field), ops[0], node[ops[0]]
    if op == "regex":
        re.compile(value)  # Python's syntax is close enough to RE2's to catch most typos early
        text = _text(field)
        if node.get("ignore"):
            # Phrases that mention the thing without asserting it ("no Chinese nationals were harmed").
            re.compile(node["ignore"])
            text = f"regexp_replace({text}, {literal(node['ignore'])}, ' ', 'gi')"
        test = f"regexp_matches({text}, {literal(value)}, 'i')"
        if field in guarded and relaxed is not None:
            return "true" if relaxed else "false"
        # CASE evaluates its THEN branch only on the rows whose WHEN held (AND/OR evaluate both sides).
        return f"(CASE WHEN {ident('_rx_' + field)} THEN {test} ELSE false END)" if field in guarded else test
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{where}: `{op}` needs a non-empty list")
        values = ", ".join(literal(v) for v in value)
        return f"coalesce({col} IN ({values}), false)" if op == "in" else f"coalesce({col} NOT IN ({values}), true)"
    if op == "equals":
        return f"coalesce({col} = {literal(value)}, false)"
    present = f"nullif(trim(CAST({col} AS VARCHAR)), '') IS NOT NULL"
    return present if value else f"NOT ({present})"


def evidence_sql(node: dict[str, Any]) -> str:
    """SQL text saying why `node` holds, for rows where it does: `field ~ "matched text"` for a regex over
    free text, `field=value` for a coded field, the `sql:` predicate, '; '-joined.

    When the condition offers alternatives (`any:` groups, reached through `all:`), the alternatives that
    held are the evidence and the rest are the rule's scope (event type, country), left out; otherwise
    every leaf is. `none:` and `not_in` are filters, never evidence. Only evaluated on tagged rows.
    """
    groups = _any_groups(node)
    if groups:
        return _joined([f"CASE WHEN {condition_sql(item)} THEN {_leaves_sql(item)} END" for g in groups for item in g])
    return _leaves_sql(node)


def _any_groups(node: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return ([node["any"]] if node.get("any") else []) + [g for item in node.get("all") or [] for g in _any_groups(item)]


def _leaves_sql(node: dict[str, Any]) -> str:
    parts = []
    field, ops = node.get("field"), [k for k in _OPS if k in node]
    if field and ops and ops[0] == "regex" and field in TEXT_FIELDS:
        text = _text(field)
        if node.get("ignore"):
            text = f"regexp_replace({text}, {literal(node['ignore'])}, ' ', 'gi')"
        parts.append(f"{literal(field + ' ~ ')} || '\"' || regexp_extract({text}, {literal(node['regex'])}, 0, 'i') "
                     f"|| '\"'")
    elif field and ops and (ops[0] in ("regex", "in", "equals") or (ops[0] == "not_null" and node["not_null"])):
        parts.append(f"{literal(field + '=')} || CAST({ident(field)} AS VARCHAR)")
    if "sql" in node:
        parts.append(literal(f"sql: {node['sql']}"))
    parts += [_leaves_sql(item) for item in node.get("all") or []]
    parts += [f"CASE WHEN {condition_sql(item)} THEN {_leaves_sql(item)} END" for item in node.get("any") or []]
    return _joined(parts)


def _joined(parts: list[str]) -> str:
    parts = [p for p in parts if p != "NULL"]
    if not parts:
        return "NULL"
    return parts[0] if len(parts) == 1 else f"nullif(concat_ws('; ', {', '.join(parts)}), '')"


def confidence_sql(rule: dict[str, Any], evidence: str) -> str:
    """The rule's declared confidence, else 'text' when a free-text regex is part of the evidence, else 'coded'."""
    if rule.get("confidence"):
        return literal(rule["confidence"])
    text = "|".join(TEXT_FIELDS)
    return f"CASE WHEN regexp_matches(coalesce({evidence}, ''), '(^|; )({text}) ~ ') THEN 'text' ELSE 'coded' END"


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
            for key in _GROUPS:
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
    need = {f: _any_of([sql for sql, fields in relaxed if f in fields]) for f in shared}
    guards = "".join(
        f", (CASE WHEN {need[f]} THEN regexp_matches({_text(f)}, "
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
        f"CASE WHEN _hit_{i} THEN {evidence_sql(condition_of(r))} END AS _evidence_{i}" for i, r in enumerate(rules))
    branches = "\nUNION ALL\n".join(
        f"SELECT incident_id, {literal(r['tag'])} AS tag, {f'_detail_{i}' if r.get('detail') else 'NULL'} AS detail, "
        f"{literal(r['name'])} AS rule, _evidence_{i} AS evidence, {confidence_sql(r, f'_evidence_{i}')} AS confidence "
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
