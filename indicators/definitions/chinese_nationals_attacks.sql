-- One row per real event tagged as an attack on Chinese nationals; series = where it happened.
SELECT e.country_iso3 AS series, e.event_key, e.event_date, 1 AS value
FROM events e
JOIN event_tags t USING (incident_id)
WHERE t.tag = 'target:chinese_nationals'
