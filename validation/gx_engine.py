"""Validate pandas frames with Great Expectations 1.x from declarative checks.

Used for small computed frames (batch-level numbers at ingest, freshness ages); rules over warehouse
tables run on GX's SQL engine instead (gx_sql). GX is imported lazily (~2.5 s).
When GX cannot *evaluate* an expectation it reports success=False with the cause in
``exception_info``; we raise ValidationError instead, so a broken check is never a data failure.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

Severity = Literal["warning", "critical"]

# Expectation -> kwargs naming the columns it reads. An allowlist, not every gx.expectations class:
# GX gets only those columns, which would silently falsify table-shape expectations such as
# expect_table_columns_to_match_set. Each entry is covered by tests/warehouse/test_gx_engine.py.
SUPPORTED: dict[str, tuple[str, ...]] = {
    "expect_column_values_to_be_in_set": ("column",),
    "expect_column_values_to_not_be_in_set": ("column",),
    "expect_column_values_to_not_be_null": ("column",),
    "expect_column_values_to_be_between": ("column",),
    "expect_column_values_to_match_regex": ("column",),
    "expect_column_values_to_be_unique": ("column",),
    "expect_compound_columns_to_be_unique": ("column_list",),
    "expect_column_proportion_of_unique_values_to_be_between": ("column",),
    "expect_column_to_exist": ("column",),
    "expect_table_row_count_to_be_between": (),
}
# We set these on every expectation; letting a spec override them would break result matching.
_RESERVED_KWARGS = {"meta", "severity", "description", "id", "result_format", "catch_exceptions"}
_META_KEY = "riskwatch_check"
# GX turns dots in suite names into directories, and the name ends up in file paths.
_SUITE_NAME = re.compile(r"[A-Za-z0-9_-]+")

GX_LOCK = threading.RLock()  # GX contexts are not safe for concurrent add/delete


class ValidationError(Exception):
    """GX failed to evaluate at least one expectation; its results say nothing about the data."""


@dataclass
class Check:
    name: str
    expectation: str
    kwargs: dict = field(default_factory=dict)
    severity: Severity = "critical"
    description: str = ""

    def __post_init__(self) -> None:
        if self.severity not in ("warning", "critical"):
            raise ValueError(f"check {self.name!r}: severity must be 'warning' or 'critical'")


@dataclass
class CheckResult:
    suite: str
    check_name: str
    expectation: str
    severity: Severity
    success: bool
    observed_value: Any
    unexpected_count: int | None
    element_count: int | None
    details: dict


def import_gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # the context config disables it too
    import great_expectations as gx

    return gx


def new_context(results_dir: str | None = None):
    """An ephemeral GX context; with `results_dir`, validation results persist there as JSON (Data Docs
    index every run found there)."""
    gx = import_gx()
    from great_expectations.data_context.types import base

    # init_temp_docs_sites=False: otherwise every ephemeral context claims a docs site in a new tempdir.
    stores = base.InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
    if results_dir:
        stores.stores[stores.validation_results_store_name]["store_backend"] = {
            "class_name": "TupleFilesystemStoreBackend", "base_directory": results_dir}
    return gx.get_context(mode="ephemeral", project_config=base.DataContextConfig(
        store_backend_defaults=stores,
        analytics_enabled=False,
        progress_bars=base.ProgressBarsConfig(globally=False, metric_calculations=False),
    ))


@functools.cache  # creating one is cheap, but each get_context() repoints GX's "current" context
def shared_context():
    return new_context()


def build_suite(suite_name: str, checks: Sequence[Check], *, any_expectation: bool = False):
    """A GX ExpectationSuite for the specs; every spec error is a ValueError before GX runs.

    `any_expectation`: accept every GX expectation, not only SUPPORTED (for suites that run on the SQL
    engine, see gx_sql, and are rebuilt here only to render them)."""
    gx = import_gx()
    if not _SUITE_NAME.fullmatch(suite_name):
        raise ValueError(f"suite name {suite_name!r} must match {_SUITE_NAME.pattern}")
    if len({c.name for c in checks}) != len(checks):
        raise ValueError(f"suite {suite_name!r}: duplicate check names")
    built = []
    for check in checks:
        if check.expectation not in SUPPORTED and not (
                any_expectation and hasattr(gx.expectations, check.expectation.title().replace("_", ""))):
            raise ValueError(f"check {check.name!r}: unsupported expectation {check.expectation!r}")
        if clash := _RESERVED_KWARGS & set(check.kwargs):
            raise ValueError(f"check {check.name!r}: reserved kwargs {sorted(clash)}")
        cls = getattr(gx.expectations, check.expectation.title().replace("_", ""))
        try:
            built.append(cls(**check.kwargs, meta={_META_KEY: check.name}, severity=check.severity,
                             description=check.description or None))
        except Exception as exc:  # pydantic rejecting the kwargs
            raise ValueError(f"check {check.name!r}: bad kwargs for {check.expectation}: {exc}") from exc
    suite = gx.ExpectationSuite(name=suite_name, expectations=built)
    if len(suite.expectations) != len(built):  # the constructor only logs the ones it drops
        raise ValueError(f"suite {suite_name!r}: GX dropped some expectations")
    return suite


def exception_messages(exception_info: Any) -> list[str]:
    """Every evaluation error in an ExpectationValidationResult.exception_info.

    1.x shapes: a flat ExceptionInfo {raised_exception, exception_message, exception_traceback};
    {metric_id: ExceptionInfo} after a MetricResolutionError; None or {} when all went well.
    Anything else counts as an error rather than being trusted.
    """
    if not exception_info:
        return []
    if not isinstance(exception_info, Mapping):
        return [f"unrecognised exception_info {exception_info!r}"]
    flat = "raised_exception" in exception_info
    messages = []
    for key, info in ({"": exception_info} if flat else exception_info).items():
        if not isinstance(info, Mapping):
            messages.append(f"unrecognised exception_info entry {key}: {info!r}")
        elif info.get("raised_exception") or info.get("exception_message") or info.get("exception_traceback"):
            metric = re.search(r"metric_name='([^']+)'", str(key))  # the full metric id is mostly hashes
            messages.append(f"{metric.group(1) if metric else key} {info.get('exception_message')}".strip())
    return messages


def json_safe(value: Any) -> Any:
    from great_expectations.util import convert_to_json_serializable

    # GX's converter keeps NaN/inf (e.g. a null in partial_unexpected_list); JSON has no such values.
    return json.loads(json.dumps(convert_to_json_serializable(value)), parse_constant=lambda _: None)


def run_suite(
    suite_name: str, df: pd.DataFrame, checks: Sequence[Check], *, context=None
) -> list[CheckResult]:
    """Validate ``df`` against ``checks``: one CheckResult per check, in the given order.

    ValueError for bad specs (raised before GX runs); ValidationError when GX itself failed.
    GX only sees the columns the checks name.
    """
    if not checks:
        raise ValueError(f"suite {suite_name!r} has no checks")
    gx = import_gx()
    build_suite(suite_name, checks)  # validate the specs before touching any context
    wanted = [c for ch in checks for k in SUPPORTED[ch.expectation]
              for c in ([ch.kwargs[k]] if k == "column" else ch.kwargs.get(k, []))]
    # Absent columns are left for GX to trip over, so they surface as ValidationError.
    frame = df[[c for c in dict.fromkeys(wanted) if c in df.columns]]

    with GX_LOCK:
        ctx = context if context is not None else shared_context()
        # One datasource per call: its execution engine caches every batch and resolved metric
        # (~30 MB per call at 1e6 rows) and only dropping the datasource frees them. The unique
        # name also keeps calls from clashing in the long-lived shared context.
        name = f"{suite_name}-{uuid.uuid4().hex[:12]}"
        try:
            asset = ctx.data_sources.add_pandas(name).add_dataframe_asset("frame")
            suite = ctx.suites.add(build_suite(name, checks))
            definition = ctx.validation_definitions.add(gx.ValidationDefinition(
                name=name, data=asset.add_batch_definition_whole_dataframe("whole"), suite=suite))
            outcome = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
        finally:
            _forget(ctx, name)

    by_check: dict[str, Any] = {}
    errors: list[str] = []
    for evr in outcome.results:
        check_name = (getattr(evr.expectation_config, "meta", None) or {}).get(_META_KEY)
        if check_name in by_check or check_name not in {c.name for c in checks}:
            errors.append(f"unexpected GX result for {check_name!r}")
        by_check[check_name] = evr
        errors += [f"{check_name}: {m}" for m in exception_messages(evr.exception_info)]
        if evr.success not in (True, False):  # numpy bools compare equal, None does not
            errors.append(f"{check_name}: GX returned success={evr.success!r}")
    errors += [f"{c.name}: no result from GX" for c in checks if c.name not in by_check]
    if errors:
        raise ValidationError(f"suite {suite_name!r}: GX could not evaluate: " + "; ".join(errors))

    results = []
    for check in checks:
        evr, res = by_check[check.name], json_safe(by_check[check.name].result or {})
        results.append(CheckResult(
            suite=suite_name, check_name=check.name, expectation=check.expectation,
            severity=check.severity, success=bool(evr.success), observed_value=res.get("observed_value"),
            unexpected_count=res.get("unexpected_count"), element_count=res.get("element_count"),
            details={"kwargs": json_safe(check.kwargs), "description": check.description, "result": res},
        ))
    return results


def _forget(ctx, name: str) -> None:
    for remove in (ctx.validation_definitions.delete, ctx.suites.delete, ctx.data_sources.delete):
        with contextlib.suppress(Exception):  # not created if the run failed early
            remove(name)
    store = ctx.validation_results_store  # in-memory; would grow with every call
    for key in store.list_keys():
        if key.expectation_suite_identifier.name == name:
            store.remove_key(key)
