"""Why an event counted: the evidence and confidence of its tag rows, as data and as one line of text.

Every tag row records what made its rule true (`field ~ "matched text"` for free text, `field=value` for a
coded field) and a confidence: `coded` (a source's coded field), `text` (the event's own words) or `dyad`
(only a conflict dyad); where coded and text evidence both hold, the stronger, coded (indicators/tag_evidence.py).
The incidents behind an alert value, the alert email and the weekly report's incident lists show them through
`reason_text`, so a reader sees why each event counted and how firm that is, e.g.
'cross_border_strike USA->PAK: text, "US drones" in source_reference (ucdp)'.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from indicators.definitions import Definition

_LITERAL = re.compile(r"'([^']+)'")
_COMMENT = re.compile(r"--[^\n]*")
_TEXT_MATCH = re.compile(r'^([a-z_0-9]+) ~ "(.*)"$', re.DOTALL)
REASON_FIELDS = ("tag", "detail", "evidence", "confidence", "source")


def tags_read(definition: Definition, known: Iterable[str]) -> list[str]:
    """The tags a definition counts by: tag names written as string literals in its SQL (`t.tag = 'suicide_attack'`).
    Empty for definitions that count by coded fields alone (political violence by event type and province)."""
    code = _COMMENT.sub("", definition.sql)     # "the tag's detail" in a comment is no quote
    return sorted(set(_LITERAL.findall(code)) & set(known))


def _quoted(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def reasons_sql(event_tags: str, events: str, key: str, tags: list[str] | None) -> str:
    """SQL (a scalar subquery) of the reasons of the real event `key` (an SQL expression of its event_key): one
    struct per tag row of any of its records ({tag, detail, evidence, confidence, source}), only the tags in
    `tags` unless None. With tags == [] (a definition that reads no tag: it counts by coded fields, e.g. event type
    and province) the one reason names the kept record's coded event type and province (ISO 3166-2 code)."""
    if tags == []:
        return (f"(SELECT list({{'tag': NULL, 'detail': NULL, 'evidence': 'in the query of coded fields: ' || "
                f"concat_ws('; ', 'event_type=' || r.event_type, "
                f"'admin1=' || r.admin1 || coalesce(' -> ' || r.admin1_code, ' (no ISO 3166-2 code)')), "
                f"'confidence': 'coded', 'source': r.source}} ORDER BY r.source, r.incident_id) "
                f"FROM {events} r WHERE r.incident_id = {key})")
    only = f" AND t.tag IN ({_quoted(tags)})" if tags else ""
    return (f"(SELECT list_sort(list(DISTINCT {{'tag': t.tag, 'detail': t.detail, 'evidence': t.evidence, "
            f"'confidence': t.confidence, 'source': r.source}})) "
            f"FROM {event_tags} t JOIN {events} r USING (incident_id) WHERE r.event_key = {key}{only})")


def evidence_text(evidence: str | None) -> str:
    """'notes ~ "US drones"; perpetrator_iso3=USA' -> '"US drones" in notes; perpetrator_iso3=USA'. The `sql:`
    parts are a rule's scope (origin differs from the event's country), left out when anything else is said."""
    parts = [p.strip() for p in (evidence or "").split("; ") if p.strip()]
    said = [p for p in parts if not p.startswith("sql: ")] or parts
    return "; ".join(f'"{m.group(2)}" in {m.group(1)}' if (m := _TEXT_MATCH.match(p)) else p for p in said)


def reason_parts(reason: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, str]:
    """{label, confidence, evidence, source} of one reason, for templates that lay them out (plain strings: the
    templates escape them)."""
    tag = reason.get("tag")
    return {"label": " ".join(x for x in ((labels or {}).get(tag, tag) if tag else None, reason.get("detail")) if x),
            "confidence": reason.get("confidence") or "unknown",
            "evidence": evidence_text(reason.get("evidence")) or "no evidence recorded",
            "source": reason.get("source") or ""}


def parts_text(p: dict[str, str]) -> str:
    """One line of reason_parts: '<label>: <confidence>, <evidence> (<source>)', the label only when there is one."""
    body = f"{p['confidence']}, {p['evidence']}" + (f" ({p['source']})" if p["source"] else "")
    return f"{p['label']}: {body}" if p["label"] else body


def reason_text(reason: dict[str, Any], labels: dict[str, str] | None = None) -> str:
    """One line: '<tag> <detail>: <confidence>, <evidence> (<source>)'; labels maps tag names to display names."""
    return parts_text(reason_parts(reason, labels))


# What each confidence means, for a legend under an incident list.
CONFIDENCE_MEANING = {
    "coded": "a source's coded field (ACLED actor and event type, BIJ's perpetrator, GTD target nationality)",
    "text": "the event's own words (headline, notes, source titles) matched the rule",
    "dyad": "only the conflict dyad a source files the event under: not evidence of who acted",
}
