"""The `riskwatch sql` front-end: an interactive prompt (prompt_toolkit: line editing, history, Ctrl-C
cancels the statement, not the session) and, when stdin is not a terminal, a script runner that exits
non-zero when any statement failed.

Statements run through warehouse.query.run_query (which allows reads only); dot commands list the public
views first (.tables, .schema), since SHOW TABLES also lists the internal tables behind them.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import click
import duckdb

from warehouse.query import render, run_query

HELP = """.tables            public views (the stable contract), then internal tables
.schema [NAME]     columns of NAME, or of every public view
.format FORMAT     table | csv | json | markdown
.help              this list
.quit              leave (or Ctrl-D)
Statements end with ';'. Up/Down recall history; Ctrl-C cancels the statement being typed or run."""


def history_path(environ: dict[str, str] | None = None) -> Path:
    """$XDG_STATE_HOME/riskwatch/sql_history when XDG_STATE_HOME is set, else ~/.riskwatch_history."""
    env = os.environ if environ is None else environ
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]) / "riskwatch" / "sql_history"
    return Path(env.get("HOME") or Path.home()) / ".riskwatch_history"


def relations(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[str]]:
    """(public views, internal tables) of the warehouse's main schema, by name."""
    views = [r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary AND schema_name = 'main' "
        "ORDER BY 1").fetchall()]
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND schema_name = 'main' ORDER BY 1").fetchall()]
    return views, tables


def dot_command(con: duckdb.DuckDBPyConnection, line: str, state: dict) -> str:
    """The output of a dot command (ValueError for an unknown one)."""
    word, _, arg = line.strip().partition(" ")
    arg = arg.strip().rstrip(";")
    if word == ".tables":
        views, tables = relations(con)
        width = min(shutil.get_terminal_size((100, 24)).columns, 100)
        wrap = lambda names: textwrap.fill("  ".join(names), width, initial_indent="  ", subsequent_indent="  ")  # noqa: E731
        return ("Public views (query these; README 'Public warehouse contract'):\n" + wrap(views)
                + "\nInternal tables (behind the views; may change between versions):\n" + wrap(tables))
    if word == ".schema":
        names = [arg] if arg else relations(con)[0]
        out = []
        for name in names:
            cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                               "AND schema_name = 'main' ORDER BY column_index", [name]).fetchall()
            if not cols:
                raise ValueError(f"no view or table named {name!r}: .tables lists them")
            out.append(f"{name}(" + ", ".join(f"{c} {t}" for c, t in cols) + ")")
        return "\n".join(out)
    if word == ".format":
        if arg not in ("table", "csv", "json", "markdown"):
            raise ValueError("use .format table|csv|json|markdown")
        state["fmt"] = arg
        return f"format: {arg}"
    if word == ".help":
        return HELP
    raise ValueError(f"unknown command {word}: .help lists them")


def run_cancellable(con: duckdb.DuckDBPyConnection, query: str) -> tuple[list[str], list]:
    """run_query in a worker thread, so Ctrl-C (KeyboardInterrupt in this thread) interrupts DuckDB and the
    prompt stays; the interrupted query raises duckdb.InterruptException."""
    result: dict = {}

    def work() -> None:
        try:
            result["value"] = run_query(con, query)
        except BaseException as exc:            # handed to the prompt's thread
            result["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        con.interrupt()
        worker.join()
        raise
    if "error" in result:
        raise result["error"]
    return result["value"]


def _show(columns: list[str], rows: list, fmt: str, width: int) -> None:
    if columns:
        click.echo(render(columns, rows, fmt, width=width))


def interactive(con: duckdb.DuckDBPyConnection, fmt: str, banner: str,
                error_text: Callable[[Exception], str]) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings

    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = KeyBindings()

    @keys.add("enter")
    def _(event) -> None:
        text = event.current_buffer.text.strip()
        if not text or text.endswith(";") or text.startswith(".") or text in ("\\q", "exit", "quit"):
            event.current_buffer.validate_and_handle()
        else:
            event.current_buffer.insert_text("\n")

    session = PromptSession(history=FileHistory(str(path)), multiline=True, key_bindings=keys,
                            prompt_continuation=lambda width, line, soft: "...> ".rjust(width))
    state = {"fmt": fmt}
    click.echo(banner)
    while True:
        try:
            text = session.prompt("sql> ").strip()
        except KeyboardInterrupt:
            continue                                     # Ctrl-C while typing: drop the statement
        except EOFError:
            break
        if text in (".quit", ".exit", "\\q", "exit", "quit"):
            break
        if not text:
            continue
        try:
            if text.startswith("."):
                click.echo(dot_command(con, text, state))
            else:
                _show(*run_cancellable(con, text), state["fmt"], session.output.get_size().columns)
        except KeyboardInterrupt:
            click.echo("cancelled", err=True)
        except (duckdb.Error, ValueError) as exc:
            click.echo(f"error: {error_text(exc)}", err=True)


def script(con: duckdb.DuckDBPyConnection, lines: str | Iterable[str], fmt: str,
           error_text: Callable[[Exception], str]) -> int:
    """Run a piped script statement by statement (dot commands on their own lines), each as soon as its
    last line arrives, so a program driving the prompt through a pipe sees each answer before it sends the
    next. A failing statement is reported with its line and the script goes on (every statement is a read:
    none depends on another's effect); the exit code is 1 when any statement failed, else 0."""
    state = {"fmt": fmt}
    failed = 0
    for line_no, chunk in _chunks(lines.splitlines() if isinstance(lines, str) else lines):
        if chunk.strip() in (".quit", ".exit"):
            break
        try:
            if chunk.startswith("."):
                click.echo(dot_command(con, chunk, state))
            elif duckdb.extract_statements(chunk):       # a chunk of comments only is no statement
                columns, rows = run_query(con, chunk)
                if columns:
                    click.echo(render(columns, rows, state["fmt"], width=None if not sys.stdout.isatty() else
                                      shutil.get_terminal_size((120, 24)).columns))
        except (duckdb.Error, ValueError) as exc:
            click.echo(f"error: line {line_no}: {error_text(exc)}", err=True)
            failed += 1
        sys.stdout.flush()
    return 1 if failed else 0


def _chunks(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each statement (ending with `;`) or dot command, as each completes."""
    buffer: list[str] = []
    start = 1
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not buffer and line.strip().startswith("."):
            yield number, line.strip()
            continue
        if not buffer:
            start = number
        buffer.append(line)
        if line.rstrip().endswith(";"):
            yield start, "\n".join(buffer)
            buffer = []
    if "\n".join(buffer).strip():
        yield start, "\n".join(buffer)
