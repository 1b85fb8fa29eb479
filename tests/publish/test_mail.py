"""Delivery tests against a real aiosmtpd server on 127.0.0.1 (smtplib is never mocked)."""

from __future__ import annotations

import logging
import socket
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from publish.mail import (
    DeliveryError,
    SmtpSettings,
    build_message,
    deliver,
    safe_header,
    send_smtp,
    write_outbox,
)
from tests.smtp_server import TlsCert, make_self_signed_cert, running_smtp

USER, PASSWORD = "alerts", "pa55-Hunter2-never-shown"
SENDER = "RiskWatch <riskwatch@example.org>"
CSV = "country,score\r\nSudan,0.93\r\nCôte d'Ivoire,0.41\r\n".encode()


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> TlsCert:
    return make_self_signed_cert(tmp_path_factory.mktemp("tls"))


def _message(subject: str = "Weekly risk report", recipients=("analyst@example.org",)):
    return build_message(
        subject,
        SENDER,
        list(recipients),
        "Plain body – 3 alerts",
        html="<p>HTML body – <b>3</b> alerts</p>",
        attachments=[("scores.csv", CSV, "text/csv")],
    )


def _settings(port: int, **kwargs) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, timeout=5, **kwargs)


def test_plain_send_delivers_subject_parts_and_csv():
    with running_smtp() as server:
        send_smtp(_message(), _settings(server.port))
    [received] = server.messages
    assert received["Subject"] == "Weekly risk report"
    assert received["From"] == SENDER
    assert received.get_content_type() == "multipart/mixed"
    assert received.get_body(("plain",)).get_content().strip() == "Plain body – 3 alerts"
    assert received.get_body(("html",)).get_content().strip() == "<p>HTML body – <b>3</b> alerts</p>"
    [attachment] = received.iter_attachments()
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_filename() == "scores.csv"
    assert attachment.get_payload(decode=True) == CSV
    assert server.envelopes[0].mail_from == "riskwatch@example.org"
    assert server.envelopes[0].rcpt_tos == ["analyst@example.org"]


@pytest.mark.parametrize("excluded", [[], ["PLAIN"]], ids=["auth-plain", "auth-login"])
def test_starttls_and_auth_against_a_server_requiring_both(tls_cert, excluded):
    with running_smtp(
        require_starttls=True, auth=(USER, PASSWORD), tls_cert=tls_cert, auth_exclude_mechanism=excluded
    ) as server:
        settings = _settings(
            server.port, user=USER, password=PASSWORD, starttls=True, ca_file=str(tls_cert.cert_file)
        )
        assert deliver(_message(), settings=settings, outbox_dir="unused", name="x") == "smtp:127.0.0.1"
    assert server.logins == [USER]
    assert [m["Subject"] for m in server.messages] == ["Weekly risk report"]


def test_implicit_tls(tls_cert):
    with running_smtp(tls_cert=tls_cert, implicit_tls=True) as server:
        send_smtp(_message(), _settings(server.port, ssl=True, ca_file=str(tls_cert.cert_file)))
    assert len(server.messages) == 1


def test_wrong_password_is_a_delivery_error_without_the_password(tls_cert, caplog):
    caplog.set_level(logging.DEBUG)
    with running_smtp(require_starttls=True, auth=(USER, PASSWORD), tls_cert=tls_cert) as server:
        wrong = "wr0ng-" + PASSWORD
        settings = _settings(
            server.port, user=USER, password=wrong, starttls=True, ca_file=str(tls_cert.cert_file)
        )
        with pytest.raises(DeliveryError) as info:
            send_smtp(_message(), settings)
    text = str(info.value)
    assert "login failed" in text and "535" in text
    assert "\n" not in text
    assert wrong not in text and PASSWORD not in text
    assert wrong not in caplog.text and wrong not in repr(settings)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert server.messages == []


def test_server_down_is_a_delivery_error():
    # Bound but not listening: the port is reserved for us, and connecting is refused at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(DeliveryError, match=rf"^SMTP 127\.0\.0\.1:{port} refused: .*Connection refused"):
            send_smtp(_message(), _settings(port))


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [({}, r"send failed: 530 .*STARTTLS"), ({"user": USER, "password": PASSWORD}, "login failed")],
    ids=["anonymous", "with-login"],
)
def test_server_requiring_starttls_without_it_is_a_delivery_error(tls_cert, credentials, expected):
    auth = (USER, PASSWORD) if credentials else None
    with running_smtp(require_starttls=True, auth=auth, tls_cert=tls_cert) as server:
        with pytest.raises(DeliveryError, match=expected) as info:
            send_smtp(_message(), _settings(server.port, **credentials))
    assert PASSWORD not in str(info.value)
    assert server.messages == []


def test_untrusted_certificate_is_rejected(tls_cert):
    with running_smtp(require_starttls=True, tls_cert=tls_cert) as server:
        with pytest.raises(DeliveryError, match="STARTTLS failed: .*CERTIFICATE_VERIFY_FAILED"):
            send_smtp(_message(), _settings(server.port, starttls=True))  # system trust only
    assert server.messages == []


