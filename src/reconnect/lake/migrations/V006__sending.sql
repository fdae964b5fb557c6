-- Sending (docs/sending.md): the messages outbox, delivery attempts, late cancels, progress.
CREATE SCHEMA IF NOT EXISTS ${silver};
CREATE SCHEMA IF NOT EXISTS ${gold};

-- Grain: one row per message, in its terminal state (R-SEND-2). Key: message_id (R-SEND-1).
-- Written by an insert-only MERGE before any delivery (outbox): a message is decided once.
-- state: SENT, CANCELLED, SUPERSEDED or SUPPRESSED; reason: one code of the closed list in
-- docs/sending.md. person_key is whom caps and priority count for: 'c:<cuid>' once the journey
-- knows the cuid, else 'u:<user_id>'. send_at is due_at, or the end of quiet hours when the
-- message was deferred (deferred_from = due_at, R-QUIET-1). channel/address/payload are set
-- for SENT messages and for control-group messages (the send they would have had).
CREATE TABLE IF NOT EXISTS ${gold}.messages (
    message_id STRING NOT NULL,
    journey_id STRING NOT NULL,
    campaign_id STRING NOT NULL,
    campaign_type STRING NOT NULL,
    variation_id STRING NOT NULL,
    is_control BOOLEAN NOT NULL,
    step_number INT NOT NULL,
    step_name STRING NOT NULL,
    person_key STRING NOT NULL,
    user_id STRING,
    cuid STRING,
    trigger_time TIMESTAMP NOT NULL,
    due_at TIMESTAMP NOT NULL,
    send_at TIMESTAMP NOT NULL,
    deferred_from TIMESTAMP,
    state STRING NOT NULL,
    reason STRING,
    decided_by STRING,
    channel STRING,
    address STRING,
    payload STRING
)
USING DELTA
LOCATION ${location:gold/messages}
TBLPROPERTIES (delta.enableChangeDataFeed = true);

-- Grain: one row per delivery attempt of a SENT message to its channel's provider (R-SEND-3).
-- Key: (message_id, attempt, attempted_at). Append-only; the provider deduplicates by the
-- idempotency key (the message id), so a re-delivery after a crash is recorded, not duplicated.
CREATE TABLE IF NOT EXISTS ${gold}.deliveries (
    message_id STRING NOT NULL,
    channel STRING NOT NULL,
    provider STRING NOT NULL,
    attempt INT NOT NULL,
    status STRING NOT NULL,
    http_status INT,
    error STRING,
    attempted_at TIMESTAMP NOT NULL,
    duration_ms BIGINT NOT NULL,
    send_batch BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:gold/deliveries};

-- Grain: one row per (late event, sent message it would have cancelled) (R-EXIT-3).
-- Key: (event_id, message_id).
CREATE TABLE IF NOT EXISTS ${gold}.late_cancels (
    event_id STRING NOT NULL,
    event_time TIMESTAMP NOT NULL,
    event_type STRING NOT NULL,
    message_id STRING NOT NULL,
    campaign_id STRING NOT NULL,
    user_id STRING NOT NULL,
    due_at TIMESTAMP NOT NULL,
    send_at TIMESTAMP NOT NULL
)
USING DELTA
LOCATION ${location:gold/late_cancels};

-- Grain: one row per sender micro-batch. Key: batch_id. The batch settled the messages whose
-- send time is in [previous_horizon, horizon) (horizon = the detection watermark it read).
-- delivered_at is null until every SENT message of the range has a final delivery attempt.
CREATE TABLE IF NOT EXISTS ${silver}.send_progress (
    batch_id BIGINT NOT NULL,
    horizon TIMESTAMP,
    previous_horizon TIMESTAMP,
    messages BIGINT NOT NULL,
    sent BIGINT NOT NULL,
    suppressed BIGINT NOT NULL,
    cancelled BIGINT NOT NULL,
    superseded BIGINT NOT NULL,
    late_cancels BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:silver/send_progress};

-- Grain: one row per sender micro-batch whose deliveries are all final. Key: batch_id.
CREATE TABLE IF NOT EXISTS ${silver}.delivery_progress (
    batch_id BIGINT NOT NULL,
    delivered BIGINT NOT NULL,
    failed BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:silver/delivery_progress};
