-- Validation results (Great Expectations suites run by `riskwatch validate` and the refresh flow).
CREATE SEQUENCE validation_run_seq START 1;

CREATE TABLE validation_runs (
    run_id BIGINT PRIMARY KEY DEFAULT nextval('validation_run_seq'),
    as_of DATE NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    success BOOLEAN,                -- false when any check failed
    critical_failures INTEGER DEFAULT 0,
    docs_path VARCHAR
);

CREATE TABLE validation_results (
    run_id BIGINT NOT NULL,
    suite VARCHAR NOT NULL,         -- e.g. incidents, indicator:chinese_nationals_attacks, freshness
    check_name VARCHAR NOT NULL,
    expectation VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,      -- warning | critical
    success BOOLEAN NOT NULL,
    observed_value VARCHAR,         -- JSON
    unexpected_count BIGINT,
    element_count BIGINT,
    indicator VARCHAR,              -- the indicator a failure gates (NULL: not indicator-specific)
    source VARCHAR,                 -- the source a freshness/batch check is about
    message VARCHAR,
    run_at TIMESTAMP NOT NULL
);

-- The checks that failed in the latest validation run: what the alert step and the report read.
-- (View definitions moved to warehouse/schema/views.sql, which db.py re-applies after the migrations.)
