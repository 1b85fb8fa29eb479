-- One row per real clash between two states' forces; series = the tag's detail '<ISO3><><ISO3>'
-- (alphabetical, no direction: who fired first is not coded).
SELECT t.detail AS series, e.event_key, e.event_date, 1 AS value
FROM events e
JOIN event_tags t USING (incident_id)
WHERE t.tag = 'interstate_clash'
