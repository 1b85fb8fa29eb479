"""A real, in-process SMTP server (aiosmtpd) on 127.0.0.1 for delivery tests."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsCert:
    cert_file: Path  # PEM certificate; also serves as the client's CA file (it is self-signed)
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_self_signed_cert(directory: Path) -> TlsCert:
    """Self-signed cert for localhost/127.0.0.1 (EC key: generated in milliseconds)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "riskwatch test SMTP")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        # CA + keyCertSign + key identifiers: lets the cert be its own trust anchor even
        # under OpenSSL's strict X.509 checks (the default from Python 3.13 on).
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TlsCert(cert_file, key_file)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes


@dataclass
class RunningSmtp:
    port: int
    host: str = "127.0.0.1"
    messages: list[Message] = field(default_factory=list)  # parsed DATA, in arrival order
    envelopes: list[Received] = field(default_factory=list)  # envelope + raw DATA, same order
    logins: list[str] = field(default_factory=list)  # users that authenticated successfully

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook name)
        raw = envelope.original_content or envelope.content
        self.envelopes.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw))
        self.messages.append(message_from_bytes(raw, policy=default_policy))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_smtp(
    require_starttls: bool = False,
    auth: tuple[str, str] | None = None,
    tls_cert: TlsCert | None = None,
    *,
    implicit_tls: bool = False,
    **smtp_kwargs: Any,
) -> Iterator[RunningSmtp]:
    """Run an SMTP server on 127.0.0.1:<free port> for the duration of the with-block.

    require_starttls needs tls_cert; auth=(user, password) makes AUTH (PLAIN/LOGIN)
    mandatory and only offered after TLS; implicit_tls serves TLS from the first byte
    (SMTPS). Extra keyword arguments go to aiosmtpd's SMTP class.
    """
    if (require_starttls or implicit_tls) and tls_cert is None:
        raise ValueError("require_starttls/implicit_tls need tls_cert")
    if auth is not None and tls_cert is None:
        raise ValueError("auth is only offered over TLS, so it needs tls_cert")
    context = tls_cert.server_context() if tls_cert else None
    kwargs: dict[str, Any] = {
        "server_hostname": "localhost",  # avoids a slow getfqdn() per connection
        **smtp_kwargs,
    }
    if context is not None and not implicit_tls:
        kwargs.update(tls_context=context, require_starttls=require_starttls)
    if auth is not None:
        user, password = auth

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                user.encode(),
                password.encode(),
            )
            if ok:
                state.logins.append(user)
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)

    # The free port can in theory be taken between probing and binding: retry a few times.
    for attempt in range(5):
        state = RunningSmtp(port=free_port())
        controller = Controller(
            state,
            hostname="127.0.0.1",
            port=state.port,
            ssl_context=context if implicit_tls else None,
            **kwargs,
        )
        try:
            controller.start()
        except OSError:
            if attempt == 4:
                raise
            continue
        break
    try:
        yield state
    finally:
        controller.stop()
