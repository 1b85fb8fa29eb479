-- Tags and indicator values, with the bookkeeping that makes refreshes incremental.
CREATE TABLE incident_tag_rows (
    incident_id VARCHAR NOT NULL,
    tag VARCHAR NOT NULL,
    detail VARCHAR,
    rule VARCHAR,              -- the rule (tags.yml `name`) that produced it
    tagged_at TIMESTAMP NOT NULL
);

CREATE TABLE indicator_value_rows (
    indicator VARCHAR NOT NULL,
    series VARCHAR NOT NULL,
    grain VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    value DOUBLE NOT NULL,
    is_complete BOOLEAN NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    as_of DATE NOT NULL
);

-- One row per refreshed component ('tags', 'indicators'): what it last saw, so the next refresh
-- only redoes what changed since (or everything when the definitions changed).
CREATE TABLE refresh_state (
    component VARCHAR PRIMARY KEY,
    refreshed_at TIMESTAMP NOT NULL,      -- incident versions ingested up to here are accounted for
    as_of DATE,
    definitions_hash VARCHAR
);

-- Values of past (complete) periods that changed on a refresh: late reports, revisions, deletions.
CREATE TABLE indicator_revisions (
    indicator VARCHAR NOT NULL,
    series VARCHAR NOT NULL,
    grain VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    old_value DOUBLE,
    new_value DOUBLE,
    changed_at TIMESTAMP NOT NULL,
    as_of DATE NOT NULL
);
-- (View definitions moved to warehouse/schema/views.sql, which db.py re-applies after the migrations.)
