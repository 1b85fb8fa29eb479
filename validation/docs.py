"""Great Expectations Data Docs of riskwatch's validation results (one static HTML site)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

from validation.gx_engine import GX_LOCK, Check, CheckResult, build_suite, import_gx, new_context


def build_data_docs(results_by_suite: Mapping[str, Sequence[CheckResult]], out_dir: str | Path) -> Path:
    """Render GX Data Docs of run_suite results into ``out_dir``; return its index.html.

    A fresh in-memory context is loaded with suites and validation results rebuilt from the
    CheckResults, so the site lists exactly these suites and nothing lands outside ``out_dir``.
    """
    gx = import_gx()
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.data_context.context_factory import project_manager
    from great_expectations.data_context.types import resource_identifiers as ids
    from great_expectations.exceptions import DataContextRequiredError
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    out, pages = Path(out_dir).resolve(), {}
    with GX_LOCK:
        try:  # get_context() below repoints GX's process-wide "current" context; put it back after
            previous = project_manager.get_current_project()
        except DataContextRequiredError:
            previous = None
        ctx = new_context()
        try:
            ctx.add_data_docs_site("riskwatch", {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            })
            run_id = RunIdentifier(run_name="riskwatch", run_time=dt.datetime.now(dt.UTC))
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
    return index
