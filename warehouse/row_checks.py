"""Before and after the row rules (checks.yml, judged by validation.row_rules): late country names, and the
quarantine of the rows they failed.

Every function works on the staged table its caller names (`checked`, see load.StagedBatch).
"""

from __future__ import annotations

from warehouse import readfile
from warehouse.countries import resolve_new_names
from warehouse.sources.mapping import ident


def resolve_late_countries(con, checked: str) -> int:
    """Names the ISO table lacks (word-order variants, aliases) are resolved once, after the pass."""
    added = resolve_new_names(con, f"SELECT country FROM {checked} WHERE country_iso3 IS NULL")
    if added:
        # Before the row rules run: the country rule then finds these names in the known set.
        con.execute(
            f"UPDATE {checked} SET country_iso3 = cn.iso3 FROM country_names cn "
            f"WHERE {checked}.country = cn.name AND {checked}.country_iso3 IS NULL AND cn.iso3 IS NOT NULL")
    return added


def quarantine(con, checked: str, path, source, header, malformed, run, tag) -> tuple[str, int]:
    """Write the rejected rows of `checked` and DuckDB's `malformed` rows to rejected_rows (reason, file,
    source line, raw text). Returns the temp table of this file's rejects (line, reason, raw) and how many
    rows were malformed."""
    rejects, numbered_lines = f"_rejects_{tag}", f"_lines_{tag}"
    skipped: dict[int, tuple[str, str]] = {}
    if malformed:
        for line, csv_line, err in con.execute(
            f"SELECT line, csv_line, error_type || ': ' || error_message FROM {malformed}"
        ).fetchall():
            skipped[int(line)] = (csv_line.strip("\r\n"), err.splitlines()[0][:300])
    con.execute(f"CREATE TEMP TABLE {rejects} (line BIGINT, reason VARCHAR, raw VARCHAR)")
    bad = {r for (r,) in con.execute(f"SELECT _rec FROM {checked} WHERE _reason IS NOT NULL").fetchall()}
    if bad:
        # Raw text only for the rejected rows: a second scan numbers records the same way.
        lines = readfile.source_lines(path, bad, set(skipped))
        con.execute(f"CREATE TEMP TABLE {numbered_lines} (rec BIGINT, line BIGINT)")
        con.executemany(f"INSERT INTO {numbered_lines} VALUES (?, ?)", list(lines.items()))
        scan, _ = readfile.raw_scan(path, header, f"{tag}b", keep_rejects=False)
        raw_json = "to_json(struct_pack(" + ", ".join(f"{ident(c)} := r.{ident(c)}" for c in header) + "))"
        con.execute(
            f"INSERT INTO {rejects} SELECT coalesce(l.line, c._rec + 1), c._reason, CAST({raw_json} AS VARCHAR) "
            f"FROM {checked} c JOIN ({scan}) r USING (_rec) LEFT JOIN {numbered_lines} l ON l.rec = c._rec "
            f"WHERE c._reason IS NOT NULL"
        )
    if skipped:
        con.executemany(
            f"INSERT INTO {rejects} VALUES (?, ?, ?)",
            [(line, f"malformed CSV row: {err}", raw) for line, (raw, err) in skipped.items()],
        )
    # A corrected re-export can repeat an old bad row: keep one record of each rejection.
    con.execute(
        "INSERT INTO rejected_rows SELECT ?, ?, r.line, r.reason, r.raw, ?, CAST(current_timestamp AS TIMESTAMP) "
        f"FROM {rejects} r WHERE NOT EXISTS (SELECT 1 FROM rejected_rows x WHERE x.source = ? AND x.file = ? "
        "AND x.line = r.line AND x.reason = r.reason AND x.raw IS NOT DISTINCT FROM r.raw)",
        [source, str(path), run.run_id, source, str(path)],
    )
    return rejects, len(skipped)
