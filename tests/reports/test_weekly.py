"""Weekly report: real DuckDB with the bundled curated sample, real SMTP (aiosmtpd), real Chromium if present."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from reports import weekly
from reports.data import report_week
from reports.delivery import email_weekly_report
from reports.pdf import chromium, chromium_path, write_pdf
from reports.weekly import build_weekly_report
from riskwatch.cli import cli
from riskwatch.settings import Settings
from tests.conftest import SAMPLE, acled_row, write_csv
from tests.smtp_server import running_smtp
from validation.ingest import ingest_file
from warehouse import db

WATCHED = ["PAK", "AFG", "IRN", "IND"]
AS_OF = dt.date(2024, 11, 10)
KARACHI_NOTES = "a private security guard opened fire on two Chinese nationals"
SCRIPT = "<script>alert('pwned')</script>"


def _settings(tmp: Path, warehouse: Path, **environ: str) -> Settings:
    return Settings(warehouse=warehouse, config={"pipeline": {"reports_dir": str(tmp / "reports"),
                                                              "watched_countries": WATCHED}},
                    environ={"RISKWATCH_OUTBOX": str(tmp / "outbox"), **environ})


def _insert_values(con) -> None:
    """Fallback while indicators.compute is unavailable: chinese_nationals_attacks PAK quarters by hand."""
    counts = {dt.date(2024, 1, 1): 1, dt.date(2024, 4, 1): 0, dt.date(2024, 7, 1): 0, dt.date(2024, 10, 1): 2}
    for start, value in counts.items():
        end = dt.date(start.year + (start.month == 10), (start.month + 3 - 1) % 12 + 1, 1) - dt.timedelta(days=1)
        con.execute("INSERT INTO indicator_value_rows VALUES ('chinese_nationals_attacks', 'PAK', 'quarter', ?, ?, ?, "
                    "?, current_timestamp, ?)", [start, end, value, end <= AS_OF, AS_OF])


def _insert_alert(con) -> bool:
    """A firing critical alert on 2024-Q4 when the alerts schema (005) exists."""
    try:
        con.execute(
            "INSERT INTO alert_rows (alert_id, value_key, indicator, series, grain, period_start, period_end, rule, "
            "rule_type, severity, value, threshold, status, first_seen_at, last_seen_at, as_of) VALUES "
            "('a1', 'chinese_nationals_attacks/PAK/quarter/2024-10-01', 'chinese_nationals_attacks', 'PAK', "
            "'quarter', DATE '2024-10-01', DATE '2024-12-31', 'repeated_attacks_on_chinese_nationals', 'static', "
            "'critical', 2, 2, 'firing', TIMESTAMP '2024-11-06 09:00', TIMESTAMP '2024-11-10 09:00', "
            "DATE '2024-11-10')")
    except duckdb.CatalogException:
        return False
    return True


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("report")
    path = tmp / "riskwatch.duckdb"
    # The CLI test below opens the same file in-process: DuckDB shares one database only between connections
    # of the same configuration, so open it as the CLI's writer does.
    con = db.connect(path, memory_limit=Settings().memory_limit)
    assert ingest_file(con, SAMPLE / "curated_pakistan_acled.csv", "curated", as_of=dt.date(2025, 12, 31)).inserted
    # An incident whose notes try to inject markup (published 7 Nov 2024, so known on the as-of date).
    hostile = acled_row(event_id_cnty="PAK149999", event_date="2024-11-07", admin2="Hyderabad", admin3="",
                        actor2=f"Civilians (China) {SCRIPT}",
                        location="Hyderabad", latitude="25.39", longitude="68.37", fatalities="1",
                        notes=f"Gunmen attacked a Chinese engineers' camp {SCRIPT} <b>bold</b> & fled.",
                        timestamp="1730980000")
    ingest_file(con, write_csv(tmp / "hostile.csv", [hostile]), "acled", as_of=dt.date(2025, 12, 31))
    try:
        from indicators.compute import compute_indicators
        from indicators.tags import refresh_tags

        refresh_tags(con)
        compute_indicators(con, AS_OF, watched=WATCHED)
    except ImportError:
        _insert_values(con)
    alerted = _insert_alert(con)
    yield tmp, path, con, alerted
    con.close()


@pytest.mark.parametrize(("as_of", "start", "end"), [
    ("2024-11-10", "2024-11-04", "2024-11-10"),      # a Sunday completes its own week
    ("2024-11-11", "2024-11-04", "2024-11-10"),      # Monday: the week just ended
    ("2024-11-09", "2024-10-28", "2024-11-03"),      # Saturday: the week before
    ("2025-01-05", "2024-12-30", "2025-01-05"),      # ISO 2025-W01 starts in 2024
])
def test_report_week_is_last_complete_iso_week(as_of, start, end):
    week = report_week(dt.date.fromisoformat(as_of))
    assert (week.start.isoformat(), week.end.isoformat()) == (start, end)
    assert week.start.weekday() == 0 and week.end.weekday() == 6


def test_report_covers_week_names_karachi_attack_and_charts_it(warehouse):
    tmp, path, con, alerted = warehouse
    result = build_weekly_report(con, AS_OF, _settings(tmp, path))
    assert (result.week_start, result.week_end) == (dt.date(2024, 11, 4), dt.date(2024, 11, 10))
    assert (result.iso_year, result.iso_week) == (2024, 45)
    assert result.path == tmp / "reports" / "weekly-2024-W45.html"
    html = result.path.read_text(encoding="utf-8")
    assert "4\u201310 November 2024" in html
    assert KARACHI_NOTES in html
    figure = re.search(r'<figure class="indicator" id="indicator-chinese_nationals_attacks">(.*?)</figure>', html, re.S)
    assert figure and "<svg" in figure.group(1)
    assert "warning \u2265 1" in figure.group(1) and "critical \u2265 2" in figure.group(1)   # static thresholds
    assert result.headline["incidents"] >= 1 and result.headline["notable_incidents"] >= 1
    if alerted:
        assert result.headline["alerts_firing"] == 1 and result.headline["alerts_critical"] == 1
        assert "repeated_attacks_on_chinese_nationals" in html
    # Self-contained: nothing fetched when it is opened offline.
    assert not re.search(r"<(link|script|iframe)\b", html, re.I)
    assert not re.search(r"url\((?!#)|@import|\b(src|xlink:href)=\"(?!#|data:image/png;base64,)", html)
    assert re.search(r'<img class="map" src="data:image/png;base64,[A-Za-z0-9+/=]+"', html)   # the offline map
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    row = con.execute("SELECT path, sha256 FROM reports WHERE report_id = ?", [result.report_id]).fetchone()
    assert row == (str(result.path.resolve()), result.sha256)


def test_monday_run_covers_the_same_week_and_escapes_incident_text(warehouse):
    tmp, path, con, _ = warehouse
    result = build_weekly_report(con, dt.date(2024, 11, 11), _settings(tmp, path), out=tmp / "monday.html")
    assert (result.week_start, result.week_end, result.iso_week) == (dt.date(2024, 11, 4), dt.date(2024, 11, 10), 45)
    html = result.path.read_text(encoding="utf-8")
    assert KARACHI_NOTES in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt; &amp; fled" in html
    assert SCRIPT not in html and "<b>bold</b>" not in html
    # Why each incident is listed: the tag row's confidence (coded: ACLED codes the target actor, the notes match
    # too), evidence (the source's own text, escaped) and source.
    assert ('<li><span class="conf coded">coded</span> Chinese nationals targeted: actor2=Civilians (China) '
            '&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;; &#34;Chinese engineers&#34; in notes '
            '<span class="src">(acled)</span></li>') in html
    assert ('<span class="conf coded">coded</span> Chinese nationals targeted: actor2=Civilians (China); '
            'assoc_actor_2=Labor Group (China); &#34;Chinese nationals&#34; in notes '
            '<span class="src">(curated)</span>') in html


def test_revisions_in_the_window_are_listed(warehouse):
    tmp, path, con, _ = warehouse
    con.execute("INSERT INTO indicator_revisions VALUES ('chinese_nationals_attacks', 'PAK', 'month', "
                "DATE '2024-10-01', 1, 3, current_timestamp, DATE '2024-11-09'), ('suicide_attacks', 'PAK', "
                "'month', DATE '2024-09-01', 0, 1, current_timestamp, DATE '2024-11-01')")   # the second: too old
    try:
        html = build_weekly_report(con, AS_OF, _settings(tmp, path), out=tmp / "rev.html").path.read_text()
    finally:
        con.execute("DELETE FROM indicator_revisions WHERE as_of IN ('2024-11-09', '2024-11-01')")
    section = html[html.index('id="revisions"'):]
    assert "Attacks on Chinese nationals" in section and "2024-10" in section and "+2" in section
    assert "Suicide attacks" not in section


def test_empty_warehouse_renders_nothing_sections(tmp_path):
    con = db.connect(tmp_path / "empty.duckdb")
    settings = _settings(tmp_path, tmp_path / "empty.duckdb")
    result = build_weekly_report(con, AS_OF, settings)
    html = result.path.read_text(encoding="utf-8")
    assert result.headline["incidents"] == 0 and result.headline["alerts_firing"] == 0
    for phrase in ("Nothing: no alert is firing", "Nothing to chart: every indicator is quiet", "(no values yet)",
                   "Nothing: no tagged or deadly incident", "Nothing: no failed check",
                   "Nothing: no source has been ingested yet", "Nothing: no past-period value changed"):
        assert phrase in html
    assert "<svg" not in html
    # Outbox mode (no SMTP host): an .eml file, recorded as sent.
    where = email_weekly_report(con, result, _settings(tmp_path, tmp_path / "empty.duckdb",
                                                       RISKWATCH_REPORT_TO="analyst@example.org"))
    assert where.startswith("outbox:") and Path(where.removeprefix("outbox:")).is_file()
    con.close()


def test_summary_trends_and_late_reports_of_the_quetta_week(warehouse):
    """The 9 Nov 2024 Quetta railway-station bombing (26 killed) was recorded on 13 Nov: the report as of
    10 Nov does not count it but says so; as of 13 Nov (same week) it is counted and nothing is late."""
    tmp, path, con, _ = warehouse
    settings = _settings(tmp, path)
    note = tmp / "reports" / "notes" / "2024-W45.txt"
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text("Quetta: watch the <b>railway</b> line.\n\nSecond paragraph.", encoding="utf-8")
    early = build_weekly_report(con, AS_OF, settings, out=tmp / "early.html")
    late = early.context["late"]
    assert late["n"] == 1 and late["fatalities"] == 26
    [quetta] = late["events"]
    assert (quetta["event_date"], quetta["location"], quetta["recorded"]) == (
        dt.date(2024, 11, 9), "Quetta", dt.date(2024, 11, 13))
    html = early.path.read_text(encoding="utf-8")
    assert "1 event dated in this week was recorded after the as-of date" in html
    summary = early.context["summary"]
    assert summary[0].startswith(f"{early.headline['incidents']} incident")
    assert any("recorded after" in s for s in summary)
    assert "Quetta: watch the &lt;b&gt;railway&lt;/b&gt; line." in html and "<p>Second paragraph.</p>" in html
    [pak] = [t for t in early.context["trends"] if t["country"] == "PAK"]
    assert pak["incidents"] == early.headline["incidents"] and pak["fatalities"] == early.headline["fatalities"]
    assert [t["country"] for t in early.context["trends"]] == WATCHED
    after = build_weekly_report(con, dt.date(2024, 11, 13), settings, out=tmp / "after.html")
    assert (after.week_start, after.context["late"]["n"]) == (AS_OF - dt.timedelta(days=6), 0)
    assert after.headline["fatalities"] == early.headline["fatalities"] + 26
    assert "No event dated in this week was recorded after the as-of date" in after.path.read_text(encoding="utf-8")


def test_rule_titles_first_seen_freshness_and_quiet_indicators(warehouse):
    tmp, path, con, alerted = warehouse
    result = build_weekly_report(con, AS_OF, _settings(tmp, path), out=tmp / "titles.html")
    html, ctx = result.path.read_text(encoding="utf-8"), result.context
    if alerted:
        # The rule's title from its YAML; the id stays as the tooltip.
        assert ('title="repeated_attacks_on_chinese_nationals">Two or more attacks on Chinese nationals this quarter'
                '</td>') in html
    untitled = {"name": "repeated_attacks_on_chinese_nationals"}
    assert weekly.rule_title(untitled) == "Repeated attacks on Chinese nationals"
    for a in ctx["alerts"]:                          # first seen never after the as-of date
        assert not a["first_seen_label"] or a["first_seen_label"].removeprefix("as of ")[:10] <= AS_OF.isoformat()
    backfilled = {"first_seen_at": dt.datetime(2026, 12, 2, 9), "as_of": AS_OF}
    assert weekly.first_seen(backfilled, AS_OF) == "as of 2024-11-10"
    # One freshness line per source, with the [freshness] limit `riskwatch validate` uses, and no second limit.
    [curated] = [s for s in ctx["sources"] if s["source"] == "curated"]
    assert curated["freshness"].startswith("newest event known on 10 Nov 2024: ")
    assert "closed dataset" in curated["freshness"] and not curated["stale_reasons"]
    assert "recorded later: 09 Nov 2024" in curated["freshness"]          # the Quetta bombing, dated before as-of
    assert "more than 30 days" not in html and "(limit 30)" not in html
    # Quiet indicators: one line, no empty chart.
    quiet = ctx["quiet_panels"]
    assert quiet and all(not p.alerts and not any(vs[-1] for vs in p.series.values()) for p in quiet)
    assert all(p.alerts or any(vs[-1] for vs in p.series.values()) for p in ctx["panels"])
    assert html.count('<figure class="indicator"') == len(ctx["panels"])
    assert "<strong>Quiet</strong>" in html and all(p.title in html for p in quiet)
    # Generated-at beside the as-of date, from the data (a rebuild over the same data: same bytes).
    assert "Generated from data loaded " in html
    again = build_weekly_report(con, AS_OF, _settings(tmp, path), out=tmp / "titles.html")
    assert again.sha256 == result.sha256


def test_email_sent_once_per_file_version(warehouse):
    tmp, path, con, _ = warehouse
    out = tmp / "mail" / "week45.html"
    with running_smtp() as server:
        settings = _settings(tmp, path, RISKWATCH_SMTP_HOST="127.0.0.1", RISKWATCH_SMTP_PORT=str(server.port),
                             RISKWATCH_REPORT_TO="analyst@example.org, desk@example.org",
                             RISKWATCH_MAIL_FROM="RiskWatch <riskwatch@example.org>")
        first = build_weekly_report(con, AS_OF, settings, out=out)
        assert email_weekly_report(con, first, settings) == "smtp:127.0.0.1"
        # A rerun after a no-op ingest (same file again: skipped) gives the same bytes and sends nothing.
        skipped = ingest_file(con, SAMPLE / "curated_pakistan_acled.csv", "curated", as_of=dt.date(2025, 12, 31))
        assert skipped.status == "skipped"
        again = build_weekly_report(con, AS_OF, settings, out=out)
        assert again.sha256 == first.sha256 and again.report_id == first.report_id
        assert email_weekly_report(con, again, settings).startswith("already sent")
        assert len(server.messages) == 1
        # A changed file (here: a later as-of date) is a new version of the week and goes out again.
        changed = build_weekly_report(con, dt.date(2024, 11, 11), settings, out=out)
        assert changed.sha256 != first.sha256
        assert email_weekly_report(con, changed, settings) == "smtp:127.0.0.1"
    [msg, update] = server.messages
    assert sorted(server.envelopes[0].rcpt_tos) == ["analyst@example.org", "desk@example.org"]
    assert msg["Subject"].startswith("RiskWatch weekly report 2024-W45")
    assert "(updated)" in update["Subject"]
    assert "Karachi" in msg.get_body(("plain",)).get_content()
    assert ('    why: Chinese nationals targeted: coded, actor2=Civilians (China); assoc_actor_2=Labor Group (China); '
            '"Chinese nationals" in notes (curated)\n') in msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    # The report is the HTML body (charts inline, tests/publish/test_email_client.py), not an attachment.
    assert "Weekly report" in msg.get_body(("html",)).get_content()
    assert all(a.get_content_type() != "text/html" for a in msg.iter_attachments())
    # fetchall, not fetchone: a partly fetched result keeps its transaction open, and the next test's CLI
    # (same DuckDB instance) could then not CHECKPOINT.
    [status] = con.execute("SELECT email_status, message_id FROM reports WHERE report_id = ?",
                           [first.report_id]).fetchall()
    assert status == ("sent", msg["Message-ID"])


def test_cli_report_writes_file_without_email(warehouse, monkeypatch):
    tmp, path, con, _ = warehouse
    config = tmp / "riskwatch.toml"
    config.write_text(f'[pipeline]\nreports_dir = "{tmp / "cli"}"\n', encoding="utf-8")
    monkeypatch.delenv("RISKWATCH_REPORT_TO", raising=False)
    result = CliRunner().invoke(cli, ["--warehouse", str(path), "--config", str(config), "report",
                                      "--as-of", "2024-11-11", "--no-email"])
    assert result.exit_code == 0, result.output
    assert "2024-W45 (2024-11-04 to 2024-11-10)" in result.output
    assert (tmp / "cli" / "weekly-2024-W45.html").is_file()
    refused = CliRunner().invoke(cli, ["--warehouse", str(path), "--config", str(config), "report",
                                       "--as-of", "2024-11-11", "--email"])
    assert refused.exit_code == 1 and "RISKWATCH_REPORT_TO" in refused.output


@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")
def test_renders_in_headless_chromium_and_prints_pdf(warehouse):
    tmp, path, con, _ = warehouse
    result = build_weekly_report(con, AS_OF, _settings(tmp, path), out=tmp / "shot" / "weekly.html")
    png = tmp / "shot" / "weekly.png"
    try:
        chromium([f"--screenshot={png}", "--window-size=1280,2400", "--hide-scrollbars",
                  result.path.resolve().as_uri()])
    except subprocess.TimeoutExpired:
        pytest.skip("chromium timed out")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    from PIL import Image

    with Image.open(png) as image:
        assert image.size == (1280, 2400)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 200    # not a blank page
    pdf = write_pdf(result.path)
    assert pdf is not None and pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000
