"""The one chart library of riskwatch (matplotlib): a series' values as bars with axes, thresholds as
dashed lines and alerts as diamonds, as inline SVG (the report file) or PNG (emails: mail clients strip
SVG, so the report email and the alert email embed PNGs as Content-ID parts).

SVG: text stays text (svg.fonttype 'none') with a generic sans-serif fallback, and ids are salted with
a constant, so the same data always gives byte-identical SVG (the report's sha256 decides re-sending).
Anything with the fields of ChartPanel can be drawn: the report's IndicatorPanel, the alert's chart.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator


class ChartPanel(Protocol):
    name: str
    unit: str
    grain: str
    periods: list[dt.date]
    period_ends: list[dt.date]
    series: dict[str, list[float | None]]   # None: no data (no source covers the period), drawn as a gap
    baseline: dict[str, list[float | None]]
    surge: dict[str, list[float | None]]
    thresholds: list[dict]       # {"value", "severity", "label"}
    alerts: list[dict]           # {"period_start", "series", "value", "severity", "status"}


@dataclass
class SeriesChart:
    """A chart that is not a report panel (the alert email's): the same fields, nothing else."""

    name: str
    unit: str
    grain: str
    periods: list[dt.date]
    period_ends: list[dt.date]
    series: dict[str, list[float | None]]
    thresholds: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    baseline: dict[str, list[float | None]] = field(default_factory=dict)
    surge: dict[str, list[float | None]] = field(default_factory=dict)

INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"
NO_DATA, NO_DATA_EDGE = "#f3f4f6", "#d1d5db"
BAR, BAR_WEEK = "#9fb3c8", "#1e3a5f"
SEVERITY = {"warning": "#d97706", "critical": "#b91c1c"}
PALETTE = ["#1e3a5f", "#c2410c", "#0f766e", "#7c3aed", "#be185d", "#4d7c0f", "#0369a1", "#a16207"]
STYLE = {
    "svg.fonttype": "none",
    "text.parse_math": False,          # series names come from the data: a '$' is text, not TeX
    "svg.hashsalt": "riskwatch-weekly-report",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 8.5,
    "axes.edgecolor": "#9ca3af",
    "axes.labelcolor": INK,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _labels(periods: list[dt.date], grain: str) -> list[str]:
    """Tick labels; the year under the first one and wherever a new year starts."""
    out, year = [], None
    for p in periods:
        new_year = p.isocalendar()[0] if grain == "week" else p.year
        if grain == "quarter":
            text = f"Q{(p.month - 1) // 3 + 1}"
        elif grain == "month":
            text = p.strftime("%b")
        else:
            text = f"{p.day} {p.strftime('%b')}"
        out.append(text + (f"\n{new_year}" if new_year != year else ""))
        year = new_year
    return out


def panel_svg(panel: ChartPanel, week_end: dt.date, current_label: str = "period of the report week") -> str:
    """The panel as inline SVG (see _figure)."""
    with mpl.rc_context(STYLE):
        fig = _figure(panel, week_end, current_label)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return _inline(buf.getvalue(), panel.name)


def panel_png(panel: ChartPanel, week_end: dt.date, current_label: str = "period of the report week",
              dpi: int = 110) -> bytes:
    """The panel as PNG bytes (see _figure): what emails embed, since mail clients strip SVG."""
    with mpl.rc_context(STYLE):
        fig = _figure(panel, week_end, current_label)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


def _gaps(panel: ChartPanel) -> list[tuple[int, int]]:
    """Runs [first, last] of periods where no shown series has data (value None: no source covers them)."""
    empty = [all(v[i] is None for v in panel.series.values()) for i in range(len(panel.periods))]
    runs, start = [], None
    for i, gap in enumerate([*empty, False]):
        if gap and start is None:
            start = i
        elif not gap and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def _draw_gaps(ax, gaps: list[tuple[int, int]], handles: list) -> None:
    """No data is not zero: a labelled grey band where no source covers the period, never a zero bar."""
    for first, last in gaps:
        ax.axvspan(first - 0.5, last + 0.5, facecolor=NO_DATA, edgecolor=NO_DATA_EDGE, hatch="\\\\", linewidth=0,
                   zorder=0)
        ax.annotate("no data", ((first + last) / 2, 0.5), xycoords=("data", "axes fraction"), ha="center",
                    va="center", color=MUTED, fontsize=7.5, rotation=90 if last == first else 0)
    if gaps:
        handles.append(Patch(facecolor=NO_DATA, edgecolor=NO_DATA_EDGE, hatch="\\\\",
                             label="no data (no source covers the period)"))


def _figure(panel: ChartPanel, week_end: dt.date, current_label: str) -> Any:
    """The panel's series as bars (grouped when several), thresholds as dashed lines, alerts as diamonds;
    the period holding week_end is highlighted as `current_label`. Call inside rc_context(STYLE)."""
    n = len(panel.periods)
    xs = list(range(n))
    current = next((i for i, e in enumerate(panel.period_ends) if panel.periods[i] <= week_end <= e), n - 1)
    open_period = panel.period_ends[current] > week_end
    handles: list = []
    offsets: dict[str, float] = {}
    fig = Figure(figsize=(8.6, 2.45))        # no pyplot: no global figure registry, safe in worker threads
    ax = fig.add_subplot()
    ax.grid(axis="y", color=GRID, linewidth=0.7)
    ax.set_axisbelow(True)
    top = 0.0
    drawn = {name: [float("nan") if v is None else v for v in values] for name, values in panel.series.items()}
    known = [v for values in panel.series.values() for v in values if v is not None]
    if len(panel.series) == 1:
        [(name, values)] = drawn.items()
        offsets[name] = 0.0
        bars = ax.bar(xs, values, width=0.72, color=[BAR_WEEK if i == current else BAR for i in xs], linewidth=0)
        if open_period:
            bars[current].set_hatch("////")
            bars[current].set_edgecolor("#c7d2fe")
        handles.append(Patch(color=BAR, label=name))
        handles.append(Patch(facecolor=BAR_WEEK, hatch="////" if open_period else None, edgecolor="#c7d2fe",
                             label=current_label + (" (to date)" if open_period else "")))
        top = max(known, default=0.0)
    else:
        ax.axvspan(current - 0.5, current + 0.5, color="#e0ecff", zorder=0, linewidth=0)
        width = 0.84 / len(panel.series)
        for k, (name, values) in enumerate(drawn.items()):
            offsets[name] = (k - (len(panel.series) - 1) / 2) * width
            color = PALETTE[k % len(PALETTE)]
            ax.bar([x + offsets[name] for x in xs], values, width=width * 0.92, color=color, linewidth=0,
                   label=name)
            handles.append(Patch(color=color, label=name))
            top = max(known, default=0.0)
        handles.append(Patch(color="#e0ecff", label=current_label + (" (to date)" if open_period else "")))
    _draw_gaps(ax, _gaps(panel), handles)
    for base in panel.baseline.values():
        if any(v is not None for v in base):
            ax.plot(xs, [v if v is not None else float("nan") for v in base], color=INK, linewidth=1.2,
                    linestyle=(0, (4, 2)))
            handles.append(Line2D([], [], color=INK, linewidth=1.2, linestyle=(0, (4, 2)),
                                  label="12-week baseline"))
            top = max([top] + [v for v in base if v is not None])
    for line in panel.surge.values():
        if any(v is not None for v in line):
            ax.step(xs, [v if v is not None else float("nan") for v in line], where="mid",
                    color=SEVERITY["warning"], linewidth=1.1, linestyle=(0, (1, 1.5)))
            handles.append(Line2D([], [], color=SEVERITY["warning"], linestyle=(0, (1, 1.5)),
                                  label="surge threshold"))
            top = max([top] + [v for v in line if v is not None])
    for t in panel.thresholds:
        color = SEVERITY.get(t["severity"], MUTED)
        ax.axhline(t["value"], color=color, linewidth=1.1, linestyle=(0, (6, 3)), zorder=3)
        ax.annotate(t["label"], (1.0, t["value"]), xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", va="center", ha="left", color=color, fontsize=7.5)
        top = max(top, t["value"])
    index = {p: i for i, p in enumerate(panel.periods)}
    for a in panel.alerts:
        color = SEVERITY.get(a["severity"], MUTED)
        x = index[a["period_start"]] + offsets.get(a["series"], 0.0)
        ax.scatter([x], [a["value"]], s=46, marker="D", zorder=6, linewidths=1.4,
                   facecolors=color if a["status"] == "firing" else "white", edgecolors=color)
        top = max(top, float(a["value"] or 0))
    if panel.alerts:
        handles.append(Line2D([], [], marker="D", linestyle="", markerfacecolor=SEVERITY["critical"],
                              markeredgecolor=SEVERITY["critical"], label="alert (hollow: resolved)"))
    for name, values in panel.series.items():
        if values[current] is not None and (values[current] or len(panel.series) == 1):
            ax.annotate(f"{values[current]:g}", (current + offsets[name], values[current]), xytext=(0, 7),
                        textcoords="offset points", ha="center", va="bottom", color=INK, fontsize=8,
                        fontweight="bold", zorder=7)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(0, max(top * 1.22, 1.0) + 0.1)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    step = 1 if n <= 16 else 2 if n <= 26 else 4
    shown = [i for i in xs if (n - 1 - i) % step == 0]
    ax.set_xticks(shown, _labels([panel.periods[i] for i in shown], panel.grain))
    ax.tick_params(axis="both", length=0, labelsize=7.5)
    ax.set_ylabel(panel.unit, fontsize=8, color=MUTED)
    fig.subplots_adjust(left=0.07, right=0.885, top=0.86, bottom=0.17)
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.065, 1.0), fontsize=7.5, frameon=False,
               ncol=min(len(handles), 5), handlelength=1.6, columnspacing=1.4)
    return fig


def _inline(svg: str, name: str) -> str:
    """Drop the XML prologue and fixed size so the chart scales to the page; label it for screen readers."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
                 rf'<svg\1 class="chart" role="img" aria-label="chart of {name}" preserveAspectRatio="xMidYMid meet"',
                 svg, count=1)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, count=1, flags=re.S)
    # Several charts share one document: ids (clip paths, markers) must be unique across it.
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    svg = re.sub(r'\bid="', f'id="{prefix}-', svg)
    svg = svg.replace("url(#", f"url(#{prefix}-")
    return re.sub(r'(xlink:)?href="#', lambda m: f'{m.group(0)}{prefix}-', svg)
