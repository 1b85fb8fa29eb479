"""Rendering helpers shared by the alert email and the weekly report: one Jinja setup, safe links."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined


def environment(package: str) -> Environment:
    """Jinja2 over `<package>/templates`: HTML templates (*.html, *.html.j2) autoescaped, text ones not;
    a name a template uses but the context lacks is an error, never an empty string."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=lambda name: bool(name and name.endswith((".html", ".html.j2"))),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )


def safe_url(url: Any) -> str | None:
    """A web link (http/https with a host) as given, else None: a javascript: or data: URL from a source
    file must never become clickable."""
    if not url or not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None
