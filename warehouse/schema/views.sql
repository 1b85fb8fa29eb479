-- Public views and the macros they use (DESIGN.md "Warehouse views"): the current definition of each,
-- in dependency order. Not a migration: warehouse/db.py re-runs this file after the migrations
-- whenever its text changes (the hash is kept in schema_views), so a view changes by editing it here
-- and the change shows up in one diff. Tables change only through numbered migrations.

CREATE OR REPLACE MACRO public_incidents(tbl) AS TABLE
SELECT c.incident_id, c.source, c.source_event_id, c.event_date, c.country, c.country_iso3,
       c.admin1, c.admin2, c.location, c.latitude, c.longitude, c.event_type, c.sub_event_type,
       c.actor1, c.assoc_actor_1, c.actor2, c.assoc_actor_2, c.fatalities, c.notes,
       c.source_updated_at, c.valid_from AS ingested_at, d.duplicate_of,
       c.date_end, c.date_precision, c.admin3, c.geo_precision, c.disorder_type, c.inter1, c.inter2,
       c.civilian_targeting, c.fatalities_low, c.fatalities_high, c.target_type, c.target_name,
       c.target_nationality, c.perpetrator_iso3, c.source_reference, c.source_url, c.tags, c.extra,
       c.first_ingested_at, c.source_file, c.source_line, e.episode_id,
       p1.admin1_code, p1.admin1_name,
       CASE WHEN p2.name IS NULL THEN c.admin2 ELSE p2.admin2_norm END AS admin2_norm
FROM query_table(tbl) c
LEFT JOIN incident_duplicates d USING (incident_id)
LEFT JOIN incident_episodes e USING (incident_id)
-- Places (warehouse/places.py fills these at refresh): ISO 3166-2 code + current name, normalised admin2.
LEFT JOIN admin1_places p1 ON p1.country_iso3 = c.country_iso3 AND p1.name = c.admin1
LEFT JOIN admin2_places p2 ON p2.name = c.admin2
WHERE NOT c.is_deleted;

CREATE OR REPLACE VIEW incidents AS SELECT * FROM public_incidents('incident_current');

-- Every cross-source link: the record, the canonical record of its event (never itself a duplicate),
-- the score (0..1, or 1 for a pair an analyst confirmed) and why (indicators/links.yml). kind 'duplicate':
-- one event; kind 'part': the record is its own event, reported by matched_with together with others
-- (duplicate_of NULL unless the record is also a duplicate of another source's record).
CREATE OR REPLACE VIEW incident_links AS
SELECT d.incident_id, d.duplicate_of, d.score, d.reasons, d.matched_with, d.rule, d.matched_at,
       'duplicate' AS kind
FROM incident_duplicates d
JOIN incident_current a ON a.incident_id = d.incident_id AND NOT a.is_deleted
UNION ALL
SELECT p.incident_id, d.duplicate_of, p.score, p.reasons, p.part_of, 'links.yml', p.matched_at, 'part'
FROM incident_link_parts p
JOIN incident_current a ON a.incident_id = p.incident_id AND NOT a.is_deleted
LEFT JOIN incident_duplicates d ON d.incident_id = p.incident_id;

-- A series key's display name: 'PAK:PK-KP' -> 'PAK: Khyber Pakhtunkhwa' (the code's current name); others as is.
CREATE OR REPLACE MACRO series_label(s) AS coalesce(
    (SELECT split_part(s, ':', 1) || ': ' || min(p.admin1_name) FROM admin1_places p
     WHERE p.admin1_code = split_part(s, ':', 2) AND contains(s, ':')), s);

-- Every version ever held, current one with valid_to NULL; the basis of --as-of reconstruction.
CREATE OR REPLACE VIEW incident_versions AS
SELECT *, CAST(NULL AS TIMESTAMP) AS valid_to FROM incident_current
UNION ALL BY NAME
SELECT * FROM incident_history;

CREATE OR REPLACE VIEW rejected_incidents AS
SELECT source, file, line, reason, raw, ingest_run_id, rejected_at FROM rejected_rows;

