"""The weekly report's map: the week's incidents over country and admin-1 borders, as an inline PNG.

Offline by construction: the borders are the vendored Natural Earth file (reports/boundaries.py), the
picture is drawn by matplotlib (Agg) and embedded as a data: URI, so the report needs no tiles and no
network to be read. Points are sized by fatalities and coloured by the incident's first mission tag.
The PNG carries no timestamp, so the same week gives the same bytes (the report's sha256 decides re-sending).
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from reports.boundaries import Boundaries, Unit, load

INK, MUTED = "#1f2937", "#6b7280"
UNTAGGED = "#64748b"
TAG_COLOURS = ["#b91c1c", "#1d4ed8", "#c2410c", "#7c3aed", "#0f766e", "#be185d", "#a16207"]
STYLE = {"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
         "font.size": 8, "text.parse_math": False}
PAD_DEG = 1.5
FALLBACK_FRAME = (60.0, 78.0, 23.0, 38.0)        # Pakistan, when no watched country has borders
SIZE_LEGEND = (1, 10, 50)


@dataclass
class IncidentMap:
    png: bytes
    figure: Figure
    drawn: list[dict]             # the incidents in the order of the scatter's points, with their admin-1 unit
    extent: tuple[float, float, float, float]
    unplaced: list[dict]          # incidents without coordinates (not drawn)

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def unit_path(unit: Unit) -> MplPath:
    """One compound path of every ring of the unit (holes cut out by the even-odd rule of the rings)."""
    verts, codes = [], []
    for polygon in unit.polygons:
        for ring in polygon:
            verts += ring + [ring[0]]
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(ring) - 1) + [MplPath.CLOSEPOLY]
    return MplPath(np.asarray(verts, dtype=float), codes)


def marker_size(fatalities: int | None) -> float:
    """Marker area in points^2: area grows with fatalities (a 0-fatality event stays visible)."""
    return 24.0 + 22.0 * math.sqrt(max(int(fatalities or 0), 0))


def _extent(b: Boundaries, events: list[dict], watched: list[str]) -> tuple[float, float, float, float]:
    """The first watched country and every admin-1 unit with an incident this week (its points too), padded."""
    units = [u for u in b.admin1 if u.iso3 in watched[:1]]
    units += [u for e in events if (u := b.admin1_of(e.get("country_iso3"), e.get("admin1")))]
    pts = [p for u in units for poly in u.polygons for p in poly[0]]
    pts += [[e["longitude"], e["latitude"]] for e in events]
    allp = np.asarray(pts, dtype=float).reshape(-1, 2)
    if not len(allp):
        return FALLBACK_FRAME
    (x0, y0), (x1, y1) = allp.min(axis=0), allp.max(axis=0)
    return x0 - PAD_DEG, x1 + PAD_DEG, y0 - PAD_DEG, y1 + PAD_DEG


def incident_map(events: list[dict], watched: list[str], tag_labels: dict[str, str],
                 boundaries: Boundaries | None = None) -> IncidentMap:
    """Draw `events` (dicts with longitude, latitude, fatalities, tags, country_iso3, admin1)."""
    b = boundaries or load()
    placed = [e for e in events if e.get("longitude") is not None and e.get("latitude") is not None]
    x0, x1, y0, y1 = _extent(b, placed, watched)

    def first_tag(e: dict) -> str | None:
        return next((t for t in tag_labels if t in (e.get("tags") or [])), None)

    tags = [t for t in tag_labels if any(first_tag(e) == t for e in placed)]     # the colours in use
    colour = {t: TAG_COLOURS[i % len(TAG_COLOURS)] for i, t in enumerate(tag_labels)}     # stable across weeks

    with mpl.rc_context(STYLE):
        ratio = (x1 - x0) * math.cos(math.radians((y0 + y1) / 2)) / (y1 - y0)
        fig = Figure(figsize=(min(max(6.2 * ratio, 5.0), 9.0), 6.2 / 0.93), dpi=130)
        ax = fig.add_axes((0.01, 0.05, 0.98, 0.93))
        ax.set_facecolor("#dbeafe")                          # sea and the world outside the borders
        for c in b.countries:
            ax.add_patch(PathPatch(unit_path(c), facecolor="#ffffff" if c.iso3 in watched else "#eef0f3",
                                   edgecolor="#94a3b8", linewidth=0.6, zorder=1, gid=f"country:{c.iso3}"))
        for u in b.admin1:
            if u.iso3 in watched:
                ax.add_patch(PathPatch(unit_path(u), facecolor="none", edgecolor="#cbd5e1", linewidth=0.45,
                                       zorder=2, gid=f"admin1:{u.iso3}:{u.name}"))
        for c in b.countries:                                # country borders above the admin-1 lines
            if c.iso3 in watched:
                ax.add_patch(PathPatch(unit_path(c), facecolor="none", edgecolor="#475569", linewidth=0.9, zorder=3))
        order = sorted(placed, key=lambda e: -int(e.get("fatalities") or 0))     # big ones under small ones
        drawn = [{**e, "unit": b.admin1_of(e.get("country_iso3"), e.get("admin1"))} for e in order]
        if drawn:
            ax.scatter([e["longitude"] for e in drawn], [e["latitude"] for e in drawn],
                       s=[marker_size(e.get("fatalities")) for e in drawn],
                       c=[colour.get(first_tag(e), UNTAGGED) for e in drawn], alpha=0.78,
                       edgecolors="white", linewidths=0.7, zorder=5, gid="incidents")
        for c in b.countries:
            if c.iso3 in watched:
                ring = np.asarray(max((p[0] for p in c.polygons), key=len), dtype=float)
                cx, cy = ring.mean(axis=0)
                if x0 < cx < x1 and y0 < cy < y1:
                    ax.annotate(c.name.upper(), (cx, cy), ha="center", va="center", fontsize=10, color="#94a3b8",
                                zorder=4, fontweight="bold")
        labelled = {e["unit"].name: e["unit"] for e in drawn if e["unit"]}
        for name, unit in sorted(labelled.items()):
            ring = np.asarray(max((p[0] for p in unit.polygons), key=len), dtype=float)
            cx, cy = ring.mean(axis=0)
            if x0 < cx < x1 and y0 < cy < y1:
                ax.annotate(name, (cx, cy), xytext=(0, -9), textcoords="offset points", ha="center",
                            va="center", fontsize=7, color=INK, zorder=6)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect(1 / math.cos(math.radians((y0 + y1) / 2)))     # equirectangular, true shape mid-map
        ax.set_xticks([])
        ax.set_yticks([])
        handles = [Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=colour[t],
                          markeredgecolor="white", label=tag_labels[t]) for t in tags]
        if any(first_tag(e) is None for e in drawn):
            handles.append(Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=UNTAGGED,
                                  markeredgecolor="white", label="no mission tag"))
        handles += [Line2D([], [], marker="o", linestyle="", markersize=math.sqrt(marker_size(k)),
                           markerfacecolor="none", markeredgecolor=MUTED, label=f"{k} killed") for k in SIZE_LEGEND]
        ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.92, edgecolor="#e5e7eb",
                  labelspacing=0.9, borderpad=0.8)
        fig.text(0.99, 0.015, b.attribution, ha="right", va="bottom", fontsize=5.8, color=MUTED)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    unplaced = [e for e in events if e not in placed]
    return IncidentMap(buf.getvalue(), fig, drawn, (x0, x1, y0, y1), unplaced)
