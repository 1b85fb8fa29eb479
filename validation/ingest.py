"""Checks on a staged file, validated by Great Expectations; a batch failing a critical one is refused whole.

check_batch is the `validate` that warehouse.load.ingest_file calls, after the row rules (row_rules.judge_rows,
its `judge`) have quarantined GX's unexpected rows; ingest_file / ingest_files here are the load with these
checks deciding, and the settings' limits applied (what the CLI and flows use). GX runs on the staged table
itself (gx_sql): values in the source's vocabulary (warning), ids unique among the rows that will load
(critical). Batch rules (rejected share, a column suddenly empty, a shrunken re-export) are numbers on a
one-row frame. A check GX could not evaluate refuses the load. Results are stored in the load's transaction,
so a refused or failed load leaves no validation record behind (ingest_runs says why it was refused).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import yaml

from riskwatch.settings import Settings
from validation.gx_engine import Check, CheckResult, ValidationError, import_gx, json_safe, run_suite
from validation.gx_sql import validate_table
from validation.results import annotate, store_run
from validation.row_rules import RowVerdict, judge_rows
from warehouse import load
from warehouse.canonical import COLUMNS
from warehouse.load import IngestResult, StagedBatch
from warehouse.readfile import IngestRefused
from warehouse.sources.mapping import MappingError, available, ident, literal

SUITE = "incidents"


def source_vocabulary(source: str, mapping_dirs: list[Path] | None = None) -> dict[str, list[str]]:
    """The `vocabulary:` of a source's mapping file, following `extends`; {} when it has none."""
    path = available(mapping_dirs).get(source)
    spec = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path else {}
    if "vocabulary" not in spec and spec.get("extends") and spec["extends"] != source:
        return source_vocabulary(spec["extends"], mapping_dirs)
    return {col: list(values) for col, values in (spec.get("vocabulary") or {}).items()}


def _gx_checks(con, batch: StagedBatch, vocabulary: dict[str, list[str]]) -> list[CheckResult]:
    """The source's vocabulary on all staged rows (warning) and unique ids among the rows that load (critical)."""
    gx = import_gx()
    in_vocabulary = [(col, values) for col, values in vocabulary.items() if col in COLUMNS]
    results = []
    if in_vocabulary:
        evrs = validate_table(con, batch.checked, [gx.expectations.ExpectColumnValuesToBeInSet(
            column=col, value_set=values) for col, values in in_vocabulary])
        results += [_result(f"{col}_in_vocabulary", "expect_column_values_to_be_in_set", "warning", evr,
                            {"column": col, "value_set": values}, "values in the source mapping's vocabulary")
                    for (col, values), evr in zip(in_vocabulary, evrs, strict=True)]
    loading = f"_loading_{batch.checked}"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {loading} AS SELECT source_event_id FROM {batch.checked} "
                "WHERE _reason IS NULL")
    try:
        [evr] = validate_table(con, loading, [gx.expectations.ExpectColumnValuesToBeUnique(column="source_event_id")])
    finally:
        con.execute(f"DROP VIEW {loading}")
    results.append(_result("unique_ids_loaded", "expect_column_values_to_be_unique", "critical", evr,
                           {"column": "source_event_id"}, "no source_event_id is loaded twice"))
    return results


def _result(name: str, expectation: str, severity: str, evr, kwargs: dict, description: str) -> CheckResult:
    res = json_safe(evr.result or {})
    return CheckResult(SUITE, name, expectation, severity, bool(evr.success), res.get("observed_value"),
                       res.get("unexpected_count"), res.get("element_count"),
                       {"kwargs": kwargs, "description": description, "result": res})


