-- Run, report, notification and silence ids come from counters both backends share: DuckLake has no
-- sequences, and an UPDATE of one counter row makes two concurrent writers conflict at commit (one retries)
-- instead of both taking the same id. Seeded with what the sequences handed out so far.
CREATE TABLE id_counters (name VARCHAR NOT NULL, value BIGINT NOT NULL);
INSERT INTO id_counters
SELECT 'ingest_runs', coalesce(max(run_id), 0) FROM ingest_runs UNION ALL
SELECT 'validation_runs', coalesce(max(run_id), 0) FROM validation_runs UNION ALL
SELECT 'alert_silences', coalesce(max(silence_id), 0) FROM alert_silences UNION ALL
SELECT 'notifications', coalesce(max(notification_id), 0) FROM notifications UNION ALL
SELECT 'reports', coalesce(max(report_id), 0) FROM reports;
