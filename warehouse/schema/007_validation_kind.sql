-- Ingest-time batch checks and full validation runs are told apart, so that an ingest between a
-- validation and the alert step does not hide that validation's failed checks from the gate.
ALTER TABLE validation_runs ADD COLUMN kind VARCHAR DEFAULT 'full';
-- (View definitions moved to warehouse/schema/views.sql, which db.py re-applies after the migrations.)
