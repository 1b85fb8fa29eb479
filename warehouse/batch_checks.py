"""Checks on a staged file, validated by Great Expectations; a batch failing a critical one is refused whole.

The rules stay in DuckDB SQL: one query turns `_checked` into boolean flags (one per row check of
checks.yml, ids unique, event type in the source's vocabulary) and GX validates only those flags. GX
must count exactly what SQL counted, or the load is refused: a check that could not be evaluated never
passes. Batch rules (rejected share, a column suddenly empty, a shrunken re-export) are numbers on a
one-row frame, validated the same way. Results are stored in the load's transaction, so a refused or
failed load leaves no validation record behind (ingest_runs says why it was refused).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import yaml

from warehouse import gx_engine, row_checks
from warehouse.canonical import COLUMNS
from warehouse.gx_engine import Check, CheckResult, ValidationError
from warehouse.readfile import IngestRefused
from warehouse.sources.mapping import available, ident, literal

SUITE = "incidents"
# The in-file duplicate rule of row_checks.mark_repeated_ids: among the rows passing the row checks, the
# newest revision of an id (then the first line) loads and the others are quarantined.
DEDUP = ("expect_column_values_to_be_unique(source_event_id)", "id_first_in_file",
         "NOT _row_ok OR row_number() OVER (PARTITION BY source_event_id, _row_ok "
         "ORDER BY source_updated_at DESC NULLS LAST, _rec) = 1", "warning")


def flag_check(name: str, column: str, severity: str = "critical", description: str = "") -> Check:
    return Check(name, "expect_column_values_to_be_in_set", {"column": column, "value_set": [True]},
                 severity, description)


def validate(suite: str, frame: pd.DataFrame, checks: list[Check], expected: dict[str, int]) -> list[CheckResult]:
    """gx_engine.run_suite, then insist that GX failed exactly the rows SQL counted (check name -> count)."""
    results = gx_engine.run_suite(suite, frame, checks)
    wrong = [f"{r.check_name}: GX {r.unexpected_count} unexpected (success={r.success}), SQL {expected[r.check_name]}"
             for r in results if r.check_name in expected
             and (r.unexpected_count != expected[r.check_name] or r.success != (expected[r.check_name] == 0))]
    if wrong:
        raise ValidationError(f"suite {suite!r}: GX and SQL disagree: " + "; ".join(wrong))
    return results


def annotate(result: CheckResult, message: str | None = None, *, indicator: str | None = None,
             source: str | None = None) -> CheckResult:
    # Kept in details: build_data_docs reads only kwargs/description/result from there.
    result.details.update(message=message, indicator=indicator, source=source)
    return result


def store_run(con, as_of: dt.date, results: list[CheckResult], *, started_at: dt.datetime | None = None,
              docs_path: str | None = None, kind: str = "full") -> int:
    """One validation_runs row and its validation_results; the run id."""
    critical = sum(1 for r in results if not r.success and r.severity == "critical")
    run_id = con.execute(
        "INSERT INTO validation_runs (as_of, started_at, finished_at, success, critical_failures, docs_path, kind) "
        "VALUES (?, coalesce(?, CAST(current_timestamp AS TIMESTAMP)), CAST(current_timestamp AS TIMESTAMP), ?, ?, ?, "
        "?) RETURNING run_id", [as_of, started_at, all(r.success for r in results), critical, docs_path, kind],
    ).fetchone()[0]
    if results:
        con.executemany(
            "INSERT INTO validation_results (run_id, suite, check_name, expectation, severity, success, "
            "observed_value, unexpected_count, element_count, indicator, source, message, run_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(current_timestamp AS TIMESTAMP))",
            [(run_id, r.suite, r.check_name, r.expectation, r.severity, r.success,
              None if r.observed_value is None else json.dumps(r.observed_value), r.unexpected_count,
              r.element_count, r.details.get("indicator"), r.details.get("source"), r.details.get("message"))
             for r in results],
        )
    return run_id


def source_vocabulary(source: str, mapping_dirs: list[Path] | None = None) -> dict[str, list[str]]:
    """The `vocabulary:` of a source's mapping file, following `extends`; {} when it has none."""
    path = available(mapping_dirs).get(source)
    spec = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path else {}
    if "vocabulary" not in spec and spec.get("extends") and spec["extends"] != source:
        return source_vocabulary(spec["extends"], mapping_dirs)
    return {col: list(values) for col, values in (spec.get("vocabulary") or {}).items()}


