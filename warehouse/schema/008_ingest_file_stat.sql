-- A re-load of an unchanged file is recognised without hashing it again: same resolved path, size and
-- modification time as a successful run (multi-GB exports take seconds to hash).
ALTER TABLE ingest_runs ADD COLUMN file_path VARCHAR;
ALTER TABLE ingest_runs ADD COLUMN file_size BIGINT;
ALTER TABLE ingest_runs ADD COLUMN file_mtime_ns BIGINT;