def _message(con, batch: StagedBatch, result: CheckResult, total: int) -> str | None:
    if result.success:
        return None
    text = f"{result.unexpected_count} of {total} rows fail"
    if result.check_name.endswith("_in_vocabulary"):
        col = result.check_name.removesuffix("_in_vocabulary")
        values = result.details["kwargs"]["value_set"]
        top = con.execute(f"SELECT {ident(col)}, count(*) FROM {batch.checked} WHERE {ident(col)} NOT IN "
                          f"({', '.join(map(literal, values))}) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5").fetchall()
        return text + "; not in the source's vocabulary: " + ", ".join(f"{v!r} ({n})" for v, n in top)
    example = con.execute(f"SELECT line, reason FROM {batch.rejects} WHERE starts_with(reason, ?) ORDER BY line "
                          "LIMIT 1", [result.check_name.split("#")[0] + ":"]).fetchone()
    return text + "; quarantined" + (f", e.g. line {example[0]}: {example[1]}" if example else
                                     " (all of them failed an earlier rule)")


def _batch_numbers(con, batch: StagedBatch, run, null_min_filled: float, null_min_rows: int) -> dict:
    cols = list(COLUMNS)
    counts = ", ".join(f"count({ident(c)})" for c in cols)
    staged = con.execute(f"SELECT count(*), {counts} FROM {batch.checked}").fetchone()
    held = con.execute(f"SELECT count(*), {counts} FROM incident_current WHERE source = ? AND NOT is_deleted",
                       [run.source]).fetchone()
    empty = [c for c, b, h in zip(cols, staged[1:], held[1:], strict=True)
             if staged[0] >= null_min_rows and held[0] and h / held[0] >= null_min_filled and b == 0]
    previous = con.execute(
        "SELECT run_id, file, rows_read FROM ingest_runs WHERE source = ? AND kind = 'events' AND status = 'success' "
        "AND run_id <> ? AND parse_filename(file) = ? ORDER BY run_id DESC LIMIT 1",
        [run.source, run.run_id, batch.path.name],
    ).fetchone()
    ratio = run.rows_read / previous[2] if previous and previous[2] else None
    shares = {}
    for what, col in (("coordinates", "latitude"), ("fatalities", "fatalities")):
        b, h = (x[1 + cols.index(col)] / x[0] if x[0] >= null_min_rows else None for x in (staged, held))
        shares[what] = b / h if b is not None and h else None
    return {"shares": shares, "rejected": run.rejected / run.rows_read if run.rows_read else 0.0, "ratio": ratio,
            "previous": previous, "empty": empty, "staged": staged[0], "held": held[0]}


def check_batch(
    con, batch: StagedBatch, run: IngestResult, *, max_reject_fraction: float, max_row_drop: float,
    null_min_filled: float, null_min_rows: int, rows: RowVerdict, min_share_ratio: float = 0.5,
    as_of: dt.date | None = None,
    vocabulary: dict[str, list[str]] | None = None, mapping_dirs: list[Path] | None = None,
) -> list[CheckResult]:
    """Store the row rules' results (`rows`), validate the batch with GX, store those (suite 'incidents').

    Raises IngestRefused when a critical check fails or GX could not evaluate a check. `as_of` must be the
    load's as-of date (default today, as in ingest_file).
    """
    path = batch.path
    as_of = as_of or dt.date.today()
    vocabulary = source_vocabulary(run.source, mapping_dirs) if vocabulary is None else vocabulary
    n = _batch_numbers(con, batch, run, null_min_filled, null_min_rows)
    prev = n["previous"]
    batch_frame = pd.DataFrame({"rejected_fraction": [n["rejected"]],
                                "rows_vs_previous_export": [n["ratio"]], "columns_suddenly_null": [len(n["empty"])],
                                **{f"{what}_share_vs_source": [n["shares"][what]] for what in n["shares"]}},
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
        *(Check(f"{what}_share_vs_source", "expect_column_values_to_be_between",
                {"column": f"{what}_share_vs_source", "min_value": min_share_ratio}, "warning",
                f"share of the batch's events with {what} / the source's current share (NULL: fewer than "
                f"{null_min_rows} rows on either side). Warning: a collapse means a changed export, not a refusal")
          for what in n["shares"]),
    ]
    try:
        results = [*rows.results, *_gx_checks(con, batch, vocabulary)]
        results += run_suite(SUITE, batch_frame, batch_level)
    except ValidationError as exc:
        raise IngestRefused(f"{path}: the incident checks could not be validated, nothing loaded: {exc}") from exc

    refusals = {
        "rejected_fraction": f"{path}: {run.rejected} of {run.rows_read} rows ({n['rejected']:.0%}) fail checks, "
        f"over the {max_reject_fraction:.0%} limit; nothing loaded. Reasons: {_reasons(con, batch)}",
        "rows_vs_previous_export": f"{path}: {run.rows_read} rows, down {1 - (n['ratio'] or 0):.0%} from the "
        f"{prev[2] if prev else 0} rows of the previous export {prev[1] if prev else ''} (ingest run "
        f"{prev[0] if prev else ''}), over the {max_row_drop:.0%} limit: a truncated export? Nothing loaded.",
        "columns_suddenly_null": f"{path}: column(s) {', '.join(n['empty'])} empty in all {n['staged']} rows but "
        f"filled in >= {null_min_filled:.0%} of {run.source}'s {n['held']} current incidents: a changed export "
        f"format? Nothing loaded.",
        "unique_ids_loaded": f"{path}: some source_event_id would be loaded twice; nothing loaded.",
        **{f"{what}_share_vs_source": f"share of events with {what} is {share:.0%} of {run.source}'s current share "
           f"(warning below {min_share_ratio:.0%}): a changed export?" for what, share in n["shares"].items()
           if share is not None},
    }
    label = f"{path.name} (ingest run {run.run_id})"
    for r in results:
        detail = None if r.success else refusals.get(r.check_name) or _message(con, batch, r, n["staged"])
        annotate(r, f"{label}: {detail}" if detail else label, source=run.source)
    refused = [refusals[r.check_name] for r in results if not r.success and r.severity == "critical"]
    if refused:
        raise IngestRefused(" Also: ".join(refused))
    store_run(con, as_of, results, kind="ingest")
    return results


