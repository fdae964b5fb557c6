-- The campaign catalog (docs/analytics.md): today's campaign files as tables, so that SQL (the
-- dbt project's dim_campaigns, dim_campaign_steps) can join them. `reconnect models build`
-- replaces their whole content (one overwrite each) before it runs dbt: they describe the
-- configuration at that moment, not its history.
CREATE SCHEMA IF NOT EXISTS ${gold};

-- Grain: one row per configured campaign. Key: campaign_id. Durations in seconds; wait_seconds
-- only for the types that wait after a trigger (R-TRIG-2), watch_window_seconds only for price
-- and product-attribute campaigns (R-TRIG-4). caps: one entry per capped channel (R-CAP-2).
-- channels: the campaign's channel priority order (R-CHAN-1). variations: how many it has.
CREATE TABLE IF NOT EXISTS ${gold}.campaigns (
    campaign_id STRING NOT NULL,
    campaign_type STRING NOT NULL,
    name STRING NOT NULL,
    status STRING NOT NULL,
    priority INT NOT NULL,
    timezone STRING NOT NULL,
    channels ARRAY<STRING> NOT NULL,
    caps ARRAY<STRUCT<channel: STRING, count: INT, window_seconds: BIGINT>> NOT NULL,
    primary_metric STRING NOT NULL,
    attribution_window_seconds BIGINT NOT NULL,
    wait_seconds BIGINT,
    watch_window_seconds BIGINT,
    cancel_all_others BOOLEAN NOT NULL,
    variations INT NOT NULL
)
USING DELTA
LOCATION ${location:gold/campaigns};

-- Grain: one row per variation of a configured campaign. Key: (campaign_id, variation_id).
-- variation_number: its place in the file (1 = first); users land in buckets
-- [bucket_start, bucket_end) of 10,000 (R-AB-1); is_control: no send is made (R-AB-2).
CREATE TABLE IF NOT EXISTS ${gold}.campaign_variations (
    campaign_id STRING NOT NULL,
    variation_id STRING NOT NULL,
    variation_number INT NOT NULL,
    is_control BOOLEAN NOT NULL,
    weight DECIMAL(5, 2) NOT NULL,
    bucket_start INT NOT NULL,
    bucket_end INT NOT NULL,
    steps INT NOT NULL
)
USING DELTA
LOCATION ${location:gold/campaign_variations};

-- Grain: one row per step of a variation of a configured campaign.
-- Key: (campaign_id, variation_id, step_number); step_name is unique within a variation too
-- (R-STEP-2). channels: the campaign's channels this step has a message for, in priority order.
-- wait_seconds: the wait after the previous step (null for step 1, which is due after the
-- campaign's wait or at its schedule slot); offset_seconds: the sum of the waits, i.e. how long
-- after step 1's due time this step is due (0 for step 1, R-STEP-1).
CREATE TABLE IF NOT EXISTS ${gold}.campaign_steps (
    campaign_id STRING NOT NULL,
    variation_id STRING NOT NULL,
    is_control BOOLEAN NOT NULL,
    step_number INT NOT NULL,
    step_name STRING NOT NULL,
    channels ARRAY<STRING> NOT NULL,
    wait_seconds BIGINT,
    offset_seconds BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:gold/campaign_steps};
