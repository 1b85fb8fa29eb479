-- Weekly reports: one row per file version of a week's report (same week and same bytes: same row).
-- Delivery is recorded like alerts: email_status 'pending' is committed before sending, 'sent' after,
-- so a rerun never sends the same file twice and a crash mid-send is retried (same Message-ID).
CREATE SEQUENCE report_seq START 1;

CREATE TABLE reports (
    report_id BIGINT PRIMARY KEY DEFAULT nextval('report_seq'),
    kind VARCHAR NOT NULL DEFAULT 'weekly',
    iso_year INTEGER NOT NULL,
    iso_week INTEGER NOT NULL,
    week_start DATE NOT NULL,
    week_end DATE NOT NULL,
    as_of DATE NOT NULL,
    path VARCHAR NOT NULL,            -- the archived HTML file (absolute)
    sha256 VARCHAR NOT NULL,          -- of the HTML bytes; a changed file is a new row and is sent again
    pdf_path VARCHAR,
    headline JSON,                    -- the headline numbers shown at the top of the report
    created_at TIMESTAMP NOT NULL,
    emailed_at TIMESTAMP,
    email_status VARCHAR,             -- NULL (not emailed) | pending | sent | failed
    email_error VARCHAR,
    attempts INTEGER DEFAULT 0,
    recipients VARCHAR,
    delivered_via VARCHAR,            -- 'smtp:<host>' | 'outbox:<path>'
    message_id VARCHAR
);
