"""Servers that echo secrets: what they echo never reaches a stored or logged error.

A real HTTP server (http.server) plays an ACLED auth endpoint that echoes the form body it received; a real
aiosmtpd server answers AUTH by echoing the AUTH line (base64 credentials). The errors riskwatch raises,
logs and stores (notifications.last_error) must hold none of the secrets, in any encoding.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from alerts.lifecycle import evaluate_alerts
from publish.mail import DeliveryError, SmtpSettings, build_message, send_smtp
from tests.alerts.test_lifecycle import (  # noqa: F401 (the fixtures incidents and incidents_warehouse)
    AS_OF,
    DEFS,
    NOW,
    Q4,
    incidents,
    incidents_warehouse,
    put_quarters,
    settings_for,
)
from tests.smtp_server import free_port
from warehouse.redact import redact
from warehouse.sources.acled_api import AcledApiError, AcledClient, AcledCredentials

EMAIL, PASSWORD = "analyst+risk@example.org", "p@ss w0rd&=%!"
SMTP_USER, SMTP_PASSWORD = "alerts@example.org", "s3cret/pw+x"


def forms(*secrets: str) -> list[str]:
    """Every way the tests' servers could echo the secrets (checked independently of redact's own list)."""
    out = []
    for s in secrets:
        out += [s, urllib.parse.quote(s, safe=""), urllib.parse.quote_plus(s), base64.b64encode(s.encode()).decode()]
    if len(secrets) == 2:
        out.append(base64.b64encode(f"\0{secrets[0]}\0{secrets[1]}".encode()).decode())
    return out


def assert_clean(text: str, *secrets: str) -> None:
    found = [f for f in forms(*secrets) if f in text]
    assert not found, f"secret forms {found} in {text!r}"


@pytest.mark.parametrize("text", [
    f"invalid_request: {urllib.parse.urlencode({'username': EMAIL, 'password': PASSWORD})}",
    json.dumps({"error": "invalid_grant", "received": {"username": EMAIL, "password": PASSWORD}}),
    f"535 5.7.8 bad AUTH PLAIN {base64.b64encode(f'{chr(0)}{EMAIL}{chr(0)}{PASSWORD}'.encode()).decode()}",
    f"535 rejected {base64.b64encode(f'{chr(0)}{EMAIL}{chr(0)}{PASSWORD}'.encode()).decode()}",
    f"334 {base64.b64encode(PASSWORD.encode()).decode()}",
    f"Authorization: Bearer abcdef.{PASSWORD}",
])
def test_redact_masks_every_encoding_of_known_secrets(text):
    cleaned = redact(text, (EMAIL, PASSWORD))
    assert_clean(cleaned, EMAIL, PASSWORD)
    assert "***" in cleaned


def test_redact_masks_credential_fields_of_unknown_values_and_leaves_plain_text():
    assert redact("username=bob%40x.org&password=hunter2&grant_type=password") == (
        "username=***&password=***&grant_type=password")
    assert redact('{"refresh_token": "abc\\"def", "ok": 1}') == '{"refresh_token": "***", "ok": 1}'
    plain = "SMTP 127.0.0.1:25 refused: [Errno 111] Connection refused; 3 of 9 rows fail"
    assert redact(plain) == plain and redact(None) == ""


class _EchoForm(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server hook name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        answer = json.dumps({"error": "invalid_request", "error_description": f"cannot parse body {body}"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def test_acled_auth_server_echoing_the_form_body_leaks_nothing(caplog):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoForm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = AcledClient(f"http://127.0.0.1:{server.server_address[1]}", AcledCredentials(EMAIL, PASSWORD),
                             max_retries=0, min_interval_s=0)
        with caplog.at_level(logging.DEBUG), pytest.raises(AcledApiError) as raised:
            list(client.iter_events(["Pakistan"]))
    finally:
        server.shutdown()
        server.server_close()
    message = str(raised.value)
    assert "ACLED auth refused: HTTP 400" in message and "cannot parse body" in message   # the echo arrived
    assert_clean(message, EMAIL, PASSWORD)
    assert_clean(caplog.text, EMAIL, PASSWORD)


class _EchoAuth(SMTP):
    async def smtp_AUTH(self, arg):  # noqa: N802 (aiosmtpd hook name)
        await self.push(f"535 5.7.8 Authentication failed for: AUTH {arg}")


class _EchoController(Controller):
    def factory(self):
        return _EchoAuth(self.handler, **self.SMTP_kwargs)


class _Accept:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        return "250 OK"


@pytest.fixture
def echo_smtp():
    port = free_port()
    controller = _EchoController(_Accept(), hostname="127.0.0.1", port=port, auth_require_tls=False,
                                 authenticator=lambda *args: None)
    controller.start()
    yield port
    controller.stop()


def test_smtp_server_echoing_auth_lines_leaks_nothing_into_the_error(echo_smtp):
    message = build_message("subject", "riskwatch@example.org", "desk@example.org", "text")
    with pytest.raises(DeliveryError) as raised:
        send_smtp(message, SmtpSettings("127.0.0.1", echo_smtp, user=SMTP_USER, password=SMTP_PASSWORD))
    assert "535 5.7.8 Authentication failed for: AUTH" in str(raised.value)
    assert_clean(str(raised.value), SMTP_USER, SMTP_PASSWORD)


def test_notifications_last_error_holds_no_smtp_credentials(incidents, echo_smtp, caplog):  # noqa: F811
    put_quarters(incidents, {Q4: 2})
    settings = settings_for(echo_smtp, RISKWATCH_SMTP_USER=SMTP_USER, RISKWATCH_SMTP_PASSWORD=SMTP_PASSWORD)
    with caplog.at_level(logging.DEBUG):
        run = evaluate_alerts(incidents, AS_OF, settings, now=NOW, definitions=DEFS)
    (status, error), = incidents.execute("SELECT status, last_error FROM notifications").fetchall()
    assert status == "pending" and "AUTH" in error
    # Our logs, not the test server's own ("mail.log" is aiosmtpd logging what it echoes).
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))
    for text in (error, " ".join(run.errors), ours):
        assert_clean(text, SMTP_USER, SMTP_PASSWORD)
