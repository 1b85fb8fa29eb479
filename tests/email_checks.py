"""Checks an email must pass to work in a mail client: parsed with Python's email package, every cid:
image the HTML references is a part of the message, and the HTML renders in headless Chromium."""

from __future__ import annotations

import re
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

CID = re.compile(r"""src=["']cid:([^"']+)["']""")


def inline_images(msg: EmailMessage) -> dict[str, bytes]:
    """{content id: bytes} of the parts inside the HTML's multipart/related."""
    html = msg.get_body(("html",))
    related = next((p for p in msg.walk() if p.get_content_type() == "multipart/related"), None)
    assert related is not None and html in related.get_payload(), "the HTML is not multipart/related"
    return {p["Content-ID"].strip("<>"): p.get_payload(decode=True) for p in related.iter_parts()
            if p["Content-ID"]}


def check_cids(msg: EmailMessage) -> tuple[str, dict[str, bytes]]:
    """The HTML and its images; fails when the HTML references a cid: that is not a part, or loads
    anything from outside."""
    html = msg.get_body(("html",)).get_content()
    images = inline_images(msg)
    wanted = CID.findall(html)
    assert wanted, "no inline image referenced"
    missing = [c for c in wanted if c not in images]
    assert missing == [], f"cid: references without a part: {missing}"
    for cid in wanted:
        assert images[cid][:8] == b"\x89PNG\r\n\x1a\n", f"{cid} is not a PNG"
    assert "<svg" not in html.lower()
    assert not re.search(r"""\bsrc\s*=\s*["']?data:""", html), "a data: image (mail clients drop them)"
    assert not re.search(r"""\bsrc\s*=\s*["']?(https?:)?//""", html), "the HTML loads something from outside"
    return html, images


def render_in_chromium(msg: EmailMessage, out_png: Path, height: int = 2000) -> Path:
    """Screenshot of the email's HTML as a mail client shows it (cid: images resolved to the parts)."""
    from reports.pdf import chromium, chromium_path

    if chromium_path() is None:
        pytest.skip("chromium is not installed")
    html, images = check_cids(msg)
    folder = out_png.parent
    folder.mkdir(parents=True, exist_ok=True)
    for cid, data in images.items():
        (folder / f"{cid.split('@')[0]}.png").write_bytes(data)
    page = folder / (out_png.stem + ".html")
    page.write_text(CID.sub(lambda m: f'src="{m.group(1).split("@")[0]}.png"', html), encoding="utf-8")
    try:
        chromium([f"--screenshot={out_png}", f"--window-size=1000,{height}", "--hide-scrollbars",
                  page.resolve().as_uri()])
    except subprocess.TimeoutExpired:
        pytest.skip("chromium timed out")
    from PIL import Image

    with Image.open(out_png) as image:
        assert image.size == (1000, height)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 100   # not a blank page
    return out_png
