-- Silver layer: feed changes, the diff of each feed sync against the feed's previous sync.
CREATE SCHEMA IF NOT EXISTS ${silver};

-- Grain: one row per product per sync per changed attribute ("price" or an attributes key).
-- Key: (product_id, sync_time, attribute). Only products present in both the sync and the
-- feed's previous sync are compared (a first appearance or a return after a gap is no change).
-- drop_percent is floored to 4 decimals, so a threshold such as >= 10 is never met by rounding.
CREATE TABLE IF NOT EXISTS ${silver}.product_changes (
    product_id STRING NOT NULL,
    sync_time TIMESTAMP NOT NULL,
    previous_sync_time TIMESTAMP NOT NULL,
    attribute STRING NOT NULL,
    change_kind STRING NOT NULL,
    old_value STRING,
    new_value STRING NOT NULL,
    old_price DECIMAL(18, 4),
    new_price DECIMAL(18, 4),
    drop_amount DECIMAL(18, 4),
    drop_percent DECIMAL(9, 4),
    back_in_stock BOOLEAN NOT NULL
)
USING DELTA
LOCATION ${location:silver/product_changes};

-- Grain: one row per user (cuid) per sync per changed or newly present attribute.
-- Key: (cuid, sync_time, attribute). A deleted attribute has no row (R-TYPE-UATTR).
CREATE TABLE IF NOT EXISTS ${silver}.user_attribute_changes (
    cuid STRING NOT NULL,
    sync_time TIMESTAMP NOT NULL,
    previous_sync_time TIMESTAMP,
    attribute STRING NOT NULL,
    change_kind STRING NOT NULL,
    old_value STRING,
    new_value STRING NOT NULL
)
USING DELTA
LOCATION ${location:silver/user_attribute_changes};

-- Grain: one row per feed sync whose changes are in silver. Key: (feed, sync_time).
-- bronze_version is the bronze table version the sync was diffed at: the next run reads only
-- bronze commits after the largest one to find new, late or replaced syncs.
CREATE TABLE IF NOT EXISTS ${silver}.feed_sync_progress (
    feed STRING NOT NULL,
    sync_time TIMESTAMP NOT NULL,
    previous_sync_time TIMESTAMP,
    bronze_version BIGINT NOT NULL,
    change_rows BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:silver/feed_sync_progress};
