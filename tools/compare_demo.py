"""Compare the outputs of two `riskwatch demo` runs: report, emails and the public warehouse views.

    python tools/compare_demo.py BEFORE_DIR AFTER_DIR

Each directory is a checkout (or any folder) in which `riskwatch demo` ran. What is compared, with
what necessarily differs between two runs taken out:
- reports/weekly-*.html as text, with the checkout's path and the run's clock (HH:MM stamps of the day
  the demo ran: ingest and alert times) masked, trailing whitespace ignored;
- every reports/outbox/*.eml: each MIME part's decoded content (a PDF only for being one: Chromium
  stamps the print time), headers but Date, Message-ID and the multipart boundaries;
- indicator_values, incident_tags, incidents, alerts, rejected_incidents and failed_checks of
  warehouse/riskwatch.duckdb, without their clock columns.
Exit status 0 when everything is equal, 1 with the differences listed otherwise.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import sys
from pathlib import Path

import duckdb

CLOCK = {"computed_at", "ingested_at", "first_ingested_at", "tagged_at", "first_seen_at", "last_seen_at",
         "notified_at", "rejected_at", "run_at", "source_file"}
VIEWS = ["indicator_values", "incident_tags", "incidents", "alerts", "rejected_incidents", "failed_checks"]
VOLATILE_HEADERS = {"date", "message-id", "content-type"}


def masked(data: bytes | None, checkout: Path) -> bytes | None:
    """The run's clock and checkout path taken out of a text output (they differ between any two runs)."""
    if data is None:
        return None
    text = data.decode("utf-8", errors="replace").replace(str(checkout.resolve()), "<checkout>")
    text = re.sub(rf"{dt.date.today().isoformat()} \d\d:\d\d", "<run time>", text)
    return text.rstrip().encode()


def eml_parts(path: Path, checkout: Path) -> list[tuple]:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    headers = sorted((k.lower(), str(v)) for k, v in msg.items() if k.lower() not in VOLATILE_HEADERS)
    parts = [("headers", tuple(headers))]
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if part.get_content_maintype() == "text":
            payload = masked(payload, checkout)
        elif part.get_content_type() == "application/pdf":   # Chromium stamps each PDF with its print time
            payload = b"<pdf>" if payload and payload.startswith(b"%PDF-") else payload
        parts.append((part.get_content_type(), part.get_filename(), payload))
    return parts


def view_rows(db: Path, view: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cols = [r[0] for r in con.execute(f"DESCRIBE {view}").fetchall() if r[0] not in CLOCK]
        return con.execute(f"SELECT {', '.join(cols)} FROM {view} ORDER BY ALL").fetchall()
    finally:
        con.close()


def differences(before: Path, after: Path) -> list[str]:
    found = []
    reports = sorted(p.name for p in (before / "reports").glob("weekly-*.html"))
    if reports != sorted(p.name for p in (after / "reports").glob("weekly-*.html")):
        found.append("different report files")
    if not reports:
        found.append(f"no report in {before / 'reports'}")
    for name in reports:
        if not (after / "reports" / name).is_file():
            continue
        if masked((before / "reports" / name).read_bytes(), before) != masked((after / "reports" / name).read_bytes(),
                                                                             after):
            found.append(f"reports/{name} differs")
    mails = sorted(p.name for p in (before / "reports" / "outbox").glob("*.eml"))
    if mails != sorted(p.name for p in (after / "reports" / "outbox").glob("*.eml")):
        found.append(f"different outbox files: {mails}")
    for name in mails:
        if not (after / "reports" / "outbox" / name).is_file():
            continue
        a = eml_parts(before / "reports" / "outbox" / name, before)
        b = eml_parts(after / "reports" / "outbox" / name, after)
        if a != b:
            found.append(f"outbox/{name} differs in " + ", ".join(
                str(x[0]) for x, y in zip(a, b, strict=False) if x != y) + ("" if len(a) == len(b) else " (parts)"))
    for view in VIEWS:
        a = view_rows(before / "warehouse" / "riskwatch.duckdb", view)
        b = view_rows(after / "warehouse" / "riskwatch.duckdb", view)
        if a != b:
            found.append(f"view {view}: {len(a)} vs {len(b)} rows, {len(set(a) ^ set(b))} differ")
    return found


if __name__ == "__main__":
    diff = differences(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join(diff) if diff else "same report, emails and warehouse views")
    sys.exit(1 if diff else 0)
