"""Indicator definitions: the <name>.sql + <name>.yml pairs in indicators/definitions/."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFINITIONS_DIR = Path(__file__).parent / "definitions"
GRAINS = {"week": "INTERVAL 7 DAY", "month": "INTERVAL 1 MONTH", "quarter": "INTERVAL 3 MONTH"}


class DefinitionError(ValueError):
    """A definition pair that cannot be used."""


@dataclass
class Definition:
    name: str
    title: str
    sql: str
    grains: list[str]
    kind: str = "events"
    aggregate: str = "count"
    counts: str = "events"   # events | episodes (rows a source codes as one attack count once)
    unit: str = "incidents"
    description: str = ""
    series: str = ""
    checks: dict[str, Any] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    route: list[str] = field(default_factory=list)
    runbook: str = ""          # what an analyst should do when it alerts (the alert email's "what to do" line)
    # Which sources contribute (are counted and decide coverage): {"only": [...]} or {"exclude": [...]};
    # empty = every source (README "Coverage").
    sources: dict[str, list[str]] = field(default_factory=dict)
    path: Path | None = None


def load_definitions(folder: Path | None = None) -> dict[str, Definition]:
    """Every definition in `folder`, derived ones last (they read the others' values)."""
    folder = folder or DEFINITIONS_DIR
    found: dict[str, Definition] = {}
    for yml in sorted(folder.glob("*.yml")):
        spec = yaml.safe_load(yml.read_text(encoding="utf-8")) or {}
        sql_path = yml.with_suffix(".sql")
        if not sql_path.exists():
            raise DefinitionError(f"{yml}: no {sql_path.name} beside it")
        name = spec.get("name", yml.stem)
        if name != yml.stem:
            raise DefinitionError(f"{yml}: name {name!r} must equal the file name {yml.stem!r}")
        grains = list(spec.get("grains", []))
        if not grains or set(grains) - set(GRAINS):
            raise DefinitionError(f"{yml}: grains must be a non-empty subset of {', '.join(GRAINS)}")
        kind, aggregate = spec.get("kind", "events"), spec.get("aggregate", "count")
        if kind not in ("events", "derived") or aggregate not in ("count", "sum"):
            raise DefinitionError(f"{yml}: kind must be events|derived and aggregate count|sum")
        counts = spec.get("counts", "events")
        if counts not in ("events", "episodes"):
            raise DefinitionError(f"{yml}: counts must be events|episodes")
        found[name] = Definition(
            name=name, title=spec.get("title", name), sql=sql_path.read_text(encoding="utf-8").strip().rstrip(";"),
            grains=grains, kind=kind, aggregate=aggregate, counts=counts, unit=spec.get("unit", "incidents"),
            description=spec.get("description", ""), series=spec.get("series", ""),
            checks=spec.get("checks") or {}, alerts=spec.get("alerts") or [], route=spec.get("route") or [],
            runbook=" ".join(str(spec.get("runbook") or "").split()), sources=_sources(spec.get("sources"), yml),
            path=yml,
        )
    return dict(sorted(found.items(), key=lambda kv: (kv[1].kind == "derived", kv[0])))


def _sources(spec: Any, yml: Path) -> dict[str, list[str]]:
    if spec is None:
        return {}
    if not (isinstance(spec, dict) and len(spec) == 1 and set(spec) <= {"only", "exclude"}
            and isinstance(next(iter(spec.values())), list) and next(iter(spec.values()))):
        raise DefinitionError(f"{yml}: sources must be {{only: [source, ...]}} or {{exclude: [source, ...]}}")
    return {k: [str(s) for s in v] for k, v in spec.items()}


def definitions_hash(defs: dict[str, Definition], *extra: str) -> str:
    digest = hashlib.sha256()
    for d in defs.values():
        digest.update(d.name.encode() + d.sql.encode()
                      + repr((d.grains, d.kind, d.aggregate, d.counts, d.sources)).encode())
    for text in extra:
        digest.update(text.encode())
    return digest.hexdigest()[:16]
