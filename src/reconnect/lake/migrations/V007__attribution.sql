-- Attribution (docs/analytics.md): engagement with sent messages and the purchases credited.
CREATE SCHEMA IF NOT EXISTS ${silver};
CREATE SCHEMA IF NOT EXISTS ${gold};

-- Grain: one row per message_open / message_click event naming a SENT message of the same
-- person. Key: event_id. The message's campaign, variation and step are copied from
-- gold.messages; cuid is the event's, else the message's. Insert-only MERGE.
CREATE TABLE IF NOT EXISTS ${gold}.message_engagement (
    event_id STRING NOT NULL,
    event_time TIMESTAMP NOT NULL,
    event_type STRING NOT NULL,
    message_id STRING NOT NULL,
    campaign_id STRING NOT NULL,
    variation_id STRING NOT NULL,
    is_control BOOLEAN NOT NULL,
    step_number INT NOT NULL,
    step_name STRING NOT NULL,
    channel STRING,
    user_id STRING NOT NULL,
    cuid STRING,
    send_at TIMESTAMP NOT NULL
)
USING DELTA
LOCATION ${location:gold/message_engagement};

-- Grain: one row per open / click that names no SENT message (UNKNOWN_MESSAGE) or a message of
-- another person (NOT_THE_RECIPIENT). Key: event_id. Never attributed.
CREATE TABLE IF NOT EXISTS ${silver}.engagement_quarantine (
    event_id STRING NOT NULL,
    event_time TIMESTAMP NOT NULL,
    event_type STRING NOT NULL,
    user_id STRING NOT NULL,
    message_id STRING NOT NULL,
    reason STRING NOT NULL,
    detail STRING NOT NULL,
    source_file STRING NOT NULL,
    source_line BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:silver/engagement_quarantine};

-- Grain: one row per (attribution, purchase, campaign) credited (R-ATTR-1).
-- Key: (attribution, purchase_event_id, campaign_id). attribution 'last_click': at most one row
-- per purchase (the latest qualifying click); 'per_campaign': one row per campaign with a
-- qualifying click (its latest). A purchase's rows are replaced whenever a new click or the
-- purchase itself arrives, so late data updates them and a replay writes the same rows.
CREATE TABLE IF NOT EXISTS ${gold}.attributed_purchases (
    attribution STRING NOT NULL,
    purchase_event_id STRING NOT NULL,
    order_id STRING,
    purchase_time TIMESTAMP NOT NULL,
    user_id STRING NOT NULL,
    revenue DECIMAL(18, 4),
    currency STRING,
    campaign_id STRING NOT NULL,
    variation_id STRING NOT NULL,
    is_control BOOLEAN NOT NULL,
    step_number INT NOT NULL,
    step_name STRING NOT NULL,
    channel STRING,
    message_id STRING NOT NULL,
    click_event_id STRING NOT NULL,
    click_time TIMESTAMP NOT NULL
)
USING DELTA
LOCATION ${location:gold/attributed_purchases};

-- Grain: one row per attribution micro-batch. Key: batch_id. purchases_scored: the purchases
-- whose credit the batch recomputed (its own and those after its clicks).
CREATE TABLE IF NOT EXISTS ${silver}.attribute_progress (
    batch_id BIGINT NOT NULL,
    events_read BIGINT NOT NULL,
    opens BIGINT NOT NULL,
    clicks BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    purchases_read BIGINT NOT NULL,
    purchases_scored BIGINT NOT NULL,
    attributed_rows BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:silver/attribute_progress};
