"""The `riskwatch` command line: a thin layer over warehouse/, indicators/ and flows/."""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import os
import re
import shutil
import sys
from pathlib import Path

import click
import duckdb

from riskwatch.settings import DEFAULT_WAREHOUSE, Settings, SettingsError, load_settings
from warehouse import db
from warehouse.lake import LakeError
from warehouse.query import FORMATS, NotReadOnly, render, run_query
from warehouse.readfile import IngestRefused
from warehouse.redact import redact
from warehouse.sources.mapping import MappingError


class Fail(click.ClickException):
    """A one-line error, exit code 1, no traceback."""

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


class IsoDate(click.ParamType):
    """A calendar date written YYYY-MM-DD, as a datetime at midnight; errors say what is wrong with it."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, dt.date):
            return dt.datetime.combine(value, dt.time())
        text = str(value).strip()
        m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
        if not m:
            self.fail(f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. 2024-11-10", param, ctx)
        year, month, day = (int(g) for g in m.groups())
        if not 1 <= month <= 12:
            self.fail(f"{text}: month {month} out of range (1-12)", param, ctx)
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            self.fail(f"{text}: day {day} out of range for {calendar.month_name[month]} {year} (1-{last})", param, ctx)
        return dt.datetime(year, month, day)


ISO_DATE = IsoDate()


# Failures a user can cause and fix (bad files, paths, settings, SQL, a busy or foreign warehouse): every
# command reports them as one line (Commands.invoke), never as a traceback. RISKWATCH_DEBUG=1 shows it.
USER_ERRORS = (db.WarehouseBusy, db.WarehouseMissing, db.NotAWarehouse, IngestRefused, MappingError, SettingsError,
               NotReadOnly, OSError, duckdb.Error, LakeError)


def one_line(exc: BaseException) -> str:
    """The first line of an error, with the path an OS error is about."""
    if isinstance(exc, OSError) and exc.strerror:
        paths = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        return f"{paths}: {exc.strerror}" if paths else exc.strerror
    text = redact(str(exc)).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


class Commands(click.Group):
    """The riskwatch command group: the one place where known failures become one-line errors."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "riskwatch"
            failure = Fail(f"{exc.format_message()} (see {where} --help)")
            failure.exit_code = exc.exit_code
            raise failure from exc
        except USER_ERRORS as exc:
            if os.environ.get("RISKWATCH_DEBUG"):
                raise
            raise Fail(one_line(exc)) from exc


def as_of_option(f):
    return click.option(
        "--as-of", "as_of", type=ISO_DATE, default=None,
        help="Evaluate as of this date (YYYY-MM-DD); default today.",
    )(f)


