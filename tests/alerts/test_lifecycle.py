"""Alert lifecycle and email against a real DuckDB warehouse and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from alerts.lifecycle import evaluate_alerts
from alerts.silences import ack, silence
from indicators.definitions import Definition
from indicators.periods import period_label
from riskwatch.settings import Settings
from tests.conftest import ROOT, SAMPLE, acled_row, clone_warehouse, write_csv
from tests.email_checks import check_cids
from tests.smtp_server import TlsCert, free_port, make_self_signed_cert, running_smtp
from validation.ingest import ingest_file
from warehouse import db, ids

AS_OF = dt.date(2024, 11, 10)
NOW = dt.datetime(2024, 11, 10, 8, 0)
Q4, Q3 = dt.date(2024, 10, 1), dt.date(2024, 7, 1)
TO = "desk@example.org"
CHINA_SQL = ("SELECT country_iso3 AS series, event_key, event_date, 1 AS value FROM events "
             "WHERE actor2 LIKE '%(China)%'")


def chinese(**overrides) -> Definition:
    alerts = [{"name": "attack_on_chinese_nationals", "type": "static", "grain": "quarter", "severity": "warning",
               "threshold": 1, "title": "An attack on Chinese nationals this quarter"},
              {"name": "repeated_attacks_on_chinese_nationals", "type": "static", "grain": "quarter",
               "severity": "critical", "threshold": 2}]
    return Definition(**{"name": "chinese_nationals_attacks", "title": "Attacks on Chinese nationals",
                         "sql": CHINA_SQL, "grains": ["quarter"], "alerts": alerts,
                         "runbook": "Brief the China desk the same day.", **overrides})


def suicide() -> Definition:
    return Definition(name="suicide_attacks", title="Suicide attacks", grains=["quarter"],
                      sql=CHINA_SQL.replace("actor2 LIKE '%(China)%'", "sub_event_type = 'Suicide bomb'"),
                      alerts=[{"name": "any_suicide_attack", "type": "static", "grain": "quarter",
                               "severity": "warning", "threshold": 1}])


DEFS = {"chinese_nationals_attacks": chinese()}


@pytest.fixture(scope="module")
def incidents_warehouse(tmp_path_factory) -> Path:
    """The two Karachi attacks on Chinese nationals of 2024-Q4, loaded through the ACLED adapter (once per module;
    each test changes its own clone)."""
    path = tmp_path_factory.mktemp("incidents") / "riskwatch.duckdb"
    rows = [acled_row(timestamp="1728500000"),
            acled_row(event_id_cnty="PAK140002", event_date="2024-11-05", event_type="Violence against civilians",
                      sub_event_type="Attack", actor1="Private Security Forces (Pakistan)", admin2="Karachi",
                      location="Karachi - SITE", fatalities="0", timestamp="1730900000",
                      notes="On 5 November 2024, a guard opened fire on two Chinese nationals at a textile mill.")]
    con = db.connect(path)
    ingest_file(con, write_csv(path.parent / "acled.csv", rows), "acled")
    con.close()
    return path


@pytest.fixture
def incidents(incidents_warehouse, warehouse_path):
    con = db.connect(clone_warehouse(incidents_warehouse, warehouse_path))
    yield con
    con.close()


def put_quarters(con, values: dict[dt.date, float], *, indicator="chinese_nationals_attacks", series="PAK") -> None:
    """Replace the series' quarterly values (periods from 2023-Q4 to the one holding AS_OF, zero-filled)."""
    con.execute("DELETE FROM indicator_value_rows WHERE indicator = ? AND series = ?", [indicator, series])
    for start in (dt.date(2023, 10, 1), dt.date(2024, 1, 1), dt.date(2024, 4, 1), Q3, Q4):
        end = dt.date(start.year + (start.month + 2) // 12, (start.month + 2) % 12 + 1, 1) - dt.timedelta(days=1)
        con.execute("INSERT INTO indicator_value_rows VALUES (?, ?, 'quarter', ?, ?, ?, ?, now(), ?)",
                    [indicator, series, start, end, values.get(start, 0), end <= AS_OF, AS_OF])


def settings_for(port: int | None = None, tmp_path: Path | None = None, **env) -> Settings:
    environ = {"RISKWATCH_ALERT_TO": TO, "RISKWATCH_MAIL_FROM": "RiskWatch <riskwatch@example.org>",
               "RISKWATCH_OUTBOX": str(tmp_path / "outbox") if tmp_path else "unused-outbox"}
    if port:
        environ |= {"RISKWATCH_SMTP_HOST": "127.0.0.1", "RISKWATCH_SMTP_PORT": str(port)}
    return Settings(config={"pipeline": {"watched_countries": ["PAK"]}}, environ=environ | env)


def run(con, server, *, now=NOW, defs=DEFS, **kwargs):
    return evaluate_alerts(con, AS_OF, settings_for(server.port), now=now, definitions=defs, **kwargs)


def subjects(server) -> list[str]:
    return [m["Subject"] for m in server.messages]


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory) -> TlsCert:
    return make_self_signed_cert(tmp_path_factory.mktemp("tls"))


