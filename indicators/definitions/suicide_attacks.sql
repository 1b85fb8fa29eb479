SELECT e.country_iso3 AS series, e.event_key, e.event_date, 1 AS value
FROM events e
JOIN event_tags t USING (incident_id)
WHERE t.tag = 'suicide_attack'
