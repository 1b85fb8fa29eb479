-- Parts (indicators/link_parts.py, links.yml `aggregates`): a record of one source that a record of another
-- source reports together with other events (UCDP codes one event for a day's drone strikes in one place
-- where BIJ lists each strike). The part stays its own event; the link says which report covers it.
CREATE TABLE incident_link_parts (
    incident_id VARCHAR PRIMARY KEY,   -- the part (its own event; duplicate_of unaffected)
    part_of VARCHAR NOT NULL,          -- the record that reports it together with other events
    score DOUBLE,
    reasons VARCHAR,
    matched_at TIMESTAMP
);
