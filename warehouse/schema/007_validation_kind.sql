-- Ingest-time batch checks and full validation runs are told apart, so that an ingest between a
-- validation and the alert step does not hide that validation's failed checks from the gate.
ALTER TABLE validation_runs ADD COLUMN kind VARCHAR DEFAULT 'full';

CREATE OR REPLACE VIEW failed_checks AS
SELECT r.* FROM validation_results r
WHERE r.run_id = (SELECT max(run_id) FROM validation_runs WHERE kind = 'full') AND NOT r.success;
