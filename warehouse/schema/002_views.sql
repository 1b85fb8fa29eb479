-- Public views (DESIGN.md): stable names and columns for analysts' SQL and reports.
-- public_incidents(tbl) gives the public shape of any relation with incident_current's columns, so
-- the `incidents` view and as-of reconstructions of past versions share one definition.
CREATE OR REPLACE MACRO public_incidents(tbl) AS TABLE
SELECT c.incident_id, c.source, c.source_event_id, c.event_date, c.country, c.country_iso3,
       c.admin1, c.admin2, c.location, c.latitude, c.longitude, c.event_type, c.sub_event_type,
       c.actor1, c.assoc_actor_1, c.actor2, c.assoc_actor_2, c.fatalities, c.notes,
       c.source_updated_at, c.valid_from AS ingested_at, d.duplicate_of,
       c.date_end, c.date_precision, c.admin3, c.geo_precision, c.disorder_type, c.inter1, c.inter2,
       c.civilian_targeting, c.fatalities_low, c.fatalities_high, c.target_type, c.target_name,
       c.target_nationality, c.perpetrator_iso3, c.source_reference, c.source_url, c.tags, c.extra,
       c.first_ingested_at, c.source_file, c.source_line
FROM query_table(tbl) c
LEFT JOIN incident_duplicates d USING (incident_id)
WHERE NOT c.is_deleted;

CREATE OR REPLACE VIEW incidents AS SELECT * FROM public_incidents('incident_current');

-- Every version ever held, current one with valid_to NULL; the basis of --as-of reconstruction.
CREATE OR REPLACE VIEW incident_versions AS
SELECT *, CAST(NULL AS TIMESTAMP) AS valid_to FROM incident_current
UNION ALL BY NAME
SELECT * FROM incident_history;

CREATE OR REPLACE VIEW rejected_incidents AS
SELECT source, file, line, reason, raw, ingest_run_id, rejected_at FROM rejected_rows;
