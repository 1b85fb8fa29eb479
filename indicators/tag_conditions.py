"""Tag-rule conditions (indicators/tags.yml: all/any/none, field tests, sql:) compiled to NULL-safe DuckDB
predicates; tag rules and link rules share them."""

from __future__ import annotations

import re
from typing import Any

from warehouse.sources.mapping import ident, literal

GROUPS = ("all", "any", "none")
OPS = ("regex", "in", "not_in", "equals", "not_null")
CONDITION_KEYS = {*GROUPS, "sql", "field", "ignore", *OPS}
CONFIDENCES = ("coded", "text", "dyad")
# Free-text fields: a tag that a regex over one of these made rests on the event's text, not on a code.
TEXT_FIELDS = ("notes", "source_reference")
_FIELD = re.compile(r"[a-z_][a-z0-9_]*")

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
    if "field" in node or set(node) & set(OPS):
        parts.append(_field_sql(node, where, guarded, relaxed))
    if "sql" in node:
        parts.append(f"coalesce(({node['sql']}), false)")
    for group in GROUPS:
        if group in node:
            items = node[group]
            if not isinstance(items, list) or not items:
                raise ValueError(f"{where}: `{group}` needs a non-empty list")
            flip = None if relaxed is None else (not relaxed if group == "none" else relaxed)
            items = [condition_sql(c, where, guarded, flip) for c in items]
            parts.append(all_of(items) if group == "all" else
                         _not(any_of(items)) if group == "none" else any_of(items))
    return all_of(parts)


# Every compiled part is a non-NULL boolean, so CASE chains are exact ANDs and ORs. Unlike AND/OR, which
# evaluate both sides on every row outside a WHERE, CASE evaluates a branch only on the rows that reach
# it: a rule's costly tests (regexes, JSON) run only where its cheap leading tests (event type) held.
# Constants (left-out regexes) and repeats fold away, so a relaxed predicate does not evaluate what cannot
# change it.
def all_of(items: list[str]) -> str:
    items = [item for item in dict.fromkeys(items) if item != "true"]
    if "false" in items or not items:
        return "false" if items else "true"
    return items[0] if len(items) == 1 else f"(CASE WHEN {items[0]} THEN {all_of(items[1:])} ELSE false END)"


def any_of(items: list[str]) -> str:
    items = [item for item in dict.fromkeys(items) if item != "false"]
    if "true" in items or not items:
        return "true" if items else "false"
    if len(items) == 1:
        return items[0]
    return "(CASE " + " ".join(f"WHEN {item} THEN true" for item in items[:-1]) + f" ELSE {items[-1]} END)"


def _not(item: str) -> str:
    return {"true": "false", "false": "true"}.get(item, f"(NOT {item})")


def text_sql(field: str) -> str:
    return f"coalesce(CAST({ident(field)} AS VARCHAR), '')"


def _field_sql(node: dict[str, Any], where: str, guarded: frozenset[str] = frozenset(),
               relaxed: bool | None = None) -> str:
    field, ops = node.get("field"), [k for k in OPS if k in node]
    if not isinstance(field, str) or not _FIELD.fullmatch(field) or len(ops) != 1:
        raise ValueError(f"{where}: {node!r} needs `field: <column>` and exactly one of {', '.join(OPS)}")
    col, op, value = ident(field), ops[0], node[ops[0]]
    if op == "regex":
        re.compile(value)  # Python's syntax is close enough to RE2's to catch most typos early
        text = text_sql(field)
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
