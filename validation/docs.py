"""Great Expectations Data Docs of riskwatch's validation results: one static HTML site that opens offline,
its runs labelled by kind and as-of date, the last `keep_runs` runs kept ([validation] docs_keep_runs)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from validation.docs_offline import make_offline
from validation.gx_engine import GX_LOCK, Check, CheckResult, build_suite, import_gx, new_context

RESULTS = "results"   # the site's validation results (JSON), which its index lists


def prune_runs(out: Path, keep: int) -> list[str]:
    """Delete the pages and results of all but the newest `keep` runs (<suite>/<run name>/<run time>/ under
    validations/ and results/); the run labels deleted."""
    runs: dict[tuple[str, str], list[Path]] = {}
    for page_dir in [*(out / "validations").glob("*/*/*"), *(out / RESULTS).glob("*/*/*")]:
        if page_dir.is_dir():
            runs.setdefault((page_dir.name, page_dir.parent.name), []).append(page_dir)   # (run time, run name)
    gone = sorted(runs)[:max(len(runs) - keep, 0)]
    for key in gone:
        for page_dir in runs[key]:
            shutil.rmtree(page_dir)
            if not any(page_dir.parent.iterdir()):
                page_dir.parent.rmdir()
    return [f"{name} {time}" for time, name in gone]


def build_data_docs(results_by_suite: Mapping[str, Sequence[CheckResult]], out_dir: str | Path, *,
                    kind: str = "validate", as_of: dt.date | None = None, keep_runs: int = 10) -> Path:
    """Render GX Data Docs of the results into the site ``out_dir``; return its index.html.

    The run is labelled "<kind>-<as_of>" in the site's index; older runs beyond `keep_runs` are deleted
    first. A fresh in-memory context is loaded with suites and validation results rebuilt from the
    CheckResults, so nothing lands outside ``out_dir``. The pages are then made to open offline.
    """
    if keep_runs < 1:
        raise ValueError(f"keep_runs must be >= 1, not {keep_runs}")
    gx = import_gx()
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.data_context.context_factory import project_manager
    from great_expectations.data_context.types import resource_identifiers as ids
    from great_expectations.exceptions import DataContextRequiredError
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    out, pages = Path(out_dir).resolve(), {}
    prune_runs(out, keep_runs - 1)   # the index is built from the pages on disk: prune before building
    with GX_LOCK:
        try:  # get_context() below repoints GX's process-wide "current" context; put it back after
            previous = project_manager.get_current_project()
        except DataContextRequiredError:
            previous = None
        ctx = new_context(str(out / RESULTS))
        try:
            ctx.add_data_docs_site("riskwatch", {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            })
            run_id = RunIdentifier(run_name=f"{kind}-{(as_of or dt.date.today()).isoformat()}",
                                   run_time=dt.datetime.now(dt.UTC))
            for name, results in results_by_suite.items():
                suite = ctx.suites.add(build_suite(name, [Check(
                    r.check_name, r.expectation, r.details.get("kwargs", {}), r.severity,
                    r.details.get("description", "")) for r in results], any_expectation=True))
                evrs = [ExpectationValidationResult(success=r.success, expectation_config=e.configuration,
                                                    result=r.details.get("result", {}))
                        for r, e in zip(results, suite.expectations, strict=True)]
                stats = calc_validation_statistics(evrs)._asdict()
                key = ids.ValidationResultIdentifier(ids.ExpectationSuiteIdentifier(name), run_id, name)
                ctx.validation_results_store.set(key, ExpectationSuiteValidationResult(
                    success=stats.pop("success"), results=evrs, suite_name=name, statistics=stats,
                    meta={"run_id": run_id, "great_expectations_version": gx.__version__}))
                pages[name] = "/".join(("validations", *key.to_tuple())) + ".html"
            ctx.build_data_docs(site_names=["riskwatch"])
        finally:
            project_manager.set_project(previous)

    # GX only logs page-rendering errors, so make sure every suite really got its page.
    index = out / "index.html"
    html = index.read_text(encoding="utf-8") if index.exists() else ""
    missing = [s for s, page in pages.items() if page not in html or not (out / page).is_file()]
    if not html or missing:
        raise RuntimeError(f"data docs in {out} lack suites {missing or list(results_by_suite)}")
    make_offline(out)
    return index
