"""Periods of the indicator grains (ISO week, month, quarter): where one starts, stepping, labels."""

from __future__ import annotations

import datetime as dt


def period_start(day: dt.date, grain: str) -> dt.date:
    """The first day of the week (Monday), month or quarter holding `day`."""
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def shift(start: dt.date, grain: str, k: int) -> dt.date:
    """The start of the period `k` periods after the one starting at `start` (k may be negative)."""
    if grain == "week":
        return start + dt.timedelta(weeks=k)
    months = start.year * 12 + start.month - 1 + k * (3 if grain == "quarter" else 1)
    return dt.date(months // 12, months % 12 + 1, 1)


def period_start_sql(grain: str, col: str = "event_date") -> str:
    """SQL: the first day of the `grain` period holding `col` (date_trunc: Monday of the ISO week, etc.)."""
    return f"CAST(date_trunc('{grain}', {col}) AS DATE)"


def period_end(start: dt.date, grain: str) -> dt.date:
    return shift(start, grain, 1) - dt.timedelta(days=1)


def period_label(grain: str, start: dt.date | str) -> str:
    """2024-Q4, 2024-11, 2024-W45 (ISO week)."""
    start = dt.date.fromisoformat(start) if isinstance(start, str) else start
    if grain == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if grain == "month":
        return f"{start:%Y-%m}"
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"
