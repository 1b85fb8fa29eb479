-- Coverage: which periods each source speaks for, per country (README "Coverage"). No data is not zero:
-- an indicator period no contributing source covers has value NULL and covered = false.

-- What a source's mapping declares (`coverage:`), recorded when a file of it loads; '*' = every country.
CREATE TABLE source_coverage_declared (
    source VARCHAR NOT NULL,
    country_iso3 VARCHAR NOT NULL,
    start_date DATE,
    end_date DATE,
    declared_in VARCHAR,           -- the mapping file
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, country_iso3)
);

-- The coverage window of each source and country, recomputed on every indicator refresh from the
-- declarations and what was loaded (a live feed covers up to its newest successful ingest).
CREATE TABLE source_coverage (
    source VARCHAR NOT NULL,
    country_iso3 VARCHAR NOT NULL,  -- '*': every country (a declaration for all)
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    basis VARCHAR NOT NULL,         -- 'declared' | 'loaded (static)' | 'loaded (live)'
    first_event DATE,
    last_event DATE,
    last_ingest DATE,
    computed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, country_iso3)
);

-- An uncovered period's value is NULL; the view's `covered` is `value IS NOT NULL` (one fact, one place).
ALTER TABLE indicator_value_rows ALTER COLUMN value DROP NOT NULL;

-- Events an indicator left out of a grain because their date is coarser than the grain (a year-
-- precision event is in no week, month or quarter), per period they would have fallen in.
CREATE TABLE indicator_precision_gaps (
    indicator VARCHAR NOT NULL,
    grain VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    reason VARCHAR NOT NULL,       -- e.g. 'year precision', 'month precision'
    events BIGINT NOT NULL,
    value DOUBLE                   -- what they would have added (fatalities for sums)
);
