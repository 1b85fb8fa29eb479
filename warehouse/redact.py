"""Secrets out of every error text riskwatch stores or logs.

Servers echo what they were sent: an OAuth endpoint its form body (URL-encoded), an SMTP server the
`AUTH PLAIN <base64>` line. So an error is cleaned twice: known secret values in every encoding a server
may echo them in (raw, URL-encoded, JSON/HTML-escaped, base64, SASL PLAIN), and credential-shaped
fragments whatever their value (password=..., "token": "...", AUTH lines, Bearer/Basic credentials).
Every place that stores an error (ingest_runs, notifications, reports) or logs one uses `redact`.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import re
import urllib.parse
from collections.abc import Iterable

MASK = "***"
# Secrets shorter than this would mangle ordinary words when replaced; the patterns below still apply.
_MIN_SECRET = 4
_KEYS = (r"password|passwd|pwd|pass|secret|client_secret|token|access_token|refresh_token|id_token|api_?key|"
         r"username|user|email|login|credentials?")
_PATTERNS = [
    # form bodies and query strings: password=..., username=... (up to & or whitespace)
    (re.compile(rf"(?i)(\b(?:{_KEYS})=)[^&\s\"'<>]+"), rf"\g<1>{MASK}"),
    # JSON and Python reprs: "password": "...", 'token': '...'
    (re.compile(rf"(?i)([\"'](?:{_KEYS})[\"']\s*:\s*)([\"'])(?:\\.|(?!\2).)*\2"), rf"\g<1>\g<2>{MASK}\g<2>"),
    # SMTP/IMAP SASL: AUTH PLAIN <base64>, AUTH LOGIN <base64>, ...
    (re.compile(r"(?i)\b(AUTH\s+(?:PLAIN|LOGIN|XOAUTH2|OAUTHBEARER|CRAM-MD5|DIGEST-MD5))\s+\S+"), rf"\g<1> {MASK}"),
    # HTTP credentials: Authorization: Bearer <token> / Basic <base64>
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\g<1> {MASK}"),
]


def _encodings(secret: str) -> set[str]:
    b64 = base64.b64encode(secret.encode()).decode()
    return {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret), urllib.parse.quote(secret),
            html.escape(secret), json.dumps(secret)[1:-1], b64, b64.rstrip("=")}


def _sasl(user: str, password: str) -> set[str]:
    """base64 of the SASL PLAIN message (authzid NUL authcid NUL password), with and without authzid."""
    return {base64.b64encode(f"{authz}\0{user}\0{password}".encode()).decode() for authz in ("", user)}


def redact(text: str | None, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every known secret (in any of its encodings) and every credential-shaped fragment masked."""
    if not text:
        return text or ""
    known = [s for s in dict.fromkeys(secrets) if s and len(s) >= _MIN_SECRET]
    variants: set[str] = set()
    for secret in known:
        variants |= _encodings(secret)
    for user, password in itertools.permutations(known, 2):
        variants |= _sasl(user, password)
    for variant in sorted(variants, key=len, reverse=True):
        if len(variant) >= _MIN_SECRET:
            text = text.replace(variant, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
