-- Why a tag exists (issue 12): which field and pattern or code made it, and how sure that is
-- ('coded': a source's coded field; 'text': the event's own text; 'dyad': only a conflict dyad).
ALTER TABLE incident_tag_rows ADD COLUMN evidence VARCHAR;
ALTER TABLE incident_tag_rows ADD COLUMN confidence VARCHAR;