def test_first_breach_sends_one_explained_email_and_a_rerun_sends_none(incidents):
    con = incidents
    put_quarters(con, {Q4: 1, Q3: 0, dt.date(2024, 1, 1): 1})
    with running_smtp() as server:
        first = run(con, server)
        again = run(con, server, now=NOW + dt.timedelta(hours=6))
    assert subjects(server) == ["[riskwatch WARNING] Attacks on Chinese nationals (PAK): 1 in 2024-Q4"]
    assert (first.new, first.sent, first.pending, first.firing) == (1, 1, 0, 1)
    assert (again.new, again.sent, again.firing) == (0, 0, 1)
    [msg] = server.messages
    assert server.envelopes[0].rcpt_tos == [TO]
    text, html = msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()
    for body in (text, html):
        assert "attack_on_chinese_nationals" in body and "value 1 vs threshold 1" in body
        assert "2024-Q1: 1" in body and "2024-Q4: 1" in body       # the series' recent values
        assert "2024-10-06" in body and "2024-11-05" in body        # the incidents behind the value
        assert "BLA: Baloch Liberation Army" in body and "Karachi - SITE" in body
    assert "riskwatch alerts ack ALERT_ID" not in text and "ALERT_ID" not in html
    value_alert = con.execute("SELECT alert_id FROM alerts").fetchone()[0]
    for body in (text, html):
        assert f"riskwatch alerts ack {value_alert}" in body and f"riskwatch alerts silence {value_alert}" in body
        assert "An attack on Chinese nationals this quarter" in body     # the rule's title, not only its id
        assert "weekly-2024-W45.html" in body                           # the report it points at
        assert "What to do: Brief the China desk the same day." in body.replace("<strong>", "").replace("</strong>", "")
    check_cids(msg)     # the chart is an inline PNG part, nothing is loaded from outside
    [attachment] = msg.iter_attachments()
    csv_text = attachment.get_content() if isinstance(attachment.get_content(), str) else \
        attachment.get_content().decode()
    assert attachment.get_filename() == "incidents.csv" and csv_text.count("acled:PAK14000") == 2
    rows = con.execute("SELECT rule, severity, status, notified_at IS NOT NULL FROM alerts").fetchall()
    assert rows == [("attack_on_chinese_nationals", "warning", "firing", True)]
    sent = con.execute("SELECT kind, status, attempts, message_id FROM notifications").fetchall()
    assert sent == [("new", "sent", 1, msg["Message-ID"])]


def test_two_rules_on_one_value_are_one_alert_that_escalates_once(incidents):
    con = incidents
    put_quarters(con, {Q4: 1})
    with running_smtp() as server:
        run(con, server)
        put_quarters(con, {Q4: 2})
        escalated = run(con, server, now=NOW + dt.timedelta(days=1))
        rerun = run(con, server, now=NOW + dt.timedelta(days=2))
    assert subjects(server) == [
        "[riskwatch WARNING] Attacks on Chinese nationals (PAK): 1 in 2024-Q4",
        "[riskwatch CRITICAL] Attacks on Chinese nationals (PAK): 2 in 2024-Q4 (escalated)",
    ]
    assert (escalated.escalated, escalated.sent, rerun.sent, rerun.escalated) == (1, 1, 0, 0)
    body = server.messages[1].get_body(("plain",)).get_content()
    assert "Escalated from warning to critical" in body and "repeated_attacks_on_chinese_nationals" in body