def _reasons(con, batch: StagedBatch) -> str:
    """Every kind of reason the rejected rows have (the check before ': '), most rows first, with a count and
    the first line: a refused file keeps all its reasons, not only the first row's."""
    found = con.execute(
        f"SELECT split_part(reason, ': ', 1) AS kind, count(*) AS n, min(line) AS first FROM {batch.rejects} "
        "GROUP BY 1 ORDER BY n DESC, first").fetchall()
    return "; ".join(f"{kind} ({n} row{'s' if n != 1 else ''}, first line {first})" for kind, n, first in found) or "?"


def ingest_options(settings: Settings, source: str, **overrides) -> dict:
    """The keyword arguments of warehouse.load.ingest_file for `source`: these checks deciding, the
    settings' limits and the source's defaults, then `overrides` (as_of, force, defaults, ...)."""
    return {"validate": check_batch, "judge": judge_rows, "defaults": settings.source_defaults(source),
            "mapping_dirs": settings.mapping_dirs, "max_reject_fraction": settings.max_reject_fraction,
            "batch_limits": settings.batch_limits, **overrides}


def ingest_file(con, path, source: str, settings: Settings | None = None, **overrides) -> IngestResult:
    """Load one file (warehouse.load.ingest_file) with these checks deciding; see ingest_options."""
    return load.ingest_file(con, path, source, **ingest_options(settings or Settings(), source, **overrides))


def ingest_files(con, files: list[tuple[str, str]], settings: Settings, *, country: str | None = None,
                 on_result=None, **overrides) -> list[dict]:
    """Load (file, source) pairs one after the other; a refused file is reported and the rest still load.

    Returns one dict per file (IngestResult.as_dict(), or file/source/status 'refused'/message); calls
    `on_result(dict)` after each file.
    """
    results = []
    for path, source in files:
        options = ingest_options(settings, source, **overrides)
        if country:
            options["defaults"] = {**options["defaults"], "country": country}
        try:
            result = load.ingest_file(con, path, source, **options).as_dict()
        except (IngestRefused, MappingError) as exc:
            result = {"file": str(path), "source": source, "status": "refused", "message": str(exc)}
        results.append(result)
        if on_result:
            on_result(result)
    return results