def _row_flags(as_of: dt.date, vocabulary: dict[str, list[str]]) -> list[tuple[str, str, str, str]]:
    """(check name, flag column, SQL over `_checked` that is TRUE when the row passes, severity)."""
    flags = []
    for i, check in enumerate(row_checks.row_checks()):
        name = f"{check['expectation']}({check['column']})"  # the prefix of the reason in rejected_incidents
        if any(f[0] == name for f in flags):
            name += f"#{i}"
        fails = check["fails"].replace("{as_of}", as_of.isoformat())
        flags.append((name, f"row_check_{i:02d}", f"NOT coalesce(({fails}), false)", "warning"))
    for col, values in vocabulary.items():
        if col in COLUMNS:
            flags.append((f"{col}_in_vocabulary", f"{col}_in_vocabulary",
                          f"{ident(col)} IN ({', '.join(map(literal, values))})", "warning"))
    return flags


def _message(con, name: str, column: str, sql: str, failing: int, total: int) -> str | None:
    if not failing:
        return None
    text = f"{failing} of {total} rows fail"
    if column.endswith("_in_vocabulary"):
        col = column.removesuffix("_in_vocabulary")
        top = con.execute(f"SELECT coalesce({ident(col)}, '(missing)'), count(*) FROM _checked WHERE NOT "
                          f"coalesce({sql}, false) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5").fetchall()
        return text + "; not in the source's vocabulary: " + ", ".join(f"{v!r} ({n})" for v, n in top)
    example = con.execute("SELECT line, reason FROM _rejects WHERE starts_with(reason, ?) ORDER BY line LIMIT 1",
                          [name.split("#")[0] + ":"]).fetchone()
    return text + "; quarantined" + (f", e.g. line {example[0]}: {example[1]}" if example else "")


def _batch_numbers(con, path: Path, run, null_min_filled: float, null_min_rows: int) -> dict:
    cols = list(COLUMNS)
    counts = ", ".join(f"count({ident(c)})" for c in cols)
    batch = con.execute(f"SELECT count(*), {counts} FROM _checked").fetchone()
    held = con.execute(f"SELECT count(*), {counts} FROM incident_current WHERE source = ? AND NOT is_deleted",
                       [run.source]).fetchone()
    empty = [c for c, b, h in zip(cols, batch[1:], held[1:], strict=True)
             if batch[0] >= null_min_rows and held[0] and h / held[0] >= null_min_filled and b == 0]
    previous = con.execute(
        "SELECT run_id, file, rows_read FROM ingest_runs WHERE source = ? AND kind = 'events' AND status = 'success' "
        "AND run_id <> ? AND parse_filename(file) = ? ORDER BY run_id DESC LIMIT 1",
        [run.source, run.run_id, Path(path).name],
    ).fetchone()
    ratio = run.rows_read / previous[2] if previous and previous[2] else None
    return {"rejected": run.rejected / run.rows_read if run.rows_read else 0.0, "ratio": ratio,
            "previous": previous, "empty": empty, "staged": batch[0], "held": held[0]}


