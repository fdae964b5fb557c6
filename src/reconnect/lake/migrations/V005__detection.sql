-- Detection (docs/detection.md): journeys, step eligibility and detection's own state.
CREATE SCHEMA IF NOT EXISTS ${silver};
CREATE SCHEMA IF NOT EXISTS ${gold};

-- Grain: one row per journey (one user's run through one variation of one campaign, started by
-- one trigger). Key: journey_id. key_kind says whom it follows: 'user' (user_id, clickstream
-- triggers) or 'cuid' (user-feed changes, schedules); user_key is that id. state: ACTIVE,
-- CANCELLED or SUPERSEDED; an ACTIVE journey is finished once last_due_at is behind the
-- watermark (silver.detect_progress).
CREATE TABLE IF NOT EXISTS ${silver}.journeys (
    journey_id STRING NOT NULL,
    campaign_id STRING NOT NULL,
    campaign_type STRING NOT NULL,
    variation_id STRING NOT NULL,
    is_control BOOLEAN NOT NULL,
    key_kind STRING NOT NULL,
    user_key STRING NOT NULL,
    user_id STRING,
    cuid STRING,
    trigger_time TIMESTAMP NOT NULL,
    trigger_id STRING NOT NULL,
    steps INT NOT NULL,
    first_due_at TIMESTAMP NOT NULL,
    last_due_at TIMESTAMP NOT NULL,
    state STRING NOT NULL,
    reason STRING,
    ended_by STRING,
    ended_at TIMESTAMP
)
USING DELTA
LOCATION ${location:silver/journeys};

-- Grain: one row per message (one step of one journey). Key: message_id (R-SEND-1).
-- state: PENDING, CANCELLED (reason EXIT_CONDITION or CANCELLED_BY_PRIORITY) or SUPERSEDED
-- (reason RETRIGGERED); decided_by is the id of the event (or feed change) that decided it.
-- A PENDING row is final once due_at is behind the detection watermark; its payload then holds
-- the feed values as of due_at (payload_as_of). The change data feed lets the sender stream it.
CREATE TABLE IF NOT EXISTS ${gold}.step_eligibility (
    message_id STRING NOT NULL,
    journey_id STRING NOT NULL,
    campaign_id STRING NOT NULL,
    campaign_type STRING NOT NULL,
    variation_id STRING NOT NULL,
    is_control BOOLEAN NOT NULL,
    step_number INT NOT NULL,
    step_name STRING NOT NULL,
    key_kind STRING NOT NULL,
    user_key STRING NOT NULL,
    user_id STRING,
    cuid STRING,
    trigger_time TIMESTAMP NOT NULL,
    trigger_id STRING NOT NULL,
    due_at TIMESTAMP NOT NULL,
    state STRING NOT NULL,
    reason STRING,
    decided_by STRING,
    decided_at TIMESTAMP,
    payload ARRAY<STRUCT<slot: INT, product_id: STRING, name: STRING, image_url: STRING,
        url: STRING, price: DECIMAL(18, 4), old_price: DECIMAL(18, 4),
        drop_percent: DECIMAL(9, 4)>> NOT NULL,
    payload_as_of TIMESTAMP
)
USING DELTA
LOCATION ${location:gold/step_eligibility}
TBLPROPERTIES (delta.enableChangeDataFeed = true);

-- Grain: one row per followed key (user_id or cuid). Key: (key_kind, user_key). The session
-- clock and identity of the user, and the state machine's memory as JSON (cart, viewed
-- products, watch list with baseline prices, active journeys). Rows expire at expires_at.
CREATE TABLE IF NOT EXISTS ${silver}.detect_state (
    key_kind STRING NOT NULL,
    user_key STRING NOT NULL,
    cuid STRING,
    last_event_at TIMESTAMP,
    state STRING,
    watched ARRAY<STRING>,
    expires_at TIMESTAMP NOT NULL
)
USING DELTA
LOCATION ${location:silver/detect_state};

-- Events read from bronze whose event time is not yet behind the watermark (same shape as
-- bronze.events); they are applied once the watermark passes them.
CREATE TABLE IF NOT EXISTS ${silver}.detect_buffer (
    event_id STRING NOT NULL,
    event_time TIMESTAMP NOT NULL,
    event_date DATE NOT NULL,
    user_id STRING NOT NULL,
    cuid STRING,
    session_id STRING,
    event_type STRING NOT NULL,
    event_name STRING,
    product_id STRING,
    quantity INT,
    price DECIMAL(18, 4),
    currency STRING,
    category STRING,
    cart ARRAY<STRUCT<product_id: STRING, quantity: INT>>,
    order_id STRING,
    revenue DECIMAL(18, 4),
    items ARRAY<STRUCT<product_id: STRING, quantity: INT, price: DECIMAL(18, 4)>>,
    message_id STRING,
    channel STRING,
    address STRING,
    properties MAP<STRING, STRING>,
    source_file STRING NOT NULL,
    source_line BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:silver/detect_buffer};

-- Grain: one row per event that reached detection after the watermark had passed its event
-- time (beyond the allowed lateness). Key: event_id. Not applied (replay would differ); kept so
-- that nothing is lost silently (R-EXIT-3 counts late cancels from it).
CREATE TABLE IF NOT EXISTS ${silver}.late_events (
    event_id STRING NOT NULL,
    event_time TIMESTAMP NOT NULL,
    user_id STRING NOT NULL,
    event_type STRING NOT NULL,
    watermark TIMESTAMP NOT NULL
)
USING DELTA
LOCATION ${location:silver/late_events};

-- Grain: one row per detection micro-batch. Key: batch_id. The watermark after the batch, what
-- it consumed and the versions of the state and buffer tables it left: a re-run batch reads
-- them as of those versions, so a crash between writes cannot apply a batch twice.
CREATE TABLE IF NOT EXISTS ${silver}.detect_progress (
    batch_id BIGINT NOT NULL,
    watermark TIMESTAMP,
    previous_watermark TIMESTAMP,
    events_read BIGINT NOT NULL,
    events_applied BIGINT NOT NULL,
    late_events BIGINT NOT NULL,
    feed_syncs INT NOT NULL,
    late_feed_syncs INT NOT NULL,
    inputs BIGINT NOT NULL,
    messages_written BIGINT NOT NULL,
    journeys_written BIGINT NOT NULL,
    state_rows BIGINT NOT NULL,
    state_version BIGINT NOT NULL,
    buffer_version BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:silver/detect_progress};

-- Grain: one row per feed sync detection has applied. Key: (feed, sync_time).
CREATE TABLE IF NOT EXISTS ${silver}.detect_feed_syncs (
    feed STRING NOT NULL,
    sync_time TIMESTAMP NOT NULL,
    batch_id BIGINT NOT NULL,
    late BOOLEAN NOT NULL
)
USING DELTA
LOCATION ${location:silver/detect_feed_syncs};