def test_a_first_breach_of_both_rules_is_one_critical_email(incidents):
    put_quarters(incidents, {Q4: 2})
    with running_smtp() as server:
        result = run(incidents, server)
    assert subjects(server) == ["[riskwatch CRITICAL] Attacks on Chinese nationals (PAK): 2 in 2024-Q4"]
    assert result.new == 1 and result.escalated == 0
    # Two rules breached, one alert: the view, the rule rows behind it and the report all count one.
    assert incidents.execute("SELECT count(*) FROM alert_rows WHERE status = 'firing'").fetchone()[0] == 2
    assert incidents.execute("SELECT rule, severity, rules_firing FROM alerts WHERE status = 'firing'").fetchall() \
        == [("repeated_attacks_on_chinese_nationals", "critical",
             ["attack_on_chinese_nationals", "repeated_attacks_on_chinese_nationals"])]
    from reports.data import read_alerts
    assert len(read_alerts(incidents)) == 1


def test_a_breach_that_clears_sends_one_resolved_note(incidents):
    con = incidents
    put_quarters(con, {Q4: 2})
    with running_smtp() as server:
        run(con, server)
        put_quarters(con, {Q4: 0})          # e.g. both records deleted by the source
        cleared = run(con, server, now=NOW + dt.timedelta(days=1))
        rerun = run(con, server, now=NOW + dt.timedelta(days=2))
    assert subjects(server)[1:] == ["[riskwatch RESOLVED] Attacks on Chinese nationals (PAK): 0 in 2024-Q4"]
    assert (cleared.resolved, cleared.sent, cleared.firing, rerun.sent) == (1, 1, 0, 0)
    assert set(con.execute("SELECT status, resolved_reason FROM alerts").fetchall()) == {("resolved", "cleared")}


def test_hysteresis_keeps_an_alert_firing_until_the_value_drops_below_clear(incidents):
    con = incidents
    defs = {"chinese_nationals_attacks": chinese(alerts=[
        {"name": "many", "type": "static", "grain": "quarter", "severity": "warning", "threshold": 3, "clear": 2}])}
    with running_smtp() as server:
        for day, value in enumerate([3, 2, 1]):
            put_quarters(con, {Q4: value})
            run(con, server, now=NOW + dt.timedelta(hours=day), defs=defs)
    assert [s.split("]")[0] for s in subjects(server)] == ["[riskwatch WARNING", "[riskwatch RESOLVED"]
    assert subjects(server)[1].endswith(": 1 in 2024-Q4")


def test_a_period_that_leaves_the_window_expires_quietly(incidents):
    con = incidents
    put_quarters(con, {Q4: 1})
    with running_smtp() as server:
        run(con, server)
        for start, end in ((dt.date(2025, 1, 1), dt.date(2025, 3, 31)), (dt.date(2025, 4, 1), dt.date(2025, 6, 30))):
            con.execute("INSERT INTO indicator_value_rows VALUES ('chinese_nationals_attacks', 'PAK', 'quarter', "
                        "?, ?, 0, true, now(), ?)", [start, end, AS_OF])
        later = evaluate_alerts(con, dt.date(2025, 4, 20), settings_for(server.port), now=NOW + dt.timedelta(180),
                                definitions=DEFS)
    assert len(server.messages) == 1 and later.sent == 0 and later.firing == 0
    assert con.execute("SELECT status, resolved_reason FROM alerts").fetchall() == [("resolved", "expired")]


def test_silence_suppresses_sending_until_it_expires(incidents):
    con = incidents
    put_quarters(con, {Q4: 1})
    today = dt.datetime.now().replace(microsecond=0)
    made = silence(con, "chinese_nationals_attacks/PAK", today.date() + dt.timedelta(days=5), "briefed",
                   definitions=DEFS)
    assert made["series"] == "PAK" and made["value_key"] is None
    with running_smtp() as server:
        muted = run(con, server, now=today)
        assert con.execute("SELECT DISTINCT status FROM alerts").fetchall() == [("silenced",)]
        after = run(con, server, now=today + dt.timedelta(days=6))
    assert (muted.sent, muted.silenced, muted.firing) == (0, 1, 0)
    assert after.sent == 1 and len(server.messages) == 1


