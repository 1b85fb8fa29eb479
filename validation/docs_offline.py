"""Make a GX Data Docs site open offline: the CDN assets its templates load are shipped in this package
(validation/docs_assets, see LICENSES.md there), copied into the site once and linked relatively.

GX 1.24's templates (render/view/templates: page.j2, index_page.j2, js_script_imports.j2, top_navbar.j2)
load Bootstrap, jQuery, Popper, bootstrap-table, the datepicker, Font Awesome and Vega from CDNs and the
logo from S3. Each page is rewritten: every such address to the shipped copy (relative to the page), the
tags of assets we do not ship dropped, SRI attributes removed (they pin the CDN bytes and block file://).
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

VENDOR = "static/vendor"
# CDN address (prefix) -> file under docs_assets; None: the tag is dropped (not shipped).
ASSETS: dict[str, str | None] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "js/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "js/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "js/popper.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "css/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "js/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "css/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "css/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "js/bootstrap-table-filter-control.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": None,
    "https://cdn.jsdelivr.net/npm/vega@5": None,
    "https://cdn.jsdelivr.net/npm/vega-lite@5": None,
    "https://cdn.jsdelivr.net/npm/vega-embed@6": None,
}
_LOGO = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"   # GX ships the same files locally
_TAG = re.compile(r"<(link|script)\b[^>]*?(?:href|src)=\"(https?://[^\"]+)\"[^>]*>(?:\s*</script>)?", re.S)
_SRI = re.compile(r"\s+(?:integrity|crossorigin)=\"[^\"]*\"")
_IMAGE = re.compile(r"static/images/([A-Za-z0-9_.-]+)")
REMOTE_ASSET = re.compile(r"<(?:link|script|img)\b[^>]*?(?:href|src)=\"https?://", re.S)


def _ship(site: Path) -> None:
    source = resources.files("validation").joinpath("docs_assets")
    for sub in ("css", "js", "webfonts"):
        target = site / VENDOR / sub
        target.mkdir(parents=True, exist_ok=True)
        for entry in source.joinpath(sub).iterdir():
            dest = target / entry.name
            data = entry.read_bytes()
            if not dest.exists() or dest.stat().st_size != len(data):
                dest.write_bytes(data)


def _rewrite(html: str, to_site: str) -> str:
    def tag(match: re.Match) -> str:
        url = match.group(2)
        if url not in ASSETS:
            raise ValueError(f"Data Docs load an asset that is not shipped: {url} (add it to docs_offline.ASSETS)")
        local = ASSETS[url]
        return "" if local is None else _SRI.sub("", match.group(0).replace(url, f"{to_site}{VENDOR}/{local}"))

    html = _TAG.sub(tag, html)
    return html.replace(_LOGO, f"{to_site}static/images/")


def make_offline(site: str | Path) -> int:
    """Ship the assets into `site` and rewrite every page of it; the number of pages rewritten.

    ValueError when a page loads a remote asset this module does not know (a GX upgrade changed them).
    """
    site = Path(site)
    _ship(site)
    pages, used = 0, set()
    for page in site.rglob("*.html"):
        if VENDOR in page.as_posix():
            continue
        html = page.read_text(encoding="utf-8")
        to_site = os.path.relpath(site, page.parent).replace(os.sep, "/") + "/"
        offline = _rewrite(html, "" if to_site == "./" else to_site)
        if REMOTE_ASSET.search(offline):
            raise ValueError(f"{page}: still loads a remote asset after rewriting")
        used.update(_IMAGE.findall(offline))
        if offline != html:
            page.write_text(offline, encoding="utf-8")
            pages += 1
    # GX copies 3.4 MB of tutorial images into every site; only the logo and favicon are shown.
    for image in (site / "static" / "images").glob("*"):
        if image.is_file() and image.name not in used:
            image.unlink()
    return pages

