"""`riskwatch validate`: run the validation suites, print what failed, exit 1 on a critical failure."""

from __future__ import annotations

import datetime as dt
import json

import click

from riskwatch.cli import Fail, as_date, as_of_option, open_writer
from riskwatch.settings import Settings
from warehouse.query import FORMATS, render


@click.command()
@as_of_option
@click.option("--failed-only", is_flag=True, help="List only the checks that failed.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="How to print the checks (the summary lines follow on stderr for csv/json/markdown).")
@click.pass_obj
def validate(settings: Settings, as_of: dt.datetime | None, failed_only: bool, fmt: str) -> None:
    """Validate indicator values, incidents and source freshness with Great Expectations.

    Stores the run (tables validation_runs, validation_results; view failed_checks, which the alert
    step reads: a failed critical check of an indicator suppresses that indicator's alerts) and
    writes Data Docs to <reports_dir>/validation/index.html. Exits 1 when a critical check fails.

    \b
    Examples:
      riskwatch validate
      riskwatch validate --as-of 2025-12-31 --failed-only
      riskwatch validate --failed-only --format csv > failed.csv
      riskwatch sql "SELECT suite, check_name, severity, message FROM failed_checks"
    """
    from validation.suites import observed, run_validation  # imports indicators and GX: only when validating

    con = open_writer(settings)
    try:
        summary = run_validation(con, as_of_date := as_date(as_of), settings)
    except ValueError as exc:  # a bad [freshness] or checks: setting
        raise Fail(str(exc)) from exc
    finally:
        con.close()
    shown = [r for r in summary.results if not (failed_only and r.success)]
    if shown:
        rows = [(r.suite, r.check_name, r.severity, "pass" if r.success else (
                 "ERROR" if r.expectation == "validation_error" else "FAIL"),
                 _text(observed(r)), r.details.get("message") or "") for r in shown]
        click.echo(render(["suite", "check", "severity", "result", "observed", "message"], rows, fmt,
                          max_width=70))
    suites = len({r.suite for r in summary.results})
    plain = fmt == "table"               # machine-readable output stays parseable: the summary goes to stderr
    click.echo(f"validation run {summary.run_id} as of {as_of_date}: {len(summary.results)} checks in {suites} "
               f"suites, {summary.critical_failures} critical failure(s), {summary.warnings} warning(s)", err=not plain)
    click.echo(f"Data Docs: {summary.docs_path}", err=not plain)
    if summary.critical_failures:
        gated = sorted({r.details["indicator"] for r in summary.results
                        if not r.success and r.severity == "critical" and r.details.get("indicator")})
        raise Fail(f"{summary.critical_failures} critical check(s) failed"
                   + (f"; alerts suppressed for {', '.join(gated)}" if gated else ""))


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)
