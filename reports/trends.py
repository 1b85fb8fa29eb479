"""What changed this week, read from the warehouse: per-country trends and the events reported late.

Both read the relations of indicators.asof.prepare (`known`: the incidents as known on the as-of date)
and, for late reports, the current incidents: an event dated in the report week whose records were all
recorded by the source after the as-of date is invisible to the report's counts but real.
"""

from __future__ import annotations

import datetime as dt

from indicators.asof import AsOf
from reports.data import Week, _real_events_sql
from warehouse.db import rows

TREND_MARGIN = 0.25          # an arrow up/down needs this relative change against the 4-week mean (and 2 events)


def country_trends(con, known: AsOf, week: Week, watched: list[str]) -> list[dict]:
    """Per watched country: incidents and fatalities this week and the mean of the 4 weeks before, with an arrow."""
    first = week.start - dt.timedelta(days=28)
    found = rows(con, f"""
        WITH ev AS (SELECT e.k, e.day, e.fatalities, c.country_iso3 FROM ({_real_events_sql(known)}) e
                    JOIN (SELECT event_key AS k, any_value(country_iso3) AS country_iso3 FROM {known.events}
                          GROUP BY 1) c USING (k)
                    WHERE e.day BETWEEN $first AND $end)
        SELECT w.iso3 AS country,
               count(ev.k) FILTER (WHERE ev.day >= $start) AS incidents,
               coalesce(sum(ev.fatalities) FILTER (WHERE ev.day >= $start), 0)::BIGINT AS fatalities,
               count(ev.k) FILTER (WHERE ev.day < $start) / 4 AS incidents_mean4,
               coalesce(sum(ev.fatalities) FILTER (WHERE ev.day < $start), 0) / 4 AS fatalities_mean4
        FROM {known.watched} w LEFT JOIN ev ON ev.country_iso3 = w.iso3 GROUP BY w.iso3""",
        {"first": first, "start": week.start, "end": week.end})
    order = {c: i for i, c in enumerate(watched)}
    for r in found:
        r["incidents_arrow"] = arrow(r["incidents"], r["incidents_mean4"])
        r["fatalities_arrow"] = arrow(r["fatalities"], r["fatalities_mean4"])
    return sorted(found, key=lambda r: order.get(r["country"], len(order)))


def arrow(now: float, mean: float) -> str:
    """'up', 'down' or 'flat': up/down only for a change of at least TREND_MARGIN and of at least 2."""
    if abs(now - mean) >= 2 and (mean == 0 or abs(now - mean) / mean >= TREND_MARGIN):
        return "up" if now > mean else "down"
    return "flat"


def late_reports(con, known: AsOf, week: Week) -> dict:
    """Real events in the watched countries dated in the week that no record known on the as-of date covers:
    {n, fatalities, events: [{event_date, location, admin1, fatalities, recorded, first_ingested}]}."""
    found = rows(con, f"""
        WITH cur AS (
            SELECT coalesce(i.duplicate_of, i.incident_id) AS k, i.incident_id, i.event_date, i.location, i.admin1,
                   i.fatalities, i.source_updated_at, i.first_ingested_at
            FROM incidents i
            WHERE i.event_date BETWEEN $start AND $end
              AND i.country_iso3 IN (SELECT iso3 FROM {known.watched})
              AND i.incident_id NOT IN (SELECT incident_id FROM {known.events})),
        late AS (SELECT * FROM cur WHERE k NOT IN (SELECT event_key FROM {known.events})
                                     AND k NOT IN (SELECT incident_id FROM {known.events}))
        SELECT k, min(event_date) AS event_date, arg_min(location, event_date) AS location,
               arg_min(admin1, event_date) AS admin1, max(coalesce(fatalities, 0))::BIGINT AS fatalities,
               CAST(min(source_updated_at) AS DATE) AS recorded, CAST(min(first_ingested_at) AS DATE) AS first_ingested
        FROM late GROUP BY k ORDER BY event_date, k""", {"start": week.start, "end": week.end})
    return {"n": len(found), "fatalities": sum(r["fatalities"] for r in found), "events": found}