def as_date(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.date.today()


def open_writer(settings: Settings, recover: bool = True) -> duckdb.DuckDBPyConnection:
    """The warehouse for writing, under the writer lock (waits up to [warehouse] busy_timeout_seconds).

    When the command ends, the connection is closed, the read snapshot published and the lock released.
    """
    from warehouse.lock import WriterBusy, writer_lock
    from warehouse.snapshot import publish_quietly

    hold = contextlib.ExitStack()
    try:
        lake = settings.lake
        hold.enter_context(writer_lock(settings.warehouse, timeout=settings.busy_timeout, lake=lake))
        con = db.connect(settings.warehouse, memory_limit=settings.memory_limit, recover=recover,
                         busy_timeout=settings.busy_timeout, lake=lake)
    except (WriterBusy, db.WarehouseBusy, db.WarehouseMissing, db.NotAWarehouse, LakeError, SettingsError) as exc:
        hold.close()
        raise Fail(str(exc)) from exc

    def release() -> None:
        with contextlib.suppress(duckdb.Error):   # a connection a fatal error invalidated
            con.close()
        publish_quietly(settings.warehouse, lake)
        hold.close()

    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(release)
    return con


def open_reader(settings: Settings, snapshot_version: int | None = None,
                snapshot_time: str | None = None) -> duckdb.DuckDBPyConnection:
    """Read-only, on the read snapshot (never the warehouse file a writer needs); on a lake, on its latest
    snapshot (or the one asked for: time travel), which writers never block.

    Says how old the data is whenever it lags the warehouse (a writer running), and always to a terminal.
    """
    from warehouse.snapshot import open_snapshot

    try:
        lake = settings.lake
    except SettingsError as exc:
        raise Fail(str(exc)) from exc
    if lake is not None:
        return _open_lake_reader(settings, lake, snapshot_version, snapshot_time)
    if snapshot_version is not None or snapshot_time:
        raise Fail("--at / --snapshot read the past of a lake: they need [warehouse] backend = 'ducklake' "
                   "(README \"Team mode\")")
    try:
        con, note, current = open_snapshot(settings.warehouse)
    except (db.WarehouseMissing, db.WarehouseBusy, db.NotAWarehouse, OSError) as exc:
        raise Fail(str(exc)) from exc
    if not current or sys.stderr.isatty():
        click.echo(f"note: {note}", err=True)
    return con


def _open_lake_reader(settings: Settings, lake, snapshot_version: int | None,
                      snapshot_time: str | None) -> duckdb.DuckDBPyConnection:
    try:
        con = db.connect(settings.warehouse, read_only=True, lake=lake, snapshot_version=snapshot_version,
                         snapshot_time=snapshot_time)
        snap = con.execute("SELECT snapshot_id, snapshot_time FROM ducklake_snapshots('lake') "
                           "ORDER BY snapshot_id DESC LIMIT 1").fetchone()
    except (db.WarehouseMissing, LakeError, duckdb.Error) as exc:
        raise Fail(str(exc).splitlines()[0]) from exc
    if sys.stderr.isatty() or snapshot_version is not None or snapshot_time:
        what = (f"snapshot {snapshot_version}" if snapshot_version is not None else
                f"as of {snapshot_time}" if snapshot_time else f"snapshot {snap[0]} of {snap[1]:%Y-%m-%d %H:%M:%S}")
        click.echo(f"note: lake {lake.metadata_schema}, {what}", err=True)
    return con


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="riskwatch", prog_name="riskwatch", message="%(prog)s %(version)s")
@click.option("--warehouse", envvar="RISKWATCH_WAREHOUSE", type=click.Path(dir_okay=False),
              default=DEFAULT_WAREHOUSE, show_default=True, help="DuckDB warehouse file.")
@click.option("--config", envvar="RISKWATCH_CONFIG", type=click.Path(dir_okay=False), default=None,
              help="Settings file (default ./riskwatch.toml when present; keys it lacks take riskwatch/defaults.toml).")
@click.pass_context
def cli(ctx: click.Context, warehouse: str, config: str | None) -> None:
    """riskwatch: incident records -> DuckDB -> indicators -> validated alerts and weekly reports.

    \b
    Examples:
      riskwatch demo
      riskwatch ingest exports/acled_pakistan.csv --source acled
      riskwatch sql "SELECT source, count(*) FROM incidents GROUP BY source"
    """
    try:
        ctx.obj = load_settings(warehouse=warehouse, config_path=config)
    except SettingsError as exc:
        raise Fail(str(exc)) from exc


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--source", required=True, help="acled, ucdp, gtd, native, or a mapping name / .yml file.")
@click.option("--country", default=None, help="Country for files without a country column (e.g. GTD subsets).")
@click.option("--force", is_flag=True, help="Re-read a file even if the same bytes were ingested before.")
@as_of_option
@click.pass_obj
def ingest(settings: Settings, files: tuple[str, ...], source: str, country: str | None, force: bool,
           as_of: dt.datetime | None) -> None:
    """Load incident files into the warehouse (one transaction per file).

    \b
    Examples:
      riskwatch ingest ged_pakistan.csv --source ucdp
      riskwatch ingest acled_2024.csv acled_deletions.csv --source acled
      riskwatch ingest gtd_pakistan_2007_2018.csv --source gtd --country Pakistan
      riskwatch ingest bij_pakistan_drone_strikes.csv --source bij_drone_strikes
    """
    from validation.ingest import ingest_files

    con = open_writer(settings)
    if sys.stderr.isatty():
        con.execute("SET enable_progress_bar = true")
    for name in files:
        path = Path(name)
        if path.is_file() and path.stat().st_size > 50_000_000:
            click.echo(f"{path}: {path.stat().st_size / 1e6:.0f} MB, loading...", err=True)
    try:
        results = ingest_files(con, [(name, source) for name in files], settings, country=country,
                               as_of=as_date(as_of), force=force, on_result=_print_ingest)
    finally:
        con.close()
    if any(r["status"] == "refused" for r in results):
        raise SystemExit(1)