def test_silence_by_alert_id_covers_the_value_and_bad_matchers_fail(incidents):
    con = incidents
    put_quarters(con, {Q4: 1})
    with running_smtp() as server:
        evaluate_alerts(con, AS_OF, settings_for(server.port), now=NOW, definitions=DEFS, dry_run=False)
        alert_id = con.execute("SELECT alert_id FROM alerts").fetchone()[0]
        silence(con, alert_id, dt.date.today() + dt.timedelta(days=30), "known", definitions=DEFS)
        put_quarters(con, {Q4: 2})          # the critical rule fires on the same, silenced value
        result = run(con, server, now=dt.datetime.now())
    assert len(server.messages) == 1 and result.escalated == 0 and result.silenced == 1
    for matcher, message in (("no_such_indicator", "neither an alert id"), (alert_id, "reason is required")):
        with pytest.raises(ValueError, match=message):
            silence(con, matcher, dt.date.today(), "" if matcher == alert_id else "x", definitions=DEFS)


def test_reminders_after_the_repeat_interval_until_acknowledged(incidents):
    con = incidents
    put_quarters(con, {Q4: 1})
    with running_smtp() as server:
        run(con, server)
        quiet = run(con, server, now=NOW + dt.timedelta(days=6))
        reminded = run(con, server, now=NOW + dt.timedelta(days=7))
        ack(con, con.execute("SELECT alert_id FROM alerts").fetchone()[0], "desk briefed")
        acked = run(con, server, now=NOW + dt.timedelta(days=15))
    assert (quiet.sent, reminded.reminded, reminded.sent, acked.sent) == (0, 1, 1, 0)
    assert subjects(server)[1].endswith("(reminder)")
    with pytest.raises(ValueError, match="no alert"):
        ack(con, "000000000000")


def test_smtp_down_leaves_it_pending_and_the_next_run_delivers_it_exactly_once(incidents):
    con = incidents
    put_quarters(con, {Q4: 2})
    down = evaluate_alerts(con, AS_OF, settings_for(free_port()), now=NOW, definitions=DEFS)
    assert (down.new, down.sent, down.pending) == (1, 0, 1) and "refused" in down.errors[0]
    queued = con.execute("SELECT status, attempts, last_error IS NOT NULL, message_id FROM notifications").fetchall()
    assert [q[:3] for q in queued] == [("pending", 1, True)]
    with running_smtp() as server:
        retried = run(con, server, now=NOW + dt.timedelta(minutes=10))
        rerun = run(con, server, now=NOW + dt.timedelta(minutes=20))
    assert (retried.new, retried.sent, retried.pending, rerun.sent) == (0, 1, 0, 0)
    assert subjects(server) == ["[riskwatch CRITICAL] Attacks on Chinese nationals (PAK): 2 in 2024-Q4"]
    assert server.messages[0]["Message-ID"] == queued[0][3]
    assert con.execute("SELECT status, attempts FROM notifications").fetchall() == [("sent", 2)]


def test_starttls_and_auth_against_a_server_that_requires_them(incidents, tls_cert):
    put_quarters(incidents, {Q4: 1})
    with running_smtp(require_starttls=True, auth=("alerts", "s3cret-pw"), tls_cert=tls_cert) as server:
        settings = settings_for(server.port, RISKWATCH_SMTP_STARTTLS="true", RISKWATCH_SMTP_USER="alerts",
                                RISKWATCH_SMTP_PASSWORD="s3cret-pw", RISKWATCH_SMTP_CA_FILE=str(tls_cert.cert_file))
        result = evaluate_alerts(incidents, AS_OF, settings, now=NOW, definitions=DEFS)
    assert result.sent == 1 and server.logins == ["alerts"] and len(server.messages) == 1


def _fail_check(con, check: str, indicator: str | None, severity: str = "critical", suite: str | None = None) -> None:
    run_id = con.execute("SELECT coalesce(max(run_id), 0) FROM validation_runs WHERE kind = 'full'").fetchone()[0]
    if not run_id:
        run_id = ids.next_id(con, "validation_runs")
        con.execute("INSERT INTO validation_runs (run_id, as_of, started_at) VALUES (?, ?, now())", [run_id, AS_OF])
    con.execute("INSERT INTO validation_results (run_id, suite, check_name, expectation, severity, success, indicator, "
                "message, run_at) VALUES (?, ?, ?, 'expect_column_max_to_be_between', ?, false, ?, ?, now())",
                [run_id, suite or f"indicator:{indicator}", check, severity, indicator, f"{check} failed"])