def check_batch(
    con, path, run, *, max_reject_fraction: float, as_of: dt.date | None = None, max_row_drop: float = 0.5,
    null_min_filled: float = 0.5, null_min_rows: int = 20, vocabulary: dict[str, list[str]] | None = None,
    mapping_dirs: list[Path] | None = None,
) -> list[CheckResult]:
    """Validate the staged batch (`_checked`, `_rejects`) with GX and store the results (suite 'incidents').

    Raises IngestRefused when a critical check fails or GX could not evaluate a check. `as_of` must be the
    load's as-of date (the row checks' date bound; default today, as in ingest_file).
    """
    path = Path(path)
    as_of = as_of or dt.date.today()
    vocabulary = source_vocabulary(run.source, mapping_dirs) if vocabulary is None else vocabulary
    first = _row_flags(as_of, vocabulary)
    row_ok = " AND ".join(col for _, col, _, _ in first if not col.endswith("_in_vocabulary"))
    flags = [*first, DEDUP]
    # The flags in ONE query (nested: the duplicate rule reads the row checks); the two guards read them:
    # no row failing a check loads, no id loads twice.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _flags AS SELECT {', '.join(col for _, col, _, _ in flags)}, ids_unique, "
        "_rejected OR (_row_ok AND id_first_in_file) AS failing_rows_quarantined FROM (SELECT *, "
        f"coalesce({DEDUP[2]}, false) AS {DEDUP[1]}, coalesce(_rejected OR count(*) FILTER (WHERE NOT _rejected) "
        "OVER (PARTITION BY source_event_id) = 1, false) AS ids_unique FROM (SELECT *, "
        f"{row_ok} AS _row_ok FROM (SELECT "
        + ", ".join(f"coalesce({sql}, false) AS {col}" for _, col, sql, _ in first)
        + ", _reason IS NOT NULL AS _rejected, source_event_id, source_updated_at, _rec FROM _checked)))"
    )
    checks = [flag_check(name, col, sev, f"row check: passes when {sql}") for name, col, sql, sev in flags] + [
        flag_check("failing_rows_quarantined", "failing_rows_quarantined",
                   description="every row failing a row check is quarantined, none is loaded"),
        flag_check("unique_ids_loaded", "ids_unique", description="no source_event_id is loaded twice"),
    ]
    cols = [c.kwargs["column"] for c in checks]
    failing = con.execute("SELECT count(*), " + ", ".join(f"count(*) FILTER (WHERE NOT {c})" for c in cols)
                          + " FROM _flags").fetchone()
    expected = dict(zip([c.name for c in checks], failing[1:], strict=True))

    n = _batch_numbers(con, path, run, null_min_filled, null_min_rows)
    prev = n["previous"]
    batch_frame = pd.DataFrame({"rejected_fraction": [n["rejected"]],
                                "rows_vs_previous_export": [n["ratio"]], "columns_suddenly_null": [len(n["empty"])]},
                               dtype=float)
    batch_level = [
        Check("rejected_fraction", "expect_column_values_to_be_between",
              {"column": "rejected_fraction", "max_value": max_reject_fraction},
              description="share of the file's rows that fail row checks"),
        Check("rows_vs_previous_export", "expect_column_values_to_be_between",
              {"column": "rows_vs_previous_export", "min_value": 1 - max_row_drop},
              description="rows against the previous export of the same file name (NULL: none)"),
        Check("columns_suddenly_null", "expect_column_values_to_be_between",
              {"column": "columns_suddenly_null", "max_value": 0},
              description=f"canonical columns empty in a batch of >= {null_min_rows} rows but filled in "
                          f">= {null_min_filled:.0%} of the source's current incidents"),
    ]
    batch_expected = {"rejected_fraction": int(n["rejected"] > max_reject_fraction),
                      "rows_vs_previous_export": int(n["ratio"] is not None and n["ratio"] < 1 - max_row_drop),
                      "columns_suddenly_null": int(bool(n["empty"]))}
    try:
        results = validate(SUITE, con.execute(f"SELECT {', '.join(cols)} FROM _flags").df(), checks, expected)
        results += validate(SUITE, batch_frame, batch_level, batch_expected)
    except ValidationError as exc:
        raise IngestRefused(f"{path}: the incident checks could not be validated, nothing loaded: {exc}") from exc

    refusals = {
        "rejected_fraction": f"{path}: {run.rejected} of {run.rows_read} rows ({n['rejected']:.0%}) fail checks, "
        f"over the {max_reject_fraction:.0%} limit; nothing loaded. First: {_first_reason(con)}",
        "rows_vs_previous_export": f"{path}: {run.rows_read} rows, down {1 - (n['ratio'] or 0):.0%} from the "
        f"{prev[2] if prev else 0} rows of the previous export {prev[1] if prev else ''} (ingest run "
        f"{prev[0] if prev else ''}), over the {max_row_drop:.0%} limit: a truncated export? Nothing loaded.",
        "columns_suddenly_null": f"{path}: column(s) {', '.join(n['empty'])} empty in all {n['staged']} rows but "
        f"filled in >= {null_min_filled:.0%} of {run.source}'s {n['held']} current incidents: a changed export "
        f"format? Nothing loaded.",
        "failing_rows_quarantined": f"{path}: rows failing row checks were not quarantined (checks.yml and the "
        f"load disagree); nothing loaded.",
        "unique_ids_loaded": f"{path}: some source_event_id would be loaded twice; nothing loaded.",
    }
    label = f"{path.name} (ingest run {run.run_id})"
    row_sql = {name: (col, sql) for name, col, sql, _ in flags}
    for r in results:
        detail = None if r.success else refusals.get(r.check_name) or _message(
            con, r.check_name, *row_sql[r.check_name], r.unexpected_count, failing[0])
        annotate(r, f"{label}: {detail}" if detail else label, source=run.source)
    refused = [refusals[r.check_name] for r in results if not r.success and r.severity == "critical"]
    if refused:
        raise IngestRefused(" Also: ".join(refused))
    store_run(con, as_of, results, kind="ingest")
    con.execute("DROP TABLE IF EXISTS _flags")   # 1e6-row batches: give its memory back before the insert
    return results


def _first_reason(con) -> str:
    row = con.execute("SELECT reason FROM _rejects ORDER BY line LIMIT 1").fetchone()
    return row[0] if row else "?"