def _print_ingest(r: dict) -> None:
    if r["status"] == "refused":
        click.echo(f"error: {r['message']}", err=True)
        return
    label = "deletions" if r["kind"] == "deletions" else r["status"]
    click.echo(f"{r['file']}: {label}: {r['message']}")
    if r["rejected"]:
        click.echo(f"  {r['rejected']} rejected row(s): riskwatch sql \"SELECT line, reason FROM "
                   f"rejected_incidents WHERE ingest_run_id = {r['run_id']}\"")


@cli.command()
@click.argument("query", required=False)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--at", "at", default=None, metavar="TIMESTAMP",
              help="Lake only: read the warehouse as it was at this time ('2026-12-01 06:00', UTC).")
@click.option("--snapshot", "snapshot", type=click.IntRange(min=0), default=None,
              help="Lake only: read the warehouse as of this lake snapshot id (ducklake_snapshots lists them).")
@click.pass_obj
def sql(settings: Settings, query: str | None, fmt: str, at: str | None, snapshot: int | None) -> None:
    """Run read-only SQL over the warehouse; without QUERY, an interactive prompt (end statements with ;).

    The prompt has line editing and history (Up/Down; ~/.riskwatch_history, or $XDG_STATE_HOME/riskwatch/
    sql_history), .tables and .schema (public views first), and Ctrl-C cancels the statement, not the session.
    SQL piped on stdin runs statement by statement and exits 1 when any statement failed.

    \b
    Examples:
      riskwatch sql "SELECT source, count(*) FROM incidents GROUP BY ALL"
      riskwatch sql --format csv "SELECT * FROM indicator_values WHERE indicator = 'cross_border_strikes'"
      riskwatch sql "SELECT line, reason FROM rejected_incidents" --format markdown
      riskwatch sql < checks.sql
      riskwatch sql --at '2026-12-01 06:00' "SELECT count(*) FROM incidents"     # a lake's past
    """
    from riskwatch import sql_prompt

    if at is not None and snapshot is not None:
        raise Fail("give --at or --snapshot, not both")
    if at is not None:
        try:
            at = dt.datetime.fromisoformat(at.strip()).isoformat(sep=" ")
        except ValueError as exc:
            raise Fail(f"--at {at!r} is not a timestamp: use YYYY-MM-DD or 'YYYY-MM-DD HH:MM[:SS]'") from exc
    con = open_reader(settings, snapshot_version=snapshot, snapshot_time=at)
    if query:
        _print_query(con, query, fmt, fail=True)
        return
    if not sys.stdin.isatty():
        code = sql_prompt.script(con, sys.stdin, fmt, _sql_error)
        if code:
            raise SystemExit(code)
        return
    sql_prompt.interactive(con, fmt, f"riskwatch sql on {settings.warehouse} (read-only). End statements with ';'; "
                                     ".tables lists the public views, .help the commands, .quit or Ctrl-D leaves.",
                           _sql_error)