def test_a_critical_failed_check_withholds_the_alert_and_the_report_names_it(incidents):
    con = incidents
    defs = {"chinese_nationals_attacks": chinese(), "suicide_attacks": suicide()}
    put_quarters(con, {Q4: 2})
    put_quarters(con, {Q4: 1}, indicator="suicide_attacks")
    _fail_check(con, "chinese_nationals_attacks_max_value", "chinese_nationals_attacks")
    _fail_check(con, "suicide_attacks_not_null", "suicide_attacks", severity="warning")
    with running_smtp() as server:
        result = run(con, server, defs=defs)
    assert [(w.indicator, w.checks) for w in result.withheld] == [
        ("chinese_nationals_attacks", ["chinese_nationals_attacks_max_value"])] * 2   # both rules
    assert subjects(server) == ["[riskwatch WARNING] Suicide attacks (PAK): 1 in 2024-Q4"]
    assert con.execute("SELECT DISTINCT indicator FROM alerts").fetchall() == [("suicide_attacks",)]
    text = server.messages[0].get_body(("plain",)).get_content()
    assert "withheld because the data failed validation" in text
    assert "chinese_nationals_attacks_max_value" in text
    assert "suicide_attacks_not_null (warning" in text        # a warning check is shown on the alert itself
    # A critical check on the incidents themselves (indicator NULL) gates every indicator.
    _fail_check(con, "event_date_in_range", None, suite="incidents")
    put_quarters(con, {Q4: 2}, indicator="suicide_attacks")
    with running_smtp() as server:
        gated = run(con, server, defs=defs, now=NOW + dt.timedelta(days=1))
    assert server.messages == [] and gated.escalated == 0
    assert {w.indicator for w in gated.withheld} == {"chinese_nationals_attacks", "suicide_attacks"}


def test_header_injection_through_incident_text_is_impossible(con, tmp_path):
    evil = "Karachi\r\nBcc: evil@example.com\r\nSubject: pwned"
    row = acled_row(timestamp="1728500000", location=evil, notes=f"<script>alert(1)</script> {evil}",
                    actor1="BLA\nTo: evil@example.com")
    ingest_file(con, write_csv(tmp_path / "evil.csv", [row]), "acled")
    con.execute("UPDATE incident_current SET source_url = 'javascript:alert(1)'")
    put_quarters(con, {Q4: 1})
    put_quarters(con, {Q4: 1}, series="PAK\r\nBcc: evil@example.com")
    with running_smtp() as server:
        result = run(con, server)
    assert result.sent == 1 and server.envelopes[0].rcpt_tos == [TO]
    raw = server.envelopes[0].raw
    # Every header line is a known header or the folded continuation (leading space) of the Subject.
    lines = raw.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    names = [line.split(":", 1)[0] for line in lines if not line[:1].isspace()]
    assert names == ["Subject", "From", "To", "Date", "Message-ID", "MIME-Version", "Content-Type"]
    msg = message_from_bytes(raw, policy=default_policy)
    assert msg["Bcc"] is None and msg["To"] == TO and "evil" not in msg["From"] + msg["To"]
    assert "\n" not in msg["Subject"] and msg["Subject"].endswith("+1 more")
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "javascript:" not in html.split("<body")[1]


def test_why_an_incident_counted_is_escaped_in_the_email(con, tmp_path):
    """The evidence quotes a source's own text: in the HTML body it is text, never markup."""
    row = acled_row(timestamp="1728500000", notes='<img src=x onerror=alert(1)> "Chinese engineers" hit')
    ingest_file(con, write_csv(tmp_path / "x.csv", [row]), "acled")
    con.execute("INSERT INTO incident_tag_rows (incident_id, tag, detail, rule, evidence, confidence, tagged_at) "
                "VALUES ('acled:PAK140001', 'target:chinese_nationals', NULL, 'crafted', "
                "'notes ~ \"<img src=x onerror=alert(1)> Chinese engineers\"', 'text', current_timestamp)")
    put_quarters(con, {Q4: 1})
    defs = {"chinese_nationals_attacks": chinese(sql=CHINA_SQL.replace(
        "FROM events WHERE actor2 LIKE '%(China)%'",
        "FROM events JOIN event_tags t USING (incident_id) WHERE t.tag = 'target:chinese_nationals'"))}
    with running_smtp() as server:
        assert run(con, server, defs=defs).sent == 1
    msg = server.messages[0]
    html, text = msg.get_body(("html",)).get_content(), msg.get_body(("plain",)).get_content()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt; Chinese engineers&#34; in notes" in html
    assert 'Why it counted: text, "<img src=x onerror=alert(1)> Chinese engineers" in notes (acled)' in text


