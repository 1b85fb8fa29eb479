"""Date precision: which grains an event's date can be counted in (README "Date precision").

riskwatch's scale (incidents.date_precision) is UCDP GED's date_prec: 1 exact day, 2 within 2-6 days,
3 the week, 4 the month (8-30 days), 5 the year or coarser. ACLED's time_precision and GTD's unknown
day/month are mapped onto it at ingest; NULL means the day is known. A source's date for a coarse
event is a convention (UCDP and GTD put a year-precision event on 1 January), so counting it in that
week would invent a spike: an event counts only in the grains its precision supports.
"""

from __future__ import annotations

# The coarsest precision code each grain accepts: a month-precision event is in its month and quarter
# but in no week; a year-precision one is in no week, month or quarter.
COARSEST = {"week": 3, "month": 4, "quarter": 4}
REASONS = {4: "month precision", 5: "year precision"}


def fits_sql(grain: str, col: str = "date_precision") -> str:
    """SQL: true when an event with precision `col` counts in `grain`."""
    return f"coalesce({col}, 1) <= {COARSEST[grain]}"


def reason_sql(col: str = "date_precision") -> str:
    """SQL: why an event that does not fit a grain was left out of it."""
    return (f"CASE WHEN {col} >= 5 THEN '{REASONS[5]}' WHEN {col} = 4 THEN '{REASONS[4]}' "
            f"ELSE 'date precision ' || {col} END")
