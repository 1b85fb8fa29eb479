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

CREATE OR REPLACE MACRO alert_silenced(ind, ser, vkey, day) AS EXISTS (
    SELECT 1 FROM alert_silences s
    WHERE s.until >= day AND s.indicator = ind AND coalesce(s.series = ser, true)
      AND coalesce(s.value_key = vkey, true)
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

CREATE OR REPLACE VIEW alerts AS
SELECT a.alert_id, a.indicator, a.series, a.period_start, a.severity, a.rule, a.value, a.threshold,
       CASE WHEN a.status = 'firing' AND alert_silenced(a.indicator, a.series, a.value_key, current_date)
            THEN 'silenced' ELSE a.status END AS status,
       a.first_seen_at, a.last_seen_at, a.notified_at,
       a.grain, a.period_end, a.value_key, a.rule_type, a.clear_threshold, a.baseline, a.p_value,
       a.resolved_at, a.resolved_reason, a.acked_at, a.ack_note, a.as_of
FROM alert_rows a;

-- One row per alert value (the rules on one indicator/series/grain/period): how severe it is now and
-- what was last queued about it (its announced state). flows/alerting.py decides from it what to send.
CREATE OR REPLACE VIEW alert_values AS
WITH g AS (
    SELECT value_key, any_value(indicator) AS indicator, any_value(series) AS series, any_value(grain) AS grain,
           any_value(period_start) AS period_start, max(value) AS value,
           max(CASE WHEN status = 'firing' THEN CASE severity WHEN 'critical' THEN 2 ELSE 1 END END) AS firing_rank,
           bool_or(status = 'firing' AND acked_at IS NOT NULL) AS acked,
           arg_max(resolved_reason, resolved_at) AS last_resolution
    FROM alert_rows GROUP BY value_key
), announced AS (
    SELECT i.value_key, n.kind, i.severity, n.created_at
    FROM notification_items i JOIN notifications n USING (notification_id)
    QUALIFY row_number() OVER (PARTITION BY i.value_key ORDER BY n.notification_id DESC) = 1
)
SELECT g.*, a.kind AS last_kind, a.severity AS last_severity, a.created_at AS last_queued_at
FROM g LEFT JOIN announced a USING (value_key);
