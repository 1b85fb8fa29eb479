-- Alerts (flows/alerting.py): rule breaches -> alert state -> notification queue -> email.
-- One alert_rows row per fingerprint (indicator, series, grain, period_start, rule). The rules on one
-- value share a value_key and act as ONE alert that escalates: notifications are per value_key.
CREATE TABLE alert_rows (
    alert_id VARCHAR PRIMARY KEY,       -- 12 hex of sha256(fingerprint): stable across runs, typeable
    value_key VARCHAR NOT NULL,         -- '<indicator>/<series>/<grain>/<period_start>'
    indicator VARCHAR NOT NULL,
    series VARCHAR NOT NULL,
    grain VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    rule VARCHAR NOT NULL,              -- the rule's name in the indicator's YAML
    rule_type VARCHAR NOT NULL,         -- static | surge | rare_count
    severity VARCHAR NOT NULL,          -- warning | critical
    value DOUBLE NOT NULL,              -- the latest value seen for the period
    threshold DOUBLE,                   -- fires at value >= threshold
    clear_threshold DOUBLE,             -- a firing alert resolves at value < clear_threshold
    baseline DOUBLE,                    -- mean of the previous n periods
    p_value DOUBLE,                     -- rare_count: Poisson P(X >= value | baseline)
    status VARCHAR NOT NULL,            -- firing | resolved (the view adds silenced)
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,    -- last evaluation that found it firing
    resolved_at TIMESTAMP,
    resolved_reason VARCHAR,            -- cleared (value fell below clear) | expired (period left the window) | backfill
    notified_at TIMESTAMP,              -- last email about it that was delivered
    acked_at TIMESTAMP,                 -- acknowledged: no reminders (escalations still go out)
    ack_note VARCHAR,
    as_of DATE NOT NULL
);

CREATE SEQUENCE alert_silence_seq START 1;

-- Silences suppress sending (not evaluation). An alert_id matcher silences its whole value.
CREATE TABLE alert_silences (
    silence_id BIGINT PRIMARY KEY DEFAULT nextval('alert_silence_seq'),
    matcher VARCHAR NOT NULL,           -- as typed: alert_id, indicator or indicator/series
    indicator VARCHAR NOT NULL,
    series VARCHAR,                     -- NULL: every series
    value_key VARCHAR,                  -- NULL: every period
    until DATE NOT NULL,                -- active through the end of this day
    reason VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE SEQUENCE notification_seq START 1;

-- The outgoing queue: a row is committed as 'pending' before the email is attempted and marked 'sent'
-- after, so a failed send is retried by the next run and a sent one never again. One row = one email.
CREATE TABLE notifications (
    notification_id BIGINT PRIMARY KEY DEFAULT nextval('notification_seq'),
    group_key VARCHAR NOT NULL,         -- '<kind>/<severity>/<recipients>': one email per group per run
    kind VARCHAR NOT NULL,              -- new | escalation | reminder | resolved
    severity VARCHAR NOT NULL,          -- warning | critical (resolved: the severity that was announced)
    recipients VARCHAR NOT NULL,        -- comma-separated; '' = RISKWATCH_ALERT_TO at send time
    subject VARCHAR NOT NULL,
    status VARCHAR NOT NULL,            -- pending | sent | failed (failed: never retried, e.g. partly delivered)
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error VARCHAR,
    created_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    sent_at TIMESTAMP,
    message_id VARCHAR NOT NULL,        -- fixed at enqueue: a resend after a crash carries the same Message-ID
    delivered_via VARCHAR,              -- smtp:<host> | outbox:<path>
    eml_path VARCHAR,
    as_of DATE NOT NULL
);

-- The alert values one notification is about, with the numbers as they were when it was queued.
CREATE TABLE notification_items (
    notification_id BIGINT NOT NULL,
    value_key VARCHAR NOT NULL,
    indicator VARCHAR NOT NULL,
    series VARCHAR NOT NULL,
    grain VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    severity VARCHAR NOT NULL,
    alert_ids VARCHAR[] NOT NULL,
    snapshot JSON NOT NULL
);
-- (View definitions moved to warehouse/schema/views.sql, which db.py re-applies after the migrations.)
