"""Reading an input file into a temporary all-text table: header checks, hashing, source lines."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import duckdb

from warehouse.sources.mapping import ident

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


class IngestRefused(ValueError):
    """The whole file is refused (not a CSV, missing columns, too many bad rows); nothing was loaded."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def read_header(path: Path) -> list[str]:
    """Column names of a CSV (first record) or a JSON file (keys of the first object)."""
    if not path.is_file():
        raise IngestRefused(f"{path}: no such file")
    head = path.open("rb").read(1 << 16)
    if not head.strip():
        raise IngestRefused(f"{path}: the file is empty")
    # NUL in the header line or in more than 1% of the bytes means a binary file (zip, gzip, PNG, UTF-16);
    # a stray NUL in a field is one bad row, quarantined by the checks (checks.yml, _nul_columns).
    if b"\x00" in head.split(b"\n", 1)[0] or head.count(b"\x00") * 100 > len(head):
        raise IngestRefused(f"{path}: not a text file (binary content); expected a CSV")
    text = head.decode("utf-8-sig", errors="replace")
    if path.suffix.lower() in JSON_SUFFIXES:
        return _json_header(path)
    # The whole first record, however long (a header may pass the 64 KB sniffed above); csv's field size
    # limit (128 KB) refuses a runaway one.
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        try:
            first = next(csv.reader(fh, delimiter=delimiter_of(text)))
        except (csv.Error, StopIteration) as exc:
            raise IngestRefused(f"{path}: not a CSV file ({exc})") from exc
    header = [c.strip() for c in first]
    if len(header) < 2:
        raise IngestRefused(f"{path}: not a CSV file (header has {len(header)} column)")
    seen: dict[str, str] = {}
    repeated = [c for c in header if seen.setdefault(c.casefold(), c) is not c]
    if repeated:   # DuckDB's names are case-insensitive: Notes and notes are one column to it
        raise IngestRefused(f"{path}: column name(s) {', '.join(sorted(set(repeated)))[:200]} appear more than "
                            f"once in the header; rename them so every column is known")
    return header


def delimiter_of(text: str) -> str:
    """The delimiter of a CSV from its first line: the most frequent of , ; tab |."""
    first = text.splitlines()[0] if text else ""
    return max([",", "\t", ";", "|"], key=first.count)


def _json_header(path: Path) -> list[str]:
    # A private in-memory connection: DuckDB's module-level default connection is shared with any other code
    # in the process, and one failed statement there would fail this read too.
    try:
        with duckdb.connect() as con:
            return list(con.sql(f"SELECT * FROM read_json({_path_literal(path)}, sample_size=-1) LIMIT 0").columns)
    except duckdb.Error as exc:
        raise IngestRefused(f"{path}: not valid JSON records ({str(exc).splitlines()[0]})") from exc


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _path_literal(path: Path) -> str:
    return _sql_str(str(path))


def raw_scan(
    path: Path, header: list[str], tag: str, *, keep_rejects: bool = True, numbered: bool = True
) -> tuple[str, str | None]:
    """SQL of the file's records (_rec + every column as text) and the name of its malformed-rows table.

    numbered: _rec is the 1-based number among well-formed records, in file order. Numbering needs an
    ordered window, which halves DuckDB's CSV throughput, so clean files are read unnumbered (_rec NULL)
    and only files with rejected rows are read again numbered. Rows with the wrong number of fields land
    in DuckDB's rejects table instead of failing the file.
    """
    rec = "row_number() OVER ()" if numbered else "CAST(NULL AS BIGINT)"
    src = _path_literal(path)
    if path.suffix.lower() in JSON_SUFFIXES:
        casts = ", ".join(f"CAST({ident(c)} AS VARCHAR) AS {ident(c)}" for c in header)
        return f"SELECT {rec} AS _rec, {casts} FROM read_json({src}, sample_size=-1)", None
    with path.open("rb") as fh:
        delim = delimiter_of(fh.read(1 << 16).decode("utf-8", errors="replace"))
    # The header was read already; DuckDB's sniffer would trip over the very rows we want to quarantine.
    columns = ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in header)
    errors = f"_rej_{tag}"
    rejects = (f"store_rejects=true, rejects_table='{errors}', rejects_scan='_rejscan_{tag}'" if keep_rejects
               else "ignore_errors=true")
    sql = (f"SELECT {rec} AS _rec, * FROM read_csv({src}, header=true, auto_detect=false, "
           f"columns={{{columns}}}, delim='{delim}', quote='\"', escape='\"', {rejects}, strict_mode=true, "
           f"null_padding=false)")
    return sql, (errors if keep_rejects else None)


def source_lines(path: Path, records: set[int], skipped_lines: set[int]) -> dict[int, int]:
    """Map record numbers (as counted by raw_scan) to the line where each record starts.

    Only called for rejected rows, so files with quoted newlines still get exact line numbers
    without paying for it on every load.
    """
    if path.suffix.lower() in JSON_SUFFIXES or not records:
        return {r: r for r in records}
    found: dict[int, int] = {}
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        rec, start = 0, reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row or line in skipped_lines:
                continue
            rec += 1
            if rec in records:
                found[rec] = line
                if len(found) == len(records):
                    break
    return found
