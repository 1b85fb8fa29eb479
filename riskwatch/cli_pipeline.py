"""`riskwatch run / demo / serve / deploy`: the commands that drive the Prefect flows."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shlex
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from riskwatch.cli import ISO_DATE, Fail, as_date, as_of_option
from riskwatch.settings import DEFAULT_WAREHOUSE, Settings


@click.command()
@as_of_option
@click.option("--no-report", is_flag=True, help="Skip the weekly report step.")
@click.pass_obj
def run(settings: Settings, as_of: dt.datetime | None, no_report: bool) -> None:
    """Run the whole pipeline (ingest inbox -> refresh -> validate -> alerts -> report) as one Prefect flow.

    Uses Prefect's ephemeral API unless PREFECT_API_URL points at a server.

    \b
    Examples:
      riskwatch run
      riskwatch run --as-of 2024-11-10 --no-report
    """
    from flows.pipeline import pipeline

    stop_on_term()
    with run_outcome():
        state = pipeline(warehouse=str(settings.warehouse), as_of=as_date(as_of).isoformat(),
                         report=not no_report, config=settings.config_path, return_state=True)
        summary = state.result()
    _print_run(summary)
    click.echo(flow_run_line(state.state_details.flow_run_id))
    refused = [r for r in summary["ingested"] if r.get("status") == "refused"]
    if refused:
        raise Fail(f"{len(refused)} input file(s) refused (see above; nothing of them was loaded)")


def flow_run_line(flow_run_id) -> str:
    """Where to see this run: its page on the Prefect server when one is configured (PREFECT_API_URL)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    if PREFECT_API_URL.value() and PREFECT_UI_URL.value():
        return f"flow run: {PREFECT_UI_URL.value().rstrip('/')}/runs/flow-run/{flow_run_id}"
    return (f"flow run: {flow_run_id} (Prefect's temporary server, gone now: to keep and browse run history, "
            f"see README 'Run history')")


@contextlib.contextmanager
def run_outcome() -> Iterator[None]:
    """Prefect's console shows each failure as one line (full tracebacks stay in the run's logs); when a
    step fails, print what the steps before it did, which failed and which were skipped, then exit 1."""
    from flows.pipeline import PipelineFailed

    for handler in logging.getLogger().handlers + logging.getLogger("prefect").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler.formatter, _NoTraceback):
            handler.setFormatter(_NoTraceback(handler.formatter or logging.Formatter()))
    try:
        yield
    except PipelineFailed as failed:
        _print_run(failed.summary)
        click.echo("steps: " + ", ".join(f"{n} {o.split(':')[0]}" for n, o in failed.summary["steps"].items()))
        raise Fail(f"the run failed: {failed}") from None


class _NoTraceback(logging.Formatter):
    def __init__(self, inner: logging.Formatter):
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return self.inner.format(record)


def stop_on_term() -> None:
    """SIGTERM ends a run like Ctrl-C: Prefect marks it crashed, locks are released and the temporary
    Prefect server is stopped (its atexit hook). By default SIGTERM kills Python without running atexit,
    which left the server listening."""
    def interrupt(signum: int, _frame) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def _print_run(summary: dict) -> None:
    ingested = summary["ingested"]
    for r in ingested:
        click.echo(f"ingest {r.get('file')}: {r.get('status')}: {r.get('message')}")
    if summary.get("refresh") is None:
        return
    ind = summary["refresh"]["indicators"]
    click.echo(f"indicators: {ind['indicators']['mode']}, {ind['indicators']['values_written']} value(s) written, "
               f"{ind['tags']['incidents_retagged']} incident(s) tagged, {ind['duplicates']} cross-source duplicate(s)")
    val = summary["refresh"]["validation"]
    click.echo(f"validation: {val['critical_failures']} critical, {val['warnings']} warning failure(s); "
               f"Data Docs {val['docs_path']}")
    al = summary["alerts"]
    if al is None:
        return
    click.echo(f"alerts: {al['firing']} firing, {al['new']} new, {al['escalated']} escalated, {al['resolved']} "
               f"resolved; {al['sent']} notification(s) delivered, {al['pending']} pending")
    for w in al.get("withheld", []):
        click.echo(f"  withheld {w['indicator']} {w['series']} {w['period']}: failed checks {', '.join(w['checks'])}")
    if summary.get("report"):
        click.echo(f"report: {summary['report']['path']} ({summary['report']['delivery']})")


@click.command()
@click.option("--as-of", "as_of", type=ISO_DATE, default=None,
              help="Date to run the demo as of, YYYY-MM-DD (default 2024-11-10).")
@click.pass_obj
def demo(settings: Settings, as_of: dt.datetime | None) -> None:
    """Build a warehouse from the bundled sample data and run the pipeline on it, end to end.

    \b
    Examples:
      riskwatch demo
      riskwatch --warehouse /tmp/demo.duckdb demo
    """
    from flows.demo import DEMO_AS_OF, EXAMPLE_QUERIES, run_demo

    stop_on_term()
    with run_outcome():
        summary = run_demo(str(settings.warehouse), as_of.date().isoformat() if as_of else DEMO_AS_OF,
                           settings.config_path)
    _print_run(summary)
    click.echo(f"\nwarehouse: {settings.warehouse}\noutbox:    {settings.outbox}/")
    click.echo("\nTry:")
    for line in example_commands(settings, EXAMPLE_QUERIES):
        click.echo(f"  {line}")


def example_commands(settings: Settings, queries: list[str]) -> list[str]:
    """Commands that work when pasted as printed: this riskwatch (by path when it is not the one on PATH),
    this warehouse (when not the default), each query quoted for the shell."""
    exe = Path(sys.argv[0]).resolve()
    on_path = shutil.which("riskwatch")
    if on_path and Path(on_path).resolve() == exe:
        command = "riskwatch"
    else:
        relative = os.path.relpath(exe)
        command = relative if not relative.startswith("..") and len(relative) < len(str(exe)) else str(exe)
    if Path(settings.warehouse) != Path(DEFAULT_WAREHOUSE):
        command += f" --warehouse {shlex.quote(str(settings.warehouse))}"
    quote = lambda q: f'"{q}"' if not set(q) & set('"$`\\!') else shlex.quote(q)  # noqa: E731
    return [f"{command} sql {quote(q)}" for q in queries] + [f"{command} sql        # the prompt: .tables, .help"]


@click.command()
@click.pass_obj
def serve(settings: Settings) -> None:
    """Run the schedules on this machine (daily ingest+refresh+alerts, weekly report Monday 07:00 local time).

    \b
    Examples:
      riskwatch serve
      RISKWATCH_TIMEZONE=Asia/Karachi riskwatch serve
    """
    from prefect import serve as prefect_serve

    from flows.schedules import inventory, runner_deployments

    for d in inventory(settings):
        click.echo(f"serving {d['name']} ({d['flow']}): cron '{d['cron']}' {d['timezone']}")
    prefect_serve(*runner_deployments(settings))


@click.command()
@click.option("--work-pool", required=True, help="Prefect work pool (e.g. a process pool) on the server.")
@click.pass_obj
def deploy(settings: Settings, work_pool: str) -> None:
    """Register the deployments and schedules on the Prefect server at PREFECT_API_URL, for a work pool.

    \b
    Examples:
      prefect work-pool create riskwatch --type process
      PREFECT_API_URL=http://127.0.0.1:4200/api riskwatch deploy --work-pool riskwatch
      prefect worker start --pool riskwatch
    """
    from flows.schedules import deploy_to_pool

    for name in deploy_to_pool(settings, work_pool):
        click.echo(f"deployed {name} -> work pool {work_pool}")