def test_dry_run_shows_what_would_be_sent_and_changes_nothing(incidents):
    put_quarters(incidents, {Q4: 2})
    with running_smtp() as server:
        result = run(incidents, server, dry_run=True)
    assert server.messages == [] and result.new == 1 and result.sent == 0
    assert [n["subject"] for n in result.queued] == [
        "[riskwatch CRITICAL] Attacks on Chinese nationals (PAK): 2 in 2024-Q4"]
    for table in ("alert_rows", "notifications", "notification_items"):
        assert incidents.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


def test_backfill_records_past_breaches_as_resolved_and_never_emails(incidents):
    con = incidents
    put_quarters(con, {dt.date(2024, 1, 1): 3, Q4: 1})
    with running_smtp() as server:
        back = run(con, server, backfill=True)
        live = run(con, server, now=NOW + dt.timedelta(hours=1))
    assert back.sent == 0 and back.pending == 0
    states = con.execute("SELECT period_start, rule, status, resolved_reason FROM alerts ORDER BY ALL").fetchall()
    assert states == [(dt.date(2024, 1, 1), "repeated_attacks_on_chinese_nationals", "resolved", "backfill"),
                      (Q4, "attack_on_chinese_nationals", "firing", None)]
    assert back.past_breaches == 1      # one alert for the value both rules breached
    assert subjects(server) == ["[riskwatch WARNING] Attacks on Chinese nationals (PAK): 1 in 2024-Q4"]
    assert live.sent == 1


def test_backfill_from_records_no_alert_before_it_but_uses_earlier_values_as_baseline(incidents):
    con = incidents
    put_quarters(con, {dt.date(2023, 10, 1): 2, dt.date(2024, 1, 1): 3, Q4: 1})
    with running_smtp() as server:
        back = run(con, server, backfill=True, since=dt.date(2024, 1, 1))
    assert server.messages == [] and back.past_breaches == 1
    assert con.execute("SELECT min(period_start) FROM alert_rows").fetchone()[0] == dt.date(2024, 1, 1)
    assert con.execute("SELECT count(*) FROM alerts WHERE period_start < DATE '2024-01-01'").fetchone()[0] == 0


def test_without_smtp_host_the_email_goes_to_the_outbox_and_route_overrides_recipients(incidents, tmp_path):
    put_quarters(incidents, {Q4: 1})
    defs = {"chinese_nationals_attacks": chinese(route=["china-desk@example.org"])}
    result = evaluate_alerts(incidents, AS_OF, settings_for(tmp_path=tmp_path), now=NOW, definitions=defs)
    [path] = incidents.execute("SELECT eml_path FROM notifications WHERE status = 'sent'").fetchone()
    assert result.sent == 1 and Path(path).parent == tmp_path / "outbox"
    msg = message_from_bytes(Path(path).read_bytes(), policy=default_policy)
    assert msg["Subject"].startswith("[riskwatch WARNING]") and msg["To"] == "china-desk@example.org"


def test_period_labels():
    assert [period_label(g, d) for g, d in (("quarter", Q4), ("month", dt.date(2024, 11, 1)),
                                             ("week", dt.date(2024, 11, 4)), ("week", dt.date(2024, 12, 30)))] == \
        ["2024-Q4", "2024-11", "2024-W45", "2025-W01"]