CREATE OR REPLACE VIEW incident_tags AS
SELECT t.incident_id, t.tag, t.detail, t.evidence, t.confidence, t.rule, t.tagged_at
FROM incident_tag_rows t JOIN incidents i USING (incident_id);

-- value NULL and covered false: no contributing source covers the period (no data is not zero; the
-- engine stores an uncovered period's value as NULL, and only those).
CREATE OR REPLACE VIEW indicator_values AS
SELECT indicator, series, grain, period_start, period_end, value, is_complete, computed_at, as_of,
       value IS NOT NULL AS covered
FROM indicator_value_rows;

CREATE OR REPLACE MACRO alert_silenced(ind, ser, vkey, day) AS EXISTS (
    SELECT 1 FROM alert_silences s
    WHERE s.until >= day AND s.indicator = ind AND coalesce(s.series = ser, true)
      AND coalesce(s.value_key = vkey, true)
);

-- One row per alert: the rules on one value (indicator, series, grain, period) act as ONE alert that
-- escalates, so lists, the report and the emails count the same thing. alert_id is the value's id
-- (12 hex of sha256(value_key), indicators.rules.value_id); the row shows the rule with the highest
-- standing (firing before resolved, critical before warning); alert_rows keeps one row per rule.
CREATE OR REPLACE VIEW alerts AS
WITH ranked AS (
    SELECT a.*,
           min(a.first_seen_at) OVER v AS value_first_seen_at, max(a.last_seen_at) OVER v AS value_last_seen_at,
           max(a.notified_at) OVER v AS value_notified_at, max(a.acked_at) OVER v AS value_acked_at,
           list(a.rule ORDER BY a.rule) FILTER (WHERE a.status = 'firing') OVER v AS rules_firing,
           row_number() OVER (PARTITION BY a.value_key ORDER BY a.status = 'firing' DESC,
                              a.severity = 'critical' DESC, a.last_seen_at DESC, a.rule) AS standing
    FROM alert_rows a
    WINDOW v AS (PARTITION BY a.value_key)
)
SELECT left(sha256(r.value_key), 12) AS alert_id, r.indicator, r.series, r.period_start, r.severity, r.rule,
       r.value, r.threshold,
       CASE WHEN r.status = 'firing' AND alert_silenced(r.indicator, r.series, r.value_key, current_date)
            THEN 'silenced' ELSE r.status END AS status,
       r.value_first_seen_at AS first_seen_at, r.value_last_seen_at AS last_seen_at,
       r.value_notified_at AS notified_at,
       r.grain, r.period_end, r.value_key, r.rule_type, r.clear_threshold, r.baseline, r.p_value,
       r.resolved_at, r.resolved_reason, r.value_acked_at AS acked_at, r.ack_note, r.as_of,
       coalesce(r.rules_firing, []) AS rules_firing
FROM ranked r WHERE r.standing = 1;

-- One row per alert value (the rules on one indicator/series/grain/period): how severe it is now and
-- what was last queued about it (its announced state). flows/alerting.py decides from it what to send.
CREATE OR REPLACE VIEW alert_values AS
WITH g AS (
    SELECT value_key, any_value(indicator) AS indicator, any_value(series) AS series, any_value(grain) AS grain,
           any_value(period_start) AS period_start, max(value) AS value,
           max(CASE WHEN status = 'firing' THEN CASE severity WHEN 'critical' THEN 2 ELSE 1 END END) AS firing_rank,
           bool_or(status = 'firing' AND acked_at IS NOT NULL) AS acked,
           arg_max(resolved_reason, resolved_at) AS last_resolution
    FROM alert_rows GROUP BY value_key
), announced AS (
    SELECT i.value_key, n.kind, i.severity, n.created_at
    FROM notification_items i JOIN notifications n USING (notification_id)
    QUALIFY row_number() OVER (PARTITION BY i.value_key ORDER BY n.notification_id DESC) = 1
)
SELECT g.*, a.kind AS last_kind, a.severity AS last_severity, a.created_at AS last_queued_at
FROM g LEFT JOIN announced a USING (value_key);

CREATE OR REPLACE VIEW failed_checks AS
SELECT r.* FROM validation_results r
WHERE r.run_id = (SELECT max(run_id) FROM validation_runs WHERE kind = 'full') AND NOT r.success;
