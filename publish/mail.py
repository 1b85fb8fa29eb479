"""Delivery of riskwatch alert and report emails: SMTP when configured, an .eml outbox otherwise."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as _default_policy
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path

from riskwatch.settings import DEFAULT_SENDER, sender
from warehouse.atomic import atomic_file
from warehouse.redact import redact

log = logging.getLogger(__name__)

# 7bit makes non-ASCII bodies go out as quoted-printable/base64, so delivery never
# depends on the relay supporting 8BITMIME.
_POLICY = _default_policy.clone(cte_type="7bit")
# C0/C1 controls plus the Unicode line/paragraph separators some mail clients honour.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
_BOOLS = dict.fromkeys(("1", "true", "yes", "on"), True) | dict.fromkeys(
    ("0", "false", "no", "off", ""), False
)


class DeliveryError(Exception):
    """The only error send_smtp raises; its message is one line and never holds the password."""


def _env_bool(environ: Mapping[str, str], key: str) -> bool:
    raw = environ.get(key, "").strip().lower()
    if raw not in _BOOLS:
        raise ValueError(f"{key} must be one of true/false/1/0/yes/no, got {raw!r}")
    return _BOOLS[raw]


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False
    mail_from: str = DEFAULT_SENDER
    timeout: float = 30
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.starttls and self.ssl:
            raise ValueError("SMTP STARTTLS and implicit SSL are mutually exclusive")
        if not 0 < self.port < 65536:
            raise ValueError(f"SMTP port out of range: {self.port}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SmtpSettings | None:
        """Settings from RISKWATCH_SMTP_* / RISKWATCH_MAIL_FROM, or None (outbox mode) without a host."""
        host = environ.get("RISKWATCH_SMTP_HOST", "").strip()
        if not host:
            return None
        starttls = _env_bool(environ, "RISKWATCH_SMTP_STARTTLS")
        use_ssl = _env_bool(environ, "RISKWATCH_SMTP_SSL")
        raw_port = environ.get("RISKWATCH_SMTP_PORT", "").strip()
        try:
            port = int(raw_port) if raw_port else 587 if starttls else 465 if use_ssl else 25
        except ValueError:
            raise ValueError(f"RISKWATCH_SMTP_PORT must be an integer, got {raw_port!r}") from None
        return cls(
            host=host,
            port=port,
            user=environ.get("RISKWATCH_SMTP_USER") or None,
            password=environ.get("RISKWATCH_SMTP_PASSWORD") or None,
            starttls=starttls,
            ssl=use_ssl,
            mail_from=sender(environ),
            ca_file=environ.get("RISKWATCH_SMTP_CA_FILE") or None,
        )


def safe_header(value: object, max_len: int = 200) -> str:
    """One-line header text: controls removed, whitespace collapsed, at most max_len chars."""
    text = " ".join(_CONTROL.sub(" ", str(value)).split())
    if len(text) > max_len:
        text = text[: max(max_len - 1, 0)].rstrip() + "…"
    return text


def _addresses(value: str | Iterable[str]) -> list[Address]:
    # A plain string may list several recipients; each item of a list must be exactly one,
    # so a comma there is an attempt to smuggle in an extra recipient.
    items = [value] if isinstance(value, str) else list(value)
    result = []
    for item in items:
        if not isinstance(item, str) or _CONTROL.search(item):
            raise ValueError(f"invalid email address {item!r}")
        for name, addr in getaddresses([item]):
            if "," in name + addr or ("," in item and not isinstance(value, str)):
                raise ValueError(f"one address without commas expected, got {item!r}")
            try:
                address = Address(display_name=name, addr_spec=addr)
            except (ValueError, IndexError, HeaderParseError) as exc:
                raise ValueError(f"invalid email address {item!r}: {exc}") from None
            if not address.username or not address.domain:
                raise ValueError(f"invalid email address {item!r}")
            result.append(address)
    if not result:
        raise ValueError("no email address given")
    return result


def build_message(
    subject: str,
    sender: str,
    recipients: str | Iterable[str],
    text: str,
    html: str | None = None,
    attachments: Iterable[tuple[str, bytes, str]] = (),
    inline: Iterable[tuple[str, bytes, str]] = (),
) -> EmailMessage:
    """Text (+ optional HTML alternative) message; attachments are (filename, bytes, mimetype); inline are
    (content_id, bytes, mimetype) parts of the HTML (multipart/related) that it shows as <img src="cid:ID">:
    mail clients load nothing from outside and strip SVG, so charts travel as inline PNG."""
    senders = _addresses(sender)
    if len(senders) != 1:
        raise ValueError(f"exactly one sender expected, got {sender!r}")
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = safe_header(subject)
    msg["From"] = senders[0]
    msg["To"] = _addresses(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=senders[0].domain)
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
        html_part = msg.get_payload()[-1]
        for cid, data, mimetype in inline:
            maintype, _, subtype = mimetype.partition("/")
            if maintype != "image" or not re.fullmatch(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+", cid):
                raise ValueError(f"invalid inline part {cid!r} ({mimetype})")
            html_part.add_related(bytes(data), maintype=maintype, subtype=subtype, cid=f"<{cid}>",
                                  disposition="inline", filename=cid.split("@")[0] + "." + subtype)
    elif inline:
        raise ValueError("inline images need an HTML body")
    for filename, data, mimetype in attachments:
        maintype, _, subtype = mimetype.partition("/")
        if not maintype or not subtype or _CONTROL.search(mimetype):
            raise ValueError(f"invalid attachment mimetype {mimetype!r}")
        # Path separators would let a naive client save outside its download folder.
        name = safe_header(filename, 150).replace("/", "_").replace("\\", "_")
        msg.add_attachment(bytes(data), maintype=maintype, subtype=subtype, filename=name)
    return msg


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "all recipients refused: " + "; ".join(
            f"{rcpt} ({code} {err.decode(errors='replace')})" for rcpt, (code, err) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        err = exc.smtp_error
        return f"{exc.smtp_code} {err.decode(errors='replace') if isinstance(err, bytes) else err}"
    if isinstance(exc, UnicodeError):
        # The codec message quotes the offending text, which may be part of the password.
        return "non-ASCII data the server cannot accept"
    return str(exc) or type(exc).__name__


def send_smtp(message: EmailMessage, settings: SmtpSettings) -> None:
    """Send via SMTP (implicit TLS, STARTTLS or plain); any failure becomes a DeliveryError."""
    where = f"{settings.host}:{settings.port}"
    stage = f"TLS setup failed (ca_file={settings.ca_file!r})" if settings.ca_file else "TLS setup failed"
    client: smtplib.SMTP | None = None
    try:
        context = None
        if settings.ssl or settings.starttls:
            context = ssl.create_default_context(cafile=settings.ca_file)
        stage = "connect failed"
        if settings.ssl:
            client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.starttls:
            stage = "STARTTLS failed"
            client.starttls(context=context)
        if settings.user:
            stage = "login failed"
            client.login(settings.user, settings.password or "")
        stage = "send failed"
        refused = client.send_message(message)
        # The server has accepted the mail: a failing QUIT must not turn it into an error.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()
    except (smtplib.SMTPException, OSError, UnicodeError, ValueError) as exc:
        if isinstance(exc, ConnectionRefusedError):
            stage = "refused"
        # A server may echo what it was sent (AUTH PLAIN <base64>): redact before anything stores it.
        reason = safe_header(redact(f"SMTP {where} {stage}: {_reason(exc)}", (settings.user, settings.password)), 500)
        raise DeliveryError(reason) from None
    finally:
        if client is not None:
            client.close()  # no QUIT on failure: a half-open session could stall for the timeout
    if refused:
        # Accepted recipients already have the mail; retrying would duplicate it for them.
        raise DeliveryError(f"SMTP {where} refused some recipients: {', '.join(sorted(refused))}")
    log.info("sent %r via %s", message["Subject"], where)


def write_outbox(message: EmailMessage, outbox_dir: str | os.PathLike[str], name: str) -> Path:
    """Write message to outbox_dir/<safe name>.eml atomically; the same name overwrites."""
    directory = Path(outbox_dir)
    directory.mkdir(parents=True, exist_ok=True)
    stem = _UNSAFE_FILENAME.sub("_", name).strip("._")[:120] or "message"
    target = directory / (stem if stem.endswith(".eml") else f"{stem}.eml")
    with atomic_file(target, "wb") as fh:   # readers globbing *.eml never see a half-written file
        fh.write(message.as_bytes())
    log.info("wrote %r to %s", message["Subject"], target)
    return target


def deliver(
    message: EmailMessage, *, settings: SmtpSettings | None, outbox_dir: str | os.PathLike[str], name: str
) -> str:
    """SMTP when settings are given, else the outbox; returns 'smtp:<host>' or 'outbox:<path>'."""
    if settings is None:
        return f"outbox:{write_outbox(message, outbox_dir, name)}"
    send_smtp(message, settings)
    return f"smtp:{settings.host}"
