"""Row rules at ingest as Great Expectations expectations on the staged columns (warehouse/checks.yml).

GX decides: the expectations run through its SQL engine over the staged temp table (validation.gx_sql),
and the rows quarantined for a rule are the rows GX reports as unexpected: its unexpected_index_list (by
_rec), or, for an unexpected_rows_expectation, the rows of its query. No flag columns: each expectation
reads the real column. `judge_rows` is the `judge` that warehouse.load.ingest_file calls.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import yaml

from validation.gx_engine import CheckResult, ValidationError, import_gx, json_safe
from validation.gx_sql import validate_table
from warehouse.readfile import IngestRefused
from warehouse.sources.mapping import literal

CHECKS = Path(__file__).resolve().parent.parent / "warehouse" / "checks.yml"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T[0-9:.]+)?")


@dataclass(frozen=True)
class RowRule:
    expectation: str
    kwargs: dict
    reason: str                       # DuckDB SQL over the failing row: what was observed
    column: str = ""
    keep_one: bool = False            # uniqueness: the newest copy of each value loads

    @property
    def label(self) -> str:
        return f"{self.expectation}({self.column or self.kwargs.get('column')})"


@dataclass
class RowVerdict:
    """What the row rules found in one staged batch; `failing`: some row fails a rule."""
    results: list[CheckResult] = field(default_factory=list)
    failing: bool = False


def row_rules(path: Path = CHECKS) -> list[RowRule]:
    """The rules of checks.yml in order; an entry with `columns: [a, b]` is one rule per column."""
    rules = []
    for spec in yaml.safe_load(path.read_text(encoding="utf-8"))["row_expectations"]:
        columns = spec.pop("columns", None)
        for col in columns or [None]:
            fill = (lambda v, c=col: v.replace("{column}", c) if isinstance(v, str) else v) if col else (lambda v: v)
            rules.append(RowRule(**{**spec, "kwargs": {k: fill(v) for k, v in spec["kwargs"].items()},
                                    "reason": fill(spec["reason"]), **({"column": col} if col else {})}))
    return rules


def _known_countries(con) -> list[str]:
    return [n for (n,) in con.execute("SELECT name FROM country_names WHERE iso3 IS NOT NULL ORDER BY 1").fetchall()]


def _kwargs(rule: RowRule, as_of: dt.date, known: list[str]) -> dict:
    out = {}
    for key, value in rule.kwargs.items():
        if value == "{known_countries}":
            value = known
        elif isinstance(value, str) and key != "unexpected_rows_query":
            value = value.replace("{as_of}", as_of.isoformat())
            if key in ("min_value", "max_value") and _ISO_DATE.fullmatch(value):
                value = (dt.datetime if "T" in value else dt.date).fromisoformat(value)
        out[key] = value
    return out


def expectations(as_of: dt.date, known: list[str], rules: list[RowRule] | None = None) -> list:
    gx = import_gx()
    return [getattr(gx.expectations, r.expectation.title().replace("_", ""))(**_kwargs(r, as_of, known),
                                                                           meta={"riskwatch_check": r.label})
            for r in (rules if rules is not None else row_rules())]


def _unexpected_rows_sql(con, rule: RowRule, result, checked: str) -> str:
    """SQL selecting (_rec) the rows GX found unexpected for `rule`."""
    if rule.expectation == "unexpected_rows_expectation":
        return rule.kwargs["unexpected_rows_query"].replace("{batch}", f"temp.{checked}")
    recs = [row["_rec"] for row in result.result["unexpected_index_list"]]
    view = f"_unexpected_{checked}"
    con.register(view, pa.table({"_rec": pa.array(recs, pa.int64())}))
    return f"SELECT _rec FROM {view}"


def _quarantine(con, checked: str, rule: RowRule, label: str, rows_sql: str, as_of: dt.date, counted: int,
                path: Path) -> None:
    selected = con.execute(f"SELECT count(*) FROM ({rows_sql})").fetchone()[0]
    if selected != counted:   # GX's query must select what GX counted, or it is not GX's verdict
        raise IngestRefused(f"{path}: {label}: GX counted {counted} unexpected rows but its query selects "
                            f"{selected}; nothing loaded")
    reason = f"{literal(label + ': ')} || coalesce({rule.reason.replace('{as_of}', as_of.isoformat())}, '?')"
    target = f"SELECT _rec FROM ({rows_sql})"
    if rule.keep_one:
        col = rule.kwargs["column"]
        target = (f"SELECT _rec FROM (SELECT _rec, row_number() OVER (PARTITION BY {col} ORDER BY source_updated_at "
                  f"DESC NULLS LAST, _rec, row_hash) AS n FROM {checked} WHERE _reason IS NULL AND _rec IN "
                  f"({target})) WHERE n > 1")
    con.execute(f"UPDATE {checked} SET _reason = {reason} WHERE _reason IS NULL AND _rec IN ({target})")
    con.execute(f"DROP VIEW IF EXISTS _unexpected_{checked}")


def judge_rows(con, checked: str, *, path: Path, as_of: dt.date, numbered: bool) -> tuple[bool, RowVerdict]:
    """Run the row rules on staged table `checked`; when `numbered` (_rec set), quarantine GX's unexpected rows
    by setting `_reason` (first failing rule wins). Returns (some row fails, the verdict for check_batch).

    Raises IngestRefused when GX could not evaluate a rule: a rule that did not run never passes.
    """
    rules, known = row_rules(), _known_countries(con)
    try:
        results = validate_table(con, checked, expectations(as_of, known, rules), index_columns=["_rec"] if numbered
                                 else (), all_rows=con.execute(f"SELECT count(*) FROM {checked}").fetchone()[0])
    except ValidationError as exc:
        raise IngestRefused(f"{path}: the row rules could not be evaluated, nothing loaded: {exc}") from exc
    verdict = RowVerdict()
    seen: dict[str, int] = {}
    for i, (rule, evr) in enumerate(zip(rules, results, strict=True)):
        label = rule.label
        name = label if label not in seen else f"{label}#{i}"   # stored check names are unique per suite
        seen[label] = i
        failed = not evr.success
        if failed and numbered:
            _quarantine(con, checked, rule, label, _unexpected_rows_sql(con, rule, evr, checked), as_of,
                        evr.result.get("unexpected_count", evr.result.get("observed_value")), path)
        verdict.failing |= failed
        # The row lists stay out of the stored result: the quarantine holds those rows.
        res = json_safe({k: v[:20] if k.startswith("partial_unexpected") else v for k, v in (evr.result or {}).items()
                         if k not in ("unexpected_index_list", "unexpected_list", "details")})
        count = res.get("unexpected_count", res.get("observed_value"))
        verdict.results.append(CheckResult(
            suite="incidents", check_name=name, expectation=rule.expectation, severity="warning", success=not failed,
            observed_value=res.get("observed_value"), unexpected_count=count, element_count=res.get("element_count"),
            details={"kwargs": json_safe(_kwargs(rule, as_of, known)),
                     "description": f"row rule; failing rows are quarantined with reason '{label}: ...'",
                     "result": res}))
    return verdict.failing, verdict
