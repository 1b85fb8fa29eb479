"""What the weekly report shows, read from the public views with plain SQL (no rendering here).

Every reader tolerates an empty warehouse (and an `alerts` view that does not exist yet) and returns
empty lists, so the report of a fresh warehouse says "nothing" instead of failing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import duckdb

from indicators import why
from indicators.asof import AsOf
from publish.render import safe_url
from warehouse.db import rows

log = logging.getLogger(__name__)

NON_VIOLENT = ("Protests", "Riots", "Strategic developments")
ALERT_COLUMNS = ("alert_id, indicator, series, period_start, severity, rule, value, threshold, status, "
                 "first_seen_at, last_seen_at, notified_at")
DEADLIEST = 5                                           # untagged incidents added to the notable ones


@dataclass(frozen=True)
class Week:
    start: dt.date
    end: dt.date

    @property
    def iso_year(self) -> int:
        return self.start.isocalendar()[0]

    @property
    def iso_week(self) -> int:
        return self.start.isocalendar()[1]

    @property
    def label(self) -> str:
        return f"{self.iso_year}-W{self.iso_week:02d}"


def report_week(as_of: dt.date) -> Week:
    """The last complete ISO week on or before `as_of` (a week is complete on its Sunday)."""
    end = as_of if as_of.weekday() == 6 else as_of - dt.timedelta(days=as_of.weekday() + 1)
    return Week(end - dt.timedelta(days=6), end)


def has_column(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
        [relation, column]).fetchone()[0])


# -- alerts -------------------------------------------------------------------------------------------

def read_alerts(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """One row per alerted value (indicator, series, grain, period), the rule with the highest standing:
    firing before silenced before resolved, critical before warning. [] while there is no alerts view."""
    extra = ", grain" if has_column(con, "alerts", "grain") else ", CAST(NULL AS VARCHAR) AS grain"
    try:
        found = rows(con, f"SELECT {ALERT_COLUMNS}{extra} FROM alerts ORDER BY period_start, indicator, series")
    except duckdb.CatalogException:
        log.info("no alerts view yet: the report treats it as no alerts")
        return []
    best: dict[tuple, dict[str, Any]] = {}
    for a in found:
        key = (a["indicator"], a["series"], a["grain"], a["period_start"])
        if key not in best or _standing(a) < _standing(best[key]):
            best[key] = a
    return list(best.values())


def _standing(a: dict[str, Any]) -> tuple:
    return ({"firing": 0, "silenced": 1}.get(a["status"], 2), {"critical": 0, "warning": 1}.get(a["severity"], 2),
            -(a["last_seen_at"] or dt.datetime.min).timestamp() if a["last_seen_at"] else 0)


def week_alerts(alerts: list[dict], week: Week, since: dt.date, as_of: dt.date) -> list[dict]:
    """Alerts firing or silenced now, plus those first or last seen within the reporting window."""
    lo = dt.datetime.combine(since + dt.timedelta(days=1), dt.time())
    hi = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())

    def recent(ts: dt.datetime | None) -> bool:
        return ts is not None and lo <= ts < hi

    chosen = [a for a in alerts if a["period_start"] <= week.end and (
        a["status"] in ("firing", "silenced") or recent(a["first_seen_at"]) or recent(a["last_seen_at"]))]
    return sorted(chosen, key=lambda a: (*_standing(a)[:2], a["indicator"], a["series"], a["period_start"]))


# -- headline -----------------------------------------------------------------------------------------

def _real_events_sql(known: AsOf) -> str:
    """One row per real event in the watched countries, from the incidents as known on the as-of date
    (`known`, see indicators.asof.prepare; records of one event in several sources share its event_key)."""
    return (
        "SELECT event_key AS k, any_value(event_date) AS day, max(coalesce(fatalities, 0)) AS fatalities, "
        f"bool_or(coalesce(event_type, '') NOT IN {NON_VIOLENT!r}) AS violent FROM {known.events} "
        f"WHERE country_iso3 IN (SELECT iso3 FROM {known.watched}) GROUP BY event_key"
    )


def headline(con, known: AsOf, week: Week, alerts: list[dict]) -> dict[str, Any]:
    first = week.start - dt.timedelta(days=28)
    per_week = rows(con,
                    f"SELECT (date_diff('day', $first, day) // 7)::INT AS w, count(*) AS incidents, "
                    f"count(*) FILTER (WHERE violent) AS violent, sum(fatalities)::BIGINT AS fatalities "
                    f"FROM ({_real_events_sql(known)}) WHERE day BETWEEN $first AND $end GROUP BY w",
                    {"first": first, "end": week.end})
    by_w = {r["w"]: r for r in per_week}
    out: dict[str, Any] = {
        "alerts_firing": sum(a["status"] == "firing" for a in alerts),
        "alerts_critical": sum(a["status"] == "firing" and a["severity"] == "critical" for a in alerts),
    }
    for key in ("incidents", "violent", "fatalities"):
        prev = [int(by_w.get(w, {}).get(key) or 0) for w in range(4)]
        now = int(by_w.get(4, {}).get(key) or 0)
        mean = sum(prev) / 4
        out[key] = now
        out[f"{key}_prev"] = prev
        out[f"{key}_mean4"] = round(mean, 2)
        out[f"{key}_change_pct"] = round(100 * (now - mean) / mean, 1) if mean else None
    return out


# -- notable incidents --------------------------------------------------------------------------------

def notable_incidents(con, known: AsOf, week: Week, deadliest: int = DEADLIEST) -> list[dict]:
    """Every real event of the week tagged by a rule (in any source's record of it), plus the deadliest few; `reasons`
    holds each tag row's evidence, confidence and source (indicators/why.py)."""
    found = rows(con, f"""
        WITH wk AS (SELECT k, fatalities FROM ({_real_events_sql(known)}) WHERE day BETWEEN $start AND $end),
        tg AS (SELECT e.event_key AS k, list(DISTINCT t.tag || coalesce(' ' || t.detail, '')) AS tags
               FROM {known.event_tags} t JOIN {known.events} e USING (incident_id) GROUP BY 1),
        picked AS (
            SELECT wk.k, wk.fatalities, list_sort(tg.tags) AS tags FROM wk LEFT JOIN tg USING (k)
            QUALIFY tg.tags IS NOT NULL
                 OR (row_number() OVER (ORDER BY wk.fatalities DESC, wk.k) <= $n AND wk.fatalities > 0))
        SELECT e.incident_id, e.source, e.event_date, e.country, e.admin1, e.admin2, e.location, e.event_type,
               e.sub_event_type, e.actor1, e.actor2, e.assoc_actor_2, p.fatalities, e.notes, e.source_reference,
               e.source_url, coalesce(p.tags, []) AS tags,
               coalesce({why.reasons_sql(known.event_tags, known.events, "e.incident_id", None)}, []) AS reasons,
               (SELECT list(DISTINCT d.source ORDER BY d.source) FROM {known.events} d
                WHERE d.event_key = e.incident_id AND d.incident_id <> e.incident_id) AS also_in
        FROM picked p JOIN {known.events} e ON e.incident_id = p.k
        ORDER BY len(coalesce(p.tags, [])) = 0, e.event_date, p.fatalities DESC, e.incident_id""",
        {"start": week.start, "end": week.end, "n": deadliest})
    for r in found:
        r["source_url"] = safe_url(r["source_url"])
    return found


def week_events(con, known: AsOf, week: Week) -> list[dict]:
    """Every real event of the week in the watched countries, once, with the place of the record that
    represents it (the map draws these): incident_id, event_date, country_iso3, admin1, location, latitude,
    longitude, fatalities, tags (tag names of any source's record of the event)."""
    return rows(con, f"""
        WITH wk AS (SELECT k, fatalities FROM ({_real_events_sql(known)}) WHERE day BETWEEN $start AND $end),
        tg AS (SELECT e.event_key AS k, list_sort(list(DISTINCT t.tag)) AS tags
               FROM {known.event_tags} t JOIN {known.events} e USING (incident_id) GROUP BY 1)
        SELECT e.incident_id, e.event_date, e.country_iso3, e.admin1, e.location, e.latitude, e.longitude,
               wk.fatalities, coalesce(tg.tags, []) AS tags
        FROM wk JOIN {known.events} e ON e.incident_id = wk.k LEFT JOIN tg USING (k)
        ORDER BY wk.fatalities DESC, e.incident_id""", {"start": week.start, "end": week.end})


# -- data quality -------------------------------------------------------------------------------------

def failed_checks(con) -> list[dict]:
    return rows(con, "SELECT suite, check_name, expectation, severity, indicator, source, message, "
                     "observed_value, unexpected_count, element_count, run_at FROM failed_checks "
                     "ORDER BY severity = 'critical' DESC, suite, check_name")


def sources(con, known: AsOf, week: Week, since: dt.date, as_of: dt.date,
            limits: dict[str, dict[str, int | None]]) -> list[dict]:
    """Per source: latest ingest run, newest event known on the as-of date (and the newest dated on or before
    it, counting records that arrived later: what `riskwatch validate` reports), rejections in the window and
    in all; judged stale against the same [freshness] limits as `riskwatch validate`."""
    found = rows(con, f"""
        WITH names AS (SELECT source FROM ingest_runs UNION SELECT source FROM incidents
                       UNION SELECT source FROM rejected_rows),
        last_run AS (SELECT source, file, status, started_at, finished_at, rows_read, inserted, updated, rejected,
                            message
                     FROM ingest_runs WHERE status <> 'skipped'    -- a skipped run (same bytes again) is a no-op
                     QUALIFY row_number() OVER (PARTITION BY source ORDER BY started_at DESC, run_id DESC) = 1),
        ok_run AS (SELECT source, max(finished_at) AS last_success FROM ingest_runs WHERE status = 'success'
                   GROUP BY 1),
        ev AS (SELECT source, max(event_date) AS newest,
                      count(*) FILTER (WHERE event_date BETWEEN $start AND $end) AS in_week
               FROM {known.events} GROUP BY 1),
        dated AS (SELECT source, max(event_date) AS newest_dated FROM incidents WHERE event_date <= $asof GROUP BY 1),
        rej AS (SELECT source, count(*) AS rejected_total,
                       count(*) FILTER (WHERE rejected_at >= $lo AND rejected_at < $hi) AS rejected_window
                FROM rejected_rows GROUP BY 1)
        SELECT n.source, r.file, r.status, r.started_at, r.finished_at, r.rows_read, r.inserted, r.updated,
               r.rejected AS run_rejected, r.message, o.last_success, e.newest, d.newest_dated,
               coalesce(e.in_week, 0) AS in_week,
               coalesce(j.rejected_total, 0) AS rejected_total, coalesce(j.rejected_window, 0) AS rejected_window
        FROM names n LEFT JOIN last_run r USING (source) LEFT JOIN ok_run o USING (source)
        LEFT JOIN ev e USING (source) LEFT JOIN dated d USING (source) LEFT JOIN rej j USING (source)
        ORDER BY n.source""",
        {"start": week.start, "end": week.end, "lo": since + dt.timedelta(days=1),
         "hi": as_of + dt.timedelta(days=1), "asof": as_of})
    ended = coverage_ended(con, as_of)
    for s in found:
        s["days_behind"] = (as_of - s["newest"]).days if s["newest"] else None
        # A closed dataset past its declared end: its coverage ended (a reason of its own, not staleness).
        s["coverage_ended"] = ended.get(s["source"], [])
        s["limit"] = limits.get(s["source"], {}).get("max_event_age_days")
        s["freshness"] = freshness_line(s, as_of)
        reasons = []
        if s["limit"] is not None and (s["days_behind"] is None or s["days_behind"] > s["limit"]):
            reasons.append("no event known on the as-of date" if s["days_behind"] is None else
                           f"newest event {s['days_behind']} days before the as-of date (limit {s['limit']})")
        if s["status"] and s["status"] not in ("success", "skipped"):
            reasons.append(f"latest ingest {s['status']}")
        s["stale_reasons"] = reasons
    return found


def freshness_line(s: dict, as_of: dt.date) -> str:
    """One sentence per source, the same limits as `riskwatch validate` ([freshness] in the settings)."""
    if s["newest"] is None:
        text = f"no event known on {as_of:%d %b %Y}"
    else:
        text = f"newest event known on {as_of:%d %b %Y}: {s['newest']:%d %b %Y}, {s['days_behind']} days before"
    if s["newest_dated"] and s["newest_dated"] != s["newest"]:
        text += f" (newest dated on or before it, recorded later: {s['newest_dated']:%d %b %Y})"
    return text + ("; a closed dataset, not judged by age" if s["limit"] is None else f"; limit {s['limit']} days")


def coverage_ended(con, as_of: dt.date) -> dict[str, list[str]]:
    """source -> ['PAK until 2018-12-31', ...]: static coverage windows that closed before the as-of date."""
    out: dict[str, list[str]] = {}
    for r in rows(con, "SELECT source, country_iso3, end_date FROM source_coverage WHERE basis <> 'loaded (live)' "
                       "AND end_date < ? ORDER BY 1, 2", [as_of]):
        where = "every country" if r["country_iso3"] == "*" else r["country_iso3"]
        out.setdefault(r["source"], []).append(f"{where} until {r['end_date']:%Y-%m-%d}")
    return out


def precision_gaps(con, week: Week) -> list[dict]:
    """Per indicator, grain and reason: events left out of that grain by their date precision, in all and in
    the period holding the report week's end."""
    return rows(con, "SELECT indicator, grain, reason, sum(events) AS events, sum(value) AS value, "
                     "sum(events) FILTER (WHERE period_start = CAST(date_trunc(grain, CAST(? AS DATE)) AS DATE)) "
                     "AS events_now FROM indicator_precision_gaps GROUP BY ALL ORDER BY 1, 2, 3", [week.end])


def revisions(con, since: dt.date, as_of: dt.date) -> list[dict]:
    """Past-period values changed by refreshes with as-of dates in (since, as_of]: newest change per value."""
    return rows(con, """
        SELECT indicator, series, grain, period_start, first(old_value ORDER BY changed_at) AS old_value,
               last(new_value ORDER BY changed_at) AS new_value, max(as_of) AS as_of, count(*) AS changes
        FROM indicator_revisions WHERE as_of > $since AND as_of <= $asof
        GROUP BY ALL HAVING coalesce(first(old_value ORDER BY changed_at), 0)
                            <> coalesce(last(new_value ORDER BY changed_at), 0)
        ORDER BY indicator, grain, series, period_start""", {"since": since, "asof": as_of})


def indicators_as_of(con) -> dict[str, Any]:
    r = rows(con, "SELECT min(as_of) AS oldest, max(as_of) AS newest, count(*) AS n FROM indicator_values")[0]
    return r


def last_loaded(con) -> dt.datetime | None:
    """When an ingest last changed the incidents (the report's 'generated from data loaded at'): a rerun over
    the same data keeps it, so the report keeps its bytes and is not emailed again."""
    return con.execute("SELECT max(finished_at) FROM ingest_runs WHERE status = 'success' "
                       "AND coalesce(inserted, 0) + coalesce(updated, 0) + coalesce(deleted, 0) > 0").fetchone()[0]


def previous_report(con, week: Week) -> dict | None:
    """The newest report of an earlier week (its as-of date starts the revisions window)."""
    try:
        found = rows(con, "SELECT report_id, iso_year, iso_week, as_of, created_at FROM reports "
                          "WHERE week_end < ? ORDER BY week_end DESC, report_id DESC LIMIT 1", [week.start])
    except duckdb.CatalogException:
        return None
    return found[0] if found else None
