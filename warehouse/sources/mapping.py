"""Declarative source adapters: a YAML mapping (columns, date formats, constants) -> one SQL SELECT.

Every source, built-in or analyst-supplied, is a mapping file. A column spec is one of
  `colname`                           the source column, trimmed, null_values -> NULL
  {column: c, formats: [...]}         a date/time column parsed with the strptime formats, in order
  {column: c, map: {code: label}}     recoded values (others kept as they are)
  {const: value}                      the same value on every row
  {sql: expr, text: expr}             a DuckDB SQL expression over the (cleaned) source columns;
                                      `text` is what an error message quotes when parsing fails
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from warehouse.canonical import CHECKED_TEXT, COLUMNS, NUL_COLUMNS

BUILTIN_DIR = Path(__file__).parent


class MappingError(ValueError):
    """A mapping file that cannot be used (unknown source, bad spec)."""


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class Deletions:
    """A deletions file of this source: its columns and which hold the id and the deletion time."""

    columns: list[str]
    id: str
    deleted_at: str


@dataclass
class Mapping:
    name: str
    columns: dict[str, Any]
    required: list[str] = field(default_factory=list)
    required_any: list[list[str]] = field(default_factory=list)
    optional: list[str] = field(default_factory=list)
    null_values: list[str] = field(default_factory=list)
    extra: bool = True
    deletions: Deletions | None = None
    description: str = ""
    path: Path | None = None
    # Declared coverage of a static dataset: country ISO3 (or '*' for every country) -> (start, end).
    coverage: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)
    # `coverage: perpetrators:` the only states whose acts the source records (BIJ: USA); None = all.
    perpetrators: list[str] | None = None

    def missing_columns(self, header: list[str]) -> list[str]:
        present = set(header)
        missing = [c for c in self.required if c not in present]
        for group in self.required_any:
            if not present.intersection(group):
                missing.append(" or ".join(group))
        return missing

    def uses_record_order(self) -> bool:
        """True when a column spec reads `_rec` (the record's position in the file), e.g. GTD's derived ids."""
        return "_rec" in repr(self.columns)

    def is_deletions_file(self, header: list[str]) -> bool:
        return self.deletions is not None and set(self.deletions.columns) <= set(header) and not (
            set(self.required) <= set(header)
        )


def available(search_dirs: list[Path] | None = None) -> dict[str, Path]:
    """Every mapping name -> file: built-ins first, then the configured folders (later ones win)."""
    found: dict[str, Path] = {}
    for folder in [BUILTIN_DIR, BUILTIN_DIR / "mappings", *(search_dirs or [])]:
        for path in sorted(Path(folder).glob("*.yml")):
            found[path.stem] = path
    return found


def load_mapping(name: str, search_dirs: list[Path] | None = None) -> Mapping:
    path = Path(name)
    if not (path.suffix in (".yml", ".yaml") and path.exists()):
        known = available(search_dirs)
        if name not in known:
            raise MappingError(f"unknown source {name!r}; known: {', '.join(sorted(known))}")
        path = known[name]
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if spec.get("extends"):
        # A mapping can reuse another's columns and checks under its own source name (curated ACLED-format files).
        parent = load_mapping(spec.pop("extends"), search_dirs)
        base = yaml.safe_load(parent.path.read_text(encoding="utf-8")) if parent.path else {}
        base.pop("extends", None)
        spec = {**base, **spec, "columns": {**base.get("columns", {}), **spec.get("columns", {})}}
    unknown = set(spec.get("columns", {})) - set(COLUMNS)
    if unknown:
        raise MappingError(f"{path}: not canonical columns: {', '.join(sorted(unknown))}")
    if "source_event_id" not in spec.get("columns", {}):
        raise MappingError(f"{path}: a mapping must say which column is source_event_id")
    dele = spec.get("deletions")
    return Mapping(
        name=spec.get("name", path.stem),
        columns=spec["columns"],
        required=list(spec.get("required", [])),
        required_any=[list(g) for g in spec.get("required_any", [])],
        optional=list(spec.get("optional", [])),
        null_values=[str(v) for v in spec.get("null_values", [])],
        extra=bool(spec.get("extra", True)),
        deletions=Deletions(**dele) if dele else None,
        description=spec.get("description", ""),
        path=path,
        coverage=_coverage(spec.get("coverage"), path),
        perpetrators=_perpetrators(spec.get("coverage"), path),
    )


def _coverage(spec: Any, path: Path) -> dict[str, tuple[dt.date, dt.date]]:
    """`coverage: {PAK: {start: D, end: D}, all: {...}}` -> {'PAK': (start, end), '*': ...}; checked."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise MappingError(f"{path}: coverage must map a country ISO3 code or `all` to {{start: DATE, end: DATE}}")
    out = {}
    for country, window in spec.items():
        if country == "perpetrators":
            continue
        key = "*" if str(country).lower() == "all" else str(country).upper()
        start, end = (window.get(k) if isinstance(window, dict) else None for k in ("start", "end"))
        if not (isinstance(window, dict) and set(window) == {"start", "end"} and isinstance(start, dt.date)
                and isinstance(end, dt.date) and start <= end and (key == "*" or len(key) == 3)):
            raise MappingError(f"{path}: coverage {country}: expected {{start: YYYY-MM-DD, end: YYYY-MM-DD}} "
                               f"with start <= end under an ISO3 code or `all`, got {window!r}")
        out[key] = (start, end)
    return out


def _perpetrators(spec: Any, path: Path) -> list[str] | None:
    """`coverage: {perpetrators: [USA], ...}` -> ['USA']: the source speaks only for series of these origins."""
    found = spec.get("perpetrators") if isinstance(spec, dict) else None
    if found is None:
        return None
    if not (isinstance(found, list) and found and all(isinstance(c, str) and len(c) == 3 for c in found)):
        raise MappingError(f"{path}: coverage perpetrators: expected a non-empty list of ISO3 codes, got {found!r}")
    if set(spec) == {"perpetrators"}:
        raise MappingError(f"{path}: coverage perpetrators: needs a window too (e.g. PAK: {{start: ..., end: ...}})")
    return sorted({c.upper() for c in found})


def _expr(spec: Any) -> tuple[str, str]:
    """(value expression, text expression) of a column spec before typing."""
    if isinstance(spec, str):
        return ident(spec), ident(spec)
    if not isinstance(spec, dict):
        return literal(spec), literal(spec)
    if "const" in spec:
        return literal(spec["const"]), literal(spec["const"])
    if "sql" in spec:
        return f"({spec['sql']})", f"CAST(({spec.get('text', spec['sql'])}) AS VARCHAR)"
    if "column" in spec:
        col = ident(spec["column"])
        if "map" in spec:
            cases = " ".join(f"WHEN {literal(str(k))} THEN {literal(v)}" for k, v in spec["map"].items())
            return f"(CASE {col} {cases} ELSE {col} END)", col
        return col, col
    raise MappingError(f"bad column spec {spec!r}")


def _typed(name: str, spec: Any, value: str, text: str) -> str:
    kind = COLUMNS[name]
    formats = spec.get("formats") if isinstance(spec, dict) else None
    if kind == "DATE":
        if formats:
            return f"CAST(try_strptime({text}, [{', '.join(literal(f) for f in formats)}]) AS DATE)"
        return f"TRY_CAST({value} AS DATE)"
    if kind == "TIMESTAMP":
        if formats:
            return f"try_strptime({text}, [{', '.join(literal(f) for f in formats)}])"
        # Unix epoch seconds (ACLED `timestamp`) or an ISO timestamp.
        return (
            f"coalesce(CASE WHEN regexp_full_match(CAST({value} AS VARCHAR), '\\d{{9,11}}') "
            f"THEN make_timestamp(CAST({value} AS BIGINT) * 1000000) END, TRY_CAST({value} AS TIMESTAMP))"
        )
    if kind in ("DOUBLE", "INTEGER"):
        # INTEGER columns stay DOUBLE here so the checks can tell 2.5 and -1 from 2.
        return f"TRY_CAST({value} AS DOUBLE)"
    return f"CAST({value} AS VARCHAR)"


def clean_projection(mapping: Mapping, header: list[str]) -> str:
    """SELECT list that trims every source column, turns null_values into NULL, adds absent optionals."""
    nulls = ", ".join(literal(v) for v in ["", *mapping.null_values])
    parts = ["_rec"]
    for col in header:
        c = ident(col)
        # trim() copies every string; testing the ends first keeps clean values as they are (2.5x faster).
        v = f"CASE WHEN starts_with({c}, ' ') OR ends_with({c}, ' ') THEN trim({c}) ELSE {c} END"
        parts.append(f"CASE WHEN {v} IN ({nulls}) THEN NULL ELSE {v} END AS {c}" if mapping.null_values
                     else f"nullif({v}, '') AS {c}")
    for col in mapping.optional:
        if col not in header:
            parts.append(f"CAST(NULL AS VARCHAR) AS {ident(col)}")
    return ",\n  ".join(parts)


def stage_projection(mapping: Mapping, header: list[str], defaults: dict[str, Any] | None = None) -> str:
    """SELECT list producing the canonical columns (+ _<col>_text for checked ones, extra JSON)."""
    defaults = defaults or {}
    parts = ["_rec"]
    for name in COLUMNS:
        spec = mapping.columns.get(name)
        if spec is None and name not in defaults:
            parts.append(f"CAST(NULL AS {COLUMNS[name] if COLUMNS[name] != 'INTEGER' else 'DOUBLE'}) AS {name}")
            if name in CHECKED_TEXT:
                parts.append(f"CAST(NULL AS VARCHAR) AS _{name}_text")
            continue
        value, text = _expr(spec) if spec is not None else ("NULL", "NULL")
        typed = _typed(name, spec, value, text)
        if name in defaults:
            typed = f"coalesce({typed}, {_typed(name, None, literal(defaults[name]), literal(defaults[name]))})"
            text = f"coalesce({text}, {literal(defaults[name])})"
        parts.append(f"{typed} AS {name}")
        if name in CHECKED_TEXT:
            parts.append(f"CAST({text} AS VARCHAR) AS _{name}_text")
    nul = ", ".join(f"CASE WHEN contains({ident(c)}, chr(0)) THEN {literal(c)} END" for c in header)
    parts.append(f"nullif(concat_ws(', ', {nul}), '') AS {NUL_COLUMNS}")
    used = _referenced_columns(mapping)
    rest = [c for c in header if c not in used]
    if mapping.extra and rest:
        parts.append("to_json(struct_pack(" + ", ".join(f"{ident(c)} := {ident(c)}" for c in rest) + ")) AS extra")
    else:
        parts.append("CAST(NULL AS JSON) AS extra")
    return ",\n  ".join(parts)


def _referenced_columns(mapping: Mapping) -> set[str]:
    used: set[str] = set()
    for spec in mapping.columns.values():
        if isinstance(spec, str):
            used.add(spec)
        elif isinstance(spec, dict):
            if "column" in spec:
                used.add(spec["column"])
            used.update(spec.get("uses", []))
    return used
