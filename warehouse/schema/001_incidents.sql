-- Incidents: one current row per (source, source_event_id); superseded versions move to
-- incident_history so any past state can be rebuilt (valid_from/valid_to are ingest times,
-- source_updated_at is the source's own revision time).
CREATE SEQUENCE ingest_run_seq START 1;

CREATE TABLE ingest_runs (
    run_id BIGINT PRIMARY KEY DEFAULT nextval('ingest_run_seq'),
    file VARCHAR NOT NULL,
    sha256 VARCHAR,
    source VARCHAR NOT NULL,
    kind VARCHAR NOT NULL DEFAULT 'events',      -- 'events' | 'deletions'
    rows_read BIGINT DEFAULT 0,
    inserted BIGINT DEFAULT 0,
    updated BIGINT DEFAULT 0,
    unchanged BIGINT DEFAULT 0,
    rejected BIGINT DEFAULT 0,
    deleted BIGINT DEFAULT 0,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,                      -- 'success' | 'skipped' | 'failed' | 'refused'
    message VARCHAR
);

CREATE TABLE incident_current (
    incident_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    source_event_id VARCHAR NOT NULL,
    event_date DATE,
    date_end DATE,
    date_precision INTEGER,
    country VARCHAR,
    country_iso3 VARCHAR,
    admin1 VARCHAR,
    admin2 VARCHAR,
    admin3 VARCHAR,
    location VARCHAR,
    latitude DOUBLE,
    longitude DOUBLE,
    geo_precision INTEGER,
    event_type VARCHAR,
    sub_event_type VARCHAR,
    disorder_type VARCHAR,
    actor1 VARCHAR,
    assoc_actor_1 VARCHAR,
    inter1 VARCHAR,
    actor2 VARCHAR,
    assoc_actor_2 VARCHAR,
    inter2 VARCHAR,
    civilian_targeting VARCHAR,
    fatalities INTEGER,
    fatalities_low INTEGER,
    fatalities_high INTEGER,
    target_type VARCHAR,
    target_name VARCHAR,
    target_nationality VARCHAR,
    perpetrator_iso3 VARCHAR,
    notes VARCHAR,
    source_reference VARCHAR,
    source_url VARCHAR,
    tags VARCHAR,
    extra JSON,
    source_updated_at TIMESTAMP,
    row_hash VARCHAR,              -- MD5 of the content, for sources without revision times (else NULL)
    is_deleted BOOLEAN NOT NULL DEFAULT false,
    first_ingested_at TIMESTAMP NOT NULL,
    valid_from TIMESTAMP NOT NULL,
    ingest_run_id BIGINT,
    source_file VARCHAR,
    source_line BIGINT
);

CREATE TABLE incident_history AS SELECT *, CAST(NULL AS TIMESTAMP) AS valid_to FROM incident_current WITH NO DATA;

CREATE TABLE rejected_rows (
    source VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    line BIGINT,
    reason VARCHAR NOT NULL,
    raw VARCHAR,
    ingest_run_id BIGINT,
    rejected_at TIMESTAMP NOT NULL
);

-- Filled by cross-source deduplication (indicators issue); empty until then.
CREATE TABLE incident_duplicates (
    incident_id VARCHAR PRIMARY KEY,
    duplicate_of VARCHAR NOT NULL,
    rule VARCHAR,
    matched_at TIMESTAMP
);

-- Country names resolved through pycountry, cached so each distinct name is looked up once.
CREATE TABLE country_names (
    name VARCHAR PRIMARY KEY,
    iso3 VARCHAR
);
