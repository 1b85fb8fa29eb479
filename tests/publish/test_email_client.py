"""The alert email and the weekly report email as a mail client gets them: sent through a real SMTP
server (aiosmtpd), parsed with Python's email package (every cid: image is a part), rendered in
headless Chromium (skipped when it is not installed). Bundled sample, real definitions.

Set RISKWATCH_SCREENSHOT_DIR to keep the screenshots (the closing notes describe them)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from alerts.lifecycle import evaluate_alerts
from indicators.refresh import refresh
from reports.delivery import email_weekly_report
from reports.pdf import chromium_path
from reports.weekly import build_weekly_report
from riskwatch.settings import Settings
from tests.conftest import SAMPLE
from tests.email_checks import check_cids, render_in_chromium
from tests.smtp_server import running_smtp
from validation.ingest import ingest_file
from warehouse import db

AS_OF = dt.date(2024, 11, 10)
WATCHED = ["PAK", "AFG", "IRN", "IND"]


@pytest.fixture(scope="module")
def sent(tmp_path_factory):
    """(alert emails, report email, tmp): the sample's alerts as of 2024-11-10 and the 2024-W45 report."""
    if not (SAMPLE / "curated_pakistan_acled.csv").exists():
        pytest.skip("bundled sample missing")
    tmp = tmp_path_factory.mktemp("mailclient")
    con = db.connect(tmp / "w.duckdb")
    ingest_file(con, SAMPLE / "curated_pakistan_acled.csv", "curated")
    refresh(con, AS_OF, watched=WATCHED)
    with running_smtp() as server:
        settings = Settings(warehouse=tmp / "w.duckdb", config={
            "pipeline": {"reports_dir": str(tmp / "reports"), "watched_countries": WATCHED},
            "report": {"base_url": "https://intranet.example.org/riskwatch"}}, environ={
            "RISKWATCH_SMTP_HOST": "127.0.0.1", "RISKWATCH_SMTP_PORT": str(server.port),
            "RISKWATCH_ALERT_TO": "desk@example.org", "RISKWATCH_REPORT_TO": "desk@example.org",
            "RISKWATCH_MAIL_FROM": "RiskWatch <riskwatch@example.org>"})
        evaluate_alerts(con, AS_OF, settings, now=dt.datetime(2024, 11, 10, 8))
        alert_mails = list(server.messages)
        report = build_weekly_report(con, AS_OF, settings)
        assert email_weekly_report(con, report, settings) == "smtp:127.0.0.1"
        report_mail = server.messages[-1]
    ids = {r[0] for r in con.execute("SELECT alert_id FROM alerts WHERE status = 'firing'").fetchall()}
    con.close()
    return alert_mails, report_mail, ids, tmp


def _keep(png: Path, name: str) -> None:
    if folder := os.environ.get("RISKWATCH_SCREENSHOT_DIR"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(folder) / name)


def test_alert_email_has_inline_png_charts_real_ids_titles_runbook_and_links(sent):
    alert_mails, _, ids, _ = sent
    critical = next(m for m in alert_mails if m["Subject"] ==
                    "[riskwatch CRITICAL] Attacks on Chinese nationals (PAK): 2 in 2024-Q4")
    html, images = check_cids(critical)
    text = critical.get_body(("plain",)).get_content()
    [shown] = {i for i in ids if f"riskwatch alerts ack {i}" in text}     # the real id of this alert
    assert f"riskwatch alerts silence {shown}" in html and "ALERT_ID" not in text + html
    for body in (text, html):
        assert "Two or more attacks on Chinese nationals this quarter" in body
        assert "What to do:" in body and "China desk" in body
        assert "https://intranet.example.org/riskwatch/weekly-2024-W45.html" in body
    assert len(images) == 1 and len(next(iter(images.values()))) > 10_000      # a drawn chart, not a stub
    # Every message: each referenced image is a part (also the surge / strike ones).
    for msg in alert_mails:
        check_cids(msg)


def test_report_email_is_the_report_as_html_with_inline_charts_and_a_pdf(sent):
    _, msg, _, _ = sent
    html, images = check_cids(msg)
    assert "Attacks on Chinese nationals" in html and len(images) >= 3
    assert 'src="cid:map@riskwatch.report"' in html and "data:image" not in html     # the map, as a part
    names = [(p.get_filename(), p.get_content_type()) for p in msg.iter_attachments()]
    assert not any(ctype == "text/html" for _, ctype in names)           # no .html attachment any more
    if chromium_path():
        assert names == [("weekly-2024-W45.pdf", "application/pdf")]
        assert next(msg.iter_attachments()).get_payload(decode=True)[:5] == b"%PDF-"
    assert "Alerts firing:" in msg.get_body(("plain",)).get_content()


def test_both_emails_render_in_headless_chromium(sent):
    alert_mails, report_mail, _, tmp = sent
    critical = next(m for m in alert_mails if "CRITICAL" in m["Subject"])
    png = render_in_chromium(critical, tmp / "shots" / "alert-email.png", height=1800)
    _keep(png, "alert-email.png")
    png = render_in_chromium(report_mail, tmp / "shots-report" / "report-email.png", height=3600)
    _keep(png, "report-email.png")
