"""Row-level checks (checks.yml) and the quarantine of the rows that fail them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from warehouse import readfile
from warehouse.sources.mapping import ident, literal

CHECKS = Path(__file__).with_name("checks.yml")

def row_checks() -> list[dict[str, str]]:
    return yaml.safe_load(CHECKS.read_text(encoding="utf-8"))["row_checks"]

def reason_sql(as_of: dt.date) -> str:
    whens = []
    for check in row_checks():
        fails = check["fails"].replace("{as_of}", as_of.isoformat())
        message = check["message"].replace("{as_of}", as_of.isoformat())
        label = literal(f"{check['expectation']}({check['column']}): ")
        whens.append(f"WHEN coalesce({fails}, false) THEN {label} || coalesce({message}, '?')")
    return "CASE " + " ".join(whens) + " END"

def quarantine(con, path, source, cols, malformed, run) -> int:
    """Write rejected rows with reason, file, source line and raw text; return the malformed count."""
    skipped: dict[int, tuple[str, str]] = {}
    if malformed:
        for line, csv_line, err in con.execute(
            f"SELECT line, csv_line, error_type || ': ' || error_message FROM {malformed}"
        ).fetchall():
            skipped[int(line)] = (csv_line.strip("\r\n"), err.splitlines()[0][:300])
    bad = con.execute("SELECT _rec FROM _checked WHERE _reason IS NOT NULL").fetchall()
    lines = readfile.source_lines(path, {r for (r,) in bad}, set(skipped))
    con.execute("CREATE TEMP TABLE _lines (rec BIGINT, line BIGINT)")
    if lines:
        con.executemany("INSERT INTO _lines VALUES (?, ?)", list(lines.items()))
    raw_json = "to_json(struct_pack(" + ", ".join(f"{ident(c)} := r.{ident(c)}" for c in cols) + "))"
    con.execute(
        f"CREATE TEMP TABLE _rejects AS SELECT coalesce(l.line, c._rec + 1) AS line, c._reason AS reason, "
        f"CAST({raw_json} AS VARCHAR) AS raw FROM _checked c JOIN _raw r USING (_rec) "
        f"LEFT JOIN _lines l ON l.rec = c._rec WHERE c._reason IS NOT NULL"
    )
    if skipped:
        con.executemany(
            "INSERT INTO _rejects VALUES (?, ?, ?)",
            [(line, f"malformed CSV row: {err}", raw) for line, (raw, err) in skipped.items()],
        )
    # A corrected re-export can repeat an old bad row: keep one record of each rejection.
    con.execute(
        "INSERT INTO rejected_rows SELECT ?, ?, r.line, r.reason, r.raw, ?, CAST(current_timestamp AS TIMESTAMP) "
        "FROM _rejects r WHERE NOT EXISTS (SELECT 1 FROM rejected_rows x WHERE x.source = ? AND x.file = ? "
        "AND x.line = r.line AND x.reason = r.reason AND x.raw IS NOT DISTINCT FROM r.raw)",
        [source, str(path), run.run_id, source, str(path)],
    )
    return len(skipped)