def _sql_error(exc: Exception) -> str:
    """One line for a failed statement (the command, the prompt and piped scripts say the same)."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, duckdb.Error) and "read-only" in message.lower():
        return "the warehouse is opened read-only here: `riskwatch sql` cannot change it"
    if "disabled by configuration" in message or "configuration has been locked" in message:
        return f"`riskwatch sql` reads the warehouse only, no files or network ({message})"
    return message


def _print_query(con: duckdb.DuckDBPyConnection, query: str, fmt: str, fail: bool) -> None:
    try:
        columns, rows = run_query(con, query)
    except (duckdb.Error, NotReadOnly) as exc:
        message = _sql_error(exc)
        if fail:
            raise Fail(message) from exc
        click.echo(f"error: {message}", err=True)
        return
    if columns:
        click.echo(render(columns, rows, fmt, width=shutil.get_terminal_size((120, 24)).columns
                          if sys.stdout.isatty() and fmt == "table" else None))


@cli.command()
@as_of_option
@click.option("--full", is_flag=True, help="Recompute every period instead of only those touched since the last run.")
@click.pass_obj
def indicators(settings: Settings, as_of: dt.datetime | None, full: bool) -> None:
    """Tag incidents, link cross-source duplicates and compute indicator values (incremental by default).

    \b
    Examples:
      riskwatch indicators
      riskwatch indicators --as-of 2024-11-10
      riskwatch sql "SELECT * FROM indicator_values WHERE indicator = 'chinese_nationals_attacks' AND value > 0"
    """
    from indicators.refresh import refresh

    con = open_writer(settings)
    result = refresh(con, as_date(as_of), watched=settings.watched_countries, full=full)
    click.echo(result.summary())
    con.close()


@cli.command()
@click.option("--from", "since", type=ISO_DATE, required=True, help="First day to recompute.")
@as_of_option
@click.pass_obj
def backfill(settings: Settings, since: dt.datetime, as_of: dt.datetime | None) -> None:
    """Recompute every indicator period since --from and record past breaches as resolved alerts (never emails).

    No alert is recorded for a period that starts before --from (earlier values still feed the baselines).

    \b
    Examples:
      riskwatch backfill --from 2018-01-01
      riskwatch backfill --from 2024-01-01 --as-of 2024-11-10
    """
    from alerts.lifecycle import evaluate_alerts
    from indicators.refresh import refresh

    con = open_writer(settings)
    result = refresh(con, as_date(as_of), watched=settings.watched_countries, since=since.date())
    click.echo(result.summary())
    run = evaluate_alerts(con, as_date(as_of), settings, backfill=True, since=since.date())
    click.echo(f"alert history recorded from {since.date()} (no emails sent): {run.past_breaches} past alert(s), "
               f"{run.firing} firing now")
    con.close()


def _register_subcommands() -> None:
    from riskwatch.cli_alerts import alerts
    from riskwatch.cli_backtest import backtest
    from riskwatch.cli_doctor import doctor
    from riskwatch.cli_links import links
    from riskwatch.cli_pipeline import demo, deploy, run, serve
    from riskwatch.cli_report import report
    from riskwatch.cli_validate import validate
    from riskwatch.cli_warehouse import warehouse_group

    for command in (alerts, backtest, links, report, validate, run, demo, serve, deploy, doctor, warehouse_group):
        cli.add_command(command)
    for command in _all_commands(cli):
        command.params.append(click.Option(
            ["--warehouse", "warehouse_override"], type=click.Path(dir_okay=False), expose_value=False,
            is_eager=True, callback=_override_warehouse,
            help="DuckDB warehouse file (same as the global --warehouse; env RISKWATCH_WAREHOUSE)."))
        command.params.append(click.Option(
            ["--config", "config_override"], type=click.Path(dir_okay=False), expose_value=False,
            is_eager=True, callback=_override_config, help="Settings file (same as the global --config)."))


def _all_commands(group: click.Group):
    for command in group.commands.values():
        yield command
        if isinstance(command, click.Group):
            yield from _all_commands(command)


def _override_warehouse(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # `riskwatch ingest --warehouse X ...` works as well as `riskwatch --warehouse X ingest ...`.
    if value:
        ctx.find_object(Settings).warehouse = Path(value)


def _override_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # `riskwatch ingest --config F ...` works as well as `riskwatch --config F ingest ...`; the warehouse
    # chosen by --warehouse / RISKWATCH_WAREHOUSE stays (it is not a config-file setting).
    if value:
        settings = ctx.find_object(Settings)
        try:
            loaded = load_settings(warehouse=settings.warehouse, config_path=value, environ=settings.environ)
        except SettingsError as exc:
            raise Fail(str(exc)) from exc
        settings.config, settings.config_path = loaded.config, loaded.config_path


_register_subcommands()


def main() -> None:
    # Offline by design: no usage telemetry from Prefect's ephemeral server or from GX.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if os.environ.get("NO_COLOR"):          # no-color.org: Prefect's console log handler colours by default
        os.environ.setdefault("PREFECT_LOGGING_COLORS", "false")
    # Prefect's temporary API server gets 20 s to start; on a busy 2-core machine that is not always enough.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    try:
        cli(prog_name="riskwatch", standalone_mode=True)
    except (OSError, duckdb.Error) as exc:
        # Raised outside a command's invoke (e.g. while its context closes): the same line Commands gives.
        if os.environ.get("RISKWATCH_DEBUG"):
            raise
        click.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(1)
    except Exception as exc:                # no traceback for the analyst; RISKWATCH_DEBUG=1 shows it
        if os.environ.get("RISKWATCH_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        click.echo(f"error: {type(exc).__name__}: {first} (RISKWATCH_DEBUG=1 shows the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
