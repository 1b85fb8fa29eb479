"""Why a tag row exists: the SQL of its evidence (the leaves that held) and of its confidence (coded > text).

Both are evaluated only on the rows a rule tagged (indicators/tag_sql.py).
"""

from __future__ import annotations

from typing import Any

from indicators.tag_conditions import OPS, TEXT_FIELDS, condition_of, condition_sql, text_sql
from warehouse.sources.mapping import ident, literal


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
    field, ops = node.get("field"), [k for k in OPS if k in node]
    if field and ops and ops[0] == "regex" and field in TEXT_FIELDS:
        text = text_sql(field)
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


def confidence_sql(rule: dict[str, Any]) -> str:
    """The rule's declared confidence, else the strongest kind of evidence that held (coded > text).

    Evaluated on tagged rows. A rule with `any:` alternatives is `coded` when an alternative that held
    rests on coded fields only (ACLED 'Civilians (China)' plus a notes match: coded), `text` when every one
    that held reads free text; a rule without alternatives is `text` when it reads free text, else `coded`.
    The evidence still lists every alternative that held (evidence_sql).
    """
    if rule.get("confidence"):
        return literal(rule["confidence"])
    return _strength_sql(condition_of(rule))


def _reads_text(node: Any) -> bool:
    if isinstance(node, list):
        return any(_reads_text(item) for item in node)
    if not isinstance(node, dict):
        return False
    if node.get("field") in TEXT_FIELDS and "regex" in node:
        return True
    return _reads_text(node.get("all") or []) or _reads_text(node.get("any") or [])  # `none:` is a filter


def _strength_sql(node: dict[str, Any]) -> str:
    alternatives = [item for group in _any_groups(node) for item in group]
    if not alternatives:
        return "'text'" if _reads_text(node) else "'coded'"
    if not any(_reads_text(item) for item in alternatives):
        return "'coded'"
    coded = [f"WHEN {condition_sql(item)} THEN 'coded'" for item in alternatives if not _reads_text(item)]
    # An alternative that reads text may still hold through coded alternatives of its own.
    coded += [f"WHEN {condition_sql(item)} AND {_strength_sql(item)} = 'coded' THEN 'coded'"
              for item in alternatives if _reads_text(item) and _any_groups(item)]
    return f"(CASE {' '.join(coded)} ELSE 'text' END)" if coded else "'text'"
