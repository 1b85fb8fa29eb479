-- One row per real cross-border strike; series = the tag's detail '<origin>-><target>'.
SELECT t.detail AS series, e.event_key, e.event_date, 1 AS value
FROM events e
JOIN event_tags t USING (incident_id)
WHERE t.tag = 'cross_border_strike'