def test_subject_header_injection_stays_one_header():
    message = _message(subject="Alert\r\nBcc: evil@x\nX-Evil: 1")
    with running_smtp() as server:
        send_smtp(message, _settings(server.port))
    [received] = server.messages
    assert received["Subject"] == "Alert Bcc: evil@x X-Evil: 1"
    assert received["Bcc"] is None and received["X-Evil"] is None
    assert server.envelopes[0].rcpt_tos == ["analyst@example.org"]
    header_block = server.envelopes[0].raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith((b"bcc:", b"x-evil:")) for line in header_block.splitlines())


@pytest.mark.parametrize(
    "recipients",
    [
        ["a@example.org\r\nBcc: evil@x"],
        ["a@example.org, evil@x"],
        ["not-an-address"],
        [],
        ["a@example.org\x00"],
    ],
)
def test_bad_recipients_are_rejected(recipients):
    with pytest.raises(ValueError):
        build_message("s", SENDER, recipients, "body")


def test_bad_sender_is_rejected():
    with pytest.raises(ValueError):
        build_message("s", "a@example.org, b@example.org", ["c@example.org"], "body")
    with pytest.raises(ValueError):
        build_message("s", "a@example.org\r\nBcc: evil@x", ["c@example.org"], "body")


def test_recipient_string_is_split_with_getaddresses():
    message = build_message("s", SENDER, "Desk A <a@example.org>, b@example.org", "body")
    assert [a.addr_spec for a in message["To"].addresses] == ["a@example.org", "b@example.org"]
    assert message["To"].addresses[0].display_name == "Desk A"


def test_message_id_date_and_text_only_shape():
    message = build_message("s", SENDER, ["a@example.org"], "body")
    assert message["Message-ID"].endswith("@example.org>")
    assert message["Date"]
    assert message.get_content_type() == "text/plain"


def test_safe_header():
    assert safe_header("a\r\nb\tc\x00d\x7fe\u2028f   g") == "a b c d e f g"
    long = safe_header("x" * 500)
    assert len(long) == 200 and long.endswith("…")
    assert safe_header("abcdef", max_len=4) == "abc…"
    assert safe_header("abc", max_len=3) == "abc"


def test_outbox_mode_writes_a_parseable_eml(tmp_path):
    outbox = tmp_path / "outbox"
    result = deliver(_message(), settings=None, outbox_dir=outbox, name="../weekly report/2024-W01")
    assert result.startswith("outbox:")
    path = outbox / "weekly_report_2024-W01.eml"
    assert result == f"outbox:{path}"
    parsed = message_from_bytes(path.read_bytes(), policy=default_policy)
    assert parsed["Subject"] == "Weekly risk report"
    assert parsed.get_body(("plain",)).get_content().strip() == "Plain body – 3 alerts"
    assert next(parsed.iter_attachments()).get_payload(decode=True) == CSV
    # Same name again: overwritten in place, no temp files left behind.
    assert write_outbox(_message(subject="Second"), outbox, "../weekly report/2024-W01") == path
    assert [p.name for p in outbox.iterdir()] == [path.name]
    assert message_from_bytes(path.read_bytes(), policy=default_policy)["Subject"] == "Second"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"RISKWATCH_SMTP_HOST": "  "}, None),
        (
            {"RISKWATCH_SMTP_HOST": "mail.example.org"},
            SmtpSettings("mail.example.org", 25),
        ),
        (
            {
                "RISKWATCH_SMTP_HOST": "mx",
                "RISKWATCH_SMTP_STARTTLS": "yes",
                "RISKWATCH_SMTP_USER": "u",
                "RISKWATCH_SMTP_PASSWORD": "p",
                "RISKWATCH_MAIL_FROM": "alerts@example.org",
            },
            SmtpSettings("mx", 587, user="u", password="p", starttls=True, mail_from="alerts@example.org"),
        ),
        (
            {
                "RISKWATCH_SMTP_HOST": "mx",
                "RISKWATCH_SMTP_SSL": "1",
                "RISKWATCH_SMTP_STARTTLS": "False",
                "RISKWATCH_SMTP_CA_FILE": "/etc/ca.pem",
            },
            SmtpSettings("mx", 465, ssl=True, ca_file="/etc/ca.pem"),
        ),
        (
            {"RISKWATCH_SMTP_HOST": "mx", "RISKWATCH_SMTP_PORT": "2525", "RISKWATCH_SMTP_STARTTLS": "true"},
            SmtpSettings("mx", 2525, starttls=True),
        ),
    ],
)
def test_settings_from_env(env, expected):
    assert SmtpSettings.from_env(env) == expected


@pytest.mark.parametrize(
    "env",
    [
        {"RISKWATCH_SMTP_STARTTLS": "maybe"},
        {"RISKWATCH_SMTP_PORT": "smtp"},
        {"RISKWATCH_SMTP_PORT": "70000"},
        {"RISKWATCH_SMTP_STARTTLS": "1", "RISKWATCH_SMTP_SSL": "1"},
    ],
)
def test_settings_from_env_rejects_bad_values(env):
    with pytest.raises(ValueError):
        SmtpSettings.from_env({"RISKWATCH_SMTP_HOST": "mx", **env})


def test_settings_repr_hides_password():
    settings = SmtpSettings.from_env(
        {"RISKWATCH_SMTP_HOST": "mx", "RISKWATCH_SMTP_USER": "u", "RISKWATCH_SMTP_PASSWORD": PASSWORD}
    )
    assert settings.password == PASSWORD
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert "user='u'" in repr(settings)
