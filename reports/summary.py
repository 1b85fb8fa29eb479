"""The report's top box: what changed this week, in sentences made from the gathered data, and the
analyst's note for the week (a plain-text file, <reports_dir>/notes/<ISO year>-W<week>.txt, optional)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.data import Week


def note_path(reports_dir: Path, week: Week) -> Path:
    return Path(reports_dir) / "notes" / f"{week.label}.txt"


def analyst_note(path: Path) -> list[str]:
    """The note's paragraphs (blank-line separated); [] when there is no note. Shown as text, never markup."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _num(v: float) -> str:
    """As the report's `num` filter shows it: whole numbers plain, others to one decimal."""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def _versus(now: int, mean: float) -> str:
    if mean == 0:
        return "none in the 4 weeks before" if now else "as in the 4 weeks before"
    pct = 100 * (now - mean) / mean
    if abs(pct) < 0.5:
        return f"the same as the 4-week mean ({_num(mean)})"
    return f"{'up' if pct > 0 else 'down'} {abs(pct):.0f}% on the 4-week mean of {_num(mean)}"


def sentences(ctx: dict[str, Any]) -> list[str]:
    """What changed this week, from the numbers the report shows below (nothing here is computed anew)."""
    h, out = ctx["headline"], []
    out.append(f"{_count(h['incidents'], 'incident')} in the watched countries, "
               f"{_versus(h['incidents'], h['incidents_mean4'])}; "
               f"{_count(h['fatalities'], 'death')}, {_versus(h['fatalities'], h['fatalities_mean4'])}.")
    names = dict(zip(ctx["watched"], ctx["watched_names"], strict=True))
    moved = [t for t in ctx["trends"] if t["incidents_arrow"] != "flat"]
    for t in moved:
        out.append(f"{names.get(t['country'], t['country'])}: {_count(t['incidents'], 'incident')}, "
                   f"{'more' if t['incidents_arrow'] == 'up' else 'fewer'} than the 4-week mean of "
                   f"{_num(t['incidents_mean4'])}.")
    firing = [a for a in ctx["alerts"] if a["status"] == "firing"]
    if firing:
        listed = "; ".join(f"{a['title']} ({a['series']}, {a['period_label']}: {a['value']:g})" for a in firing[:3])
        out.append(f"{_count(len(firing), 'alert')} firing: {listed}{'; ...' if len(firing) > 3 else ''}.")
    deadly = [i for i in ctx["incidents"] if i["fatalities"]]
    if deadly:
        d = max(deadly, key=lambda i: (i["fatalities"], i["incident_id"]))
        where = ", ".join(x for x in (d["location"], d["admin1"]) if x)
        out.append(f"Deadliest: {where}, {d['event_date']:%d %b}, {_count(d['fatalities'], 'killed', 'killed')}"
                   + (f" ({d['tag_labels'][0]})." if d["tag_labels"] else "."))
    late = ctx["late"]
    if late["n"]:
        out.append(f"{_count(late['n'], 'event')} dated in this week {'was' if late['n'] == 1 else 'were'} recorded "
                   f"after the as-of date ({_count(late['fatalities'], 'death')}); not counted above.")
    stale = [s["source"] for s in ctx["sources"] if s["stale_reasons"]]
    if stale:
        out.append(f"Stale source{'s' if len(stale) > 1 else ''}: {', '.join(stale)} (see Data quality).")
    return out
