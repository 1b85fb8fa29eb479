-- Series by ISO 3166-2 code (one per province whatever the source's spelling, FATA in PK-KP: warehouse/places.yml);
-- a spelling that resolves to no code keeps its own series rather than vanish into 'unknown'.
SELECT e.country_iso3 || ':' || coalesce(e.admin1_code, nullif(trim(e.admin1), ''), 'unknown') AS series, e.event_key, e.event_date,
       coalesce(e.fatalities, 0) AS value
FROM events e
WHERE e.country_iso3 IN (SELECT iso3 FROM watched_countries)
  AND coalesce(e.event_type, '') NOT IN ('Protests', 'Riots', 'Strategic developments')
