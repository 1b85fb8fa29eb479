-- Cross-source links (indicators/links.py): why two records are one event. duplicate_of is always the
-- event's canonical record; matched_with is the record this one was matched to directly (the canonical
-- itself, or another member of the event when the link runs through it).
ALTER TABLE incident_duplicates ADD COLUMN score DOUBLE;
ALTER TABLE incident_duplicates ADD COLUMN reasons VARCHAR;
ALTER TABLE incident_duplicates ADD COLUMN matched_with VARCHAR;

-- Rows a source codes as one attack (GTD `multiple`/`related`): one episode, counted once by indicators
-- that count episodes (indicators/episodes.py).
CREATE TABLE incident_episodes (
    incident_id VARCHAR PRIMARY KEY,
    episode_id VARCHAR NOT NULL,
    rule VARCHAR
);
