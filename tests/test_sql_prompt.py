"""`riskwatch sql`: the interactive prompt driven through tmux (a real terminal), piped scripts, formats."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from flows.demo import EXAMPLE_QUERIES
from indicators.tags import refresh_tags
from riskwatch.cli import cli  # noqa: F401  (first: cli.py registers cli_pipeline's commands)
from riskwatch.cli_pipeline import example_commands
from riskwatch.settings import Settings
from tests.conftest import SAMPLE
from validation.ingest import ingest_file
from warehouse import db
from warehouse.query import fit_widths, render

RISKWATCH = str(Path(sys.executable).with_name("riskwatch"))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sql") / "riskwatch.duckdb"
    con = db.connect(path)
    assert ingest_file(con, SAMPLE / "curated_pakistan_acled.csv", "curated").inserted
    refresh_tags(con)
    con.close()
    return path


def _run(warehouse: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([RISKWATCH, "--warehouse", str(warehouse), "sql", *args], input=stdin or "",
                          capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})


class Tmux:
    """One tmux server of our own (its own socket), one window running the command."""

    def __init__(self, command: list[str], env: dict[str, str], width: int = 100):
        self.socket = f"rw-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run(["tmux", "-L", self.socket, "new-session", "-d", "-x", str(width), "-y", "50",
                        f"env {exports} " + " ".join(command)], check=True)

    def keys(self, *keys: str) -> None:
        """Key names (Enter, Up, C-c) as keys; anything else typed literally (a ';' is no tmux separator then)."""
        for k in keys:
            named = k in ("Enter", "Up", "Down", "C-c", "C-d")
            # tmux ends a command at an argument's trailing ';' unless it is escaped.
            text = k if named else (k[:-1] + "\\;" if k.endswith(";") else k)
            subprocess.run(["tmux", "-L", self.socket, "send-keys", *([] if named else ["-l"]), text], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p", "-J", "-S", "-200"],
                              capture_output=True, text=True, check=False).stdout

    def wait(self, predicate, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out; screen:\n{self.screen()}")

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session"], capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_prompt_history_tables_and_ctrl_c_in_tmux(warehouse, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    term = Tmux([RISKWATCH, "--warehouse", str(warehouse), "sql"],
                {"HOME": str(home), "NO_COLOR": "1", "TERM": "xterm-256color", "PATH": os.environ["PATH"]}, width=72)
    try:
        term.wait(lambda s: "sql>" in s)
        term.keys("SELECT 40 + 2 AS answer,", "Enter")          # no ';': the statement goes on
        term.wait(lambda s: "...>" in s)
        term.keys(" 'x' AS y;", "Enter")
        term.wait(lambda s: "| 42     | x |" in s)
        term.keys(".tables", "Enter")
        screen = term.wait(lambda s: "Internal tables" in s)
        assert screen.index("Public views") < screen.index("incidents") < screen.index("Internal tables")
        assert screen.index("Internal tables") < screen.index("incident_current")
        # History recall: Up twice brings back the two-line statement; Enter runs it again.
        term.keys("Up")
        term.wait(lambda s: s.rstrip().endswith("sql> .tables"))
        term.keys("Up")
        term.wait(lambda s: s.count("SELECT 40 + 2 AS answer,") == 2)
        term.keys("Enter")
        term.wait(lambda s: s.count("| 42     | x |") == 2)
        # Ctrl-C while a statement runs cancels it, not the session; Ctrl-C while typing drops the text.
        term.keys("SELECT count(*) FROM range(20000000000) a;", "Enter")
        time.sleep(1.5)
        term.keys("C-c")
        term.wait(lambda s: "cancelled" in s)
        term.keys("SELECT 'never run", "C-c")
        term.keys("SELECT 7 * 6 AS again;", "Enter")
        screen = term.wait(lambda s: "| 42    |" in s)
        assert "never run" not in screen.split("cancelled")[-1].replace("SELECT 'never run", "")
        # A wide result fits the 72-column terminal.
        term.keys("SELECT notes, actor1, actor2, location FROM incidents LIMIT 2;", "Enter")
        screen = term.wait(lambda s: "(2 rows)" in s)
        table = [line for line in screen.splitlines() if line.startswith(("+-", "| "))]
        assert table and all(len(line) <= 72 for line in table), [x for x in table if len(x) > 72]
        term.keys("C-d")
        deadline = time.monotonic() + 20
        while term.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not term.alive()                                  # Ctrl-D ended the session
    finally:
        term.close()
    history = (home / ".riskwatch_history").read_text()       # prompt_toolkit's FileHistory: '+' per line
    assert "+SELECT 40 + 2 AS answer,\n+ 'x' AS y;" in history and "+.tables" in history


def test_piped_script_reports_the_failing_statement_and_exits_1(warehouse):
    ok = _run(warehouse, stdin="SELECT 1 AS a;\n.tables\nSELECT count(*) AS n FROM incidents;\n")
    assert ok.returncode == 0, ok.stderr
    assert "| 97 |" in ok.stdout and "Public views" in ok.stdout
    bad = _run(warehouse, stdin="SELECT 1 AS first;\nSELECT nope\n  FROM missing_table;\nSELECT 3 AS after;\n")
    assert bad.returncode == 1
    assert "first" in bad.stdout and "| 3     |" in bad.stdout          # the statements around it still ran
    assert bad.stderr.startswith("error: line 2: ") and "missing_table" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_every_format_and_counts_as_integers(warehouse):
    query = "SELECT source, count(*) AS n, sum(1.0) AS total FROM incidents GROUP BY ALL"
    table = _run(warehouse, query).stdout
    assert "| curated | 97 | 97    |" in table                # sum of DOUBLE ones prints as 97, not 97.0
    assert json.loads(_run(warehouse, "--format", "json", query).stdout) == [
        {"source": "curated", "n": 97, "total": 97.0}]
    assert _run(warehouse, "--format", "csv", query).stdout.splitlines() == ["source,n,total", "curated,97,97.0"]
    assert _run(warehouse, "--format", "markdown", query).stdout.splitlines() == [
        "| source | n | total |", "|---|---|---|", "| curated | 97 | 97 |"]


def test_table_fits_width_by_narrowing_the_widest_columns():
    assert fit_widths([10, 80, 5], 60) == [10, 35, 5]
    assert sum(fit_widths([10, 80, 5], 60)) + 3 * 3 + 1 == 60
    assert fit_widths([50, 50, 50, 50, 50, 50, 50, 50, 50, 50], 20) == [6] * 10       # never below 6
    out = render(["a", "b"], [("x" * 100, "y" * 100)], width=50)
    assert max(len(line) for line in out.splitlines()) == 50


def test_demo_hints_work_verbatim_in_a_shell(warehouse, tmp_path):
    """Pasted into bash from another directory, with no riskwatch on PATH: each hint runs and exits 0."""
    sys.argv[0], argv0 = RISKWATCH, sys.argv[0]
    try:
        lines = example_commands(Settings(warehouse=warehouse), EXAMPLE_QUERIES)
    finally:
        sys.argv[0] = argv0
    assert len(lines) == len(EXAMPLE_QUERIES) + 1 and all(str(warehouse) in line for line in lines)
    # The analyst's shell keeps their riskwatch settings (the backend, in lake mode), nothing else.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1",
           **{k: v for k, v in os.environ.items() if k in ("RISKWATCH_BACKEND", "RISKWATCH_CATALOG")}}
    outputs = []
    for line in lines[:-1]:
        done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, (line, done.stderr)
        outputs.append(done.stdout)
    chinese = [r for r in outputs[2].splitlines() if r.startswith("| 20")]
    assert chinese and len(chinese) == len(set(chinese))       # each event once, not once per source
    assert ".0 " not in outputs[0] + outputs[1]                  # counts as integers