def test_cli_evaluate_list_silence_ack_and_a_failed_delivery_exit_code(incidents, warehouse_path, monkeypatch):
    from riskwatch.cli import cli
    from riskwatch.cli_alerts import alerts

    if "alerts" not in cli.commands:
        cli.add_command(alerts)
    put_quarters(incidents, {Q4: 1})
    incidents.close()
    env = {"RISKWATCH_WAREHOUSE": str(warehouse_path), "RISKWATCH_ALERT_TO": TO, "RISKWATCH_SMTP_HOST": "127.0.0.1",
           "RISKWATCH_SMTP_PORT": str(free_port()), "RISKWATCH_CONFIG": str(ROOT / "riskwatch.toml")}
    runner = CliRunner()
    for args in (["alerts", "--help"], ["alerts", "silence", "--help"], ["alerts", "ack", "--help"],
                 ["alerts", "list", "--help"]):
        assert "Examples:" in runner.invoke(cli, args).output
    dry = runner.invoke(cli, ["alerts", "--as-of", "2024-11-10", "--dry-run"], env=env)
    assert dry.exit_code == 0 and "would send #1 to desk@example.org: [riskwatch WARNING]" in dry.output
    down = runner.invoke(cli, ["alerts", "--as-of", "2024-11-10"], env=env)
    assert down.exit_code == 1 and "new 1" in down.output and "pending 1" in down.output
    assert "refused" in down.output and "retries" in down.output
    listed = runner.invoke(cli, ["alerts", "list"], env=env)
    alert_id = re.search(r"\| ([0-9a-f]{12}) \| firing", listed.output).group(1)
    assert "1 notification(s) pending" in listed.output
    until = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    muted = runner.invoke(cli, ["alerts", "silence", alert_id, "--until", until, "--reason", "known"], env=env)
    assert muted.exit_code == 0 and "chinese_nationals_attacks/PAK/quarter/2024-10-01" in muted.output
    assert runner.invoke(cli, ["alerts", "ack", alert_id], env=env).exit_code == 0
    assert "| silenced |" in runner.invoke(cli, ["alerts", "list"], env=env).output
    bad = runner.invoke(cli, ["alerts", "ack", "nope"], env=env)
    assert bad.exit_code == 1 and "no alert 'nope'" in bad.output


@pytest.mark.skipif(not (SAMPLE / "curated_pakistan_acled.csv").exists(), reason="bundled sample missing")
def test_bundled_sample_raises_a_critical_alert_on_chinese_nationals_in_2024_q4(con):
    """End to end on the bundled sample: ingest, tag, compute, alert (the real definitions)."""
    from indicators.compute import compute_indicators
    from indicators.tags import refresh_tags

    ingest_file(con, SAMPLE / "curated_pakistan_acled.csv", "acled")
    refresh_tags(con)
    watched = ["PAK", "AFG", "IRN", "IND"]
    compute_indicators(con, AS_OF, watched=watched)
    settings = Settings(config={"pipeline": {"watched_countries": watched}}, environ=settings_for().environ)
    with running_smtp() as server:
        settings.environ |= {"RISKWATCH_SMTP_HOST": "127.0.0.1", "RISKWATCH_SMTP_PORT": str(server.port)}
        result = evaluate_alerts(con, AS_OF, settings, now=NOW)
    assert result.errors == [] and result.withheld == []
    critical = [m for m in server.messages if m["Subject"] ==
                "[riskwatch CRITICAL] Attacks on Chinese nationals (PAK): 2 in 2024-Q4"]
    assert len(critical) == 1
    text = critical[0].get_body(("plain",)).get_content()
    assert "2024-10-06" in text and "Jinnah" in text          # the Karachi airport convoy bombing
    assert "2024-11-05" in text and "SITE" in text            # the Karachi mill shooting
    # Why each counted: the tag row's confidence (coded: the target actor is coded, the notes match as well),
    # evidence and source, in both bodies and the CSV.
    html = critical[0].get_body(("html",)).get_content()
    assert ('Why it counted: coded, actor2=Civilians (China); assoc_actor_2=Labor Group (China); '
            '"convoy carrying Chinese" in notes (acled)') in text
    assert ('<strong style="color: #1e8449;">coded</strong> actor2=Civilians (China); assoc_actor_2=Labor Group '
            '(China); &#34;convoy carrying Chinese&#34; in notes <small style="color: #777;">(acled)</small>') in html
    assert "<th align=\"left\">Why it counted</th>" in html and "coded</strong> = a source&#39;s coded field" in html
    csv_text = next(critical[0].iter_attachments()).get_content()
    csv_text = csv_text if isinstance(csv_text, str) else csv_text.decode()
    assert '"convoy carrying Chinese"" in notes (acled)' in csv_text
