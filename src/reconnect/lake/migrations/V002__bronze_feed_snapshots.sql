-- Grain: one row per product per product-feed sync. Key: (sync_time, product_id).
CREATE TABLE IF NOT EXISTS ${bronze}.product_snapshots (
    sync_time TIMESTAMP NOT NULL,
    product_id STRING NOT NULL,
    price DECIMAL(18, 4) NOT NULL,
    name STRING,
    url STRING,
    image_url STRING,
    category STRING,
    brand STRING,
    currency STRING,
    stock INT,
    attributes MAP<STRING, STRING> NOT NULL,
    source_file STRING NOT NULL,
    source_line BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:bronze/product_snapshots};

-- Grain: one row per user (cuid) per user-feed sync. Key: (sync_time, cuid).
CREATE TABLE IF NOT EXISTS ${bronze}.user_snapshots (
    sync_time TIMESTAMP NOT NULL,
    cuid STRING NOT NULL,
    email STRING,
    phone STRING,
    timezone STRING,
    country STRING,
    loyalty_tier STRING,
    attributes MAP<STRING, STRING> NOT NULL,
    source_file STRING NOT NULL,
    source_line BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:bronze/user_snapshots};

-- Grain: one row per subscriber per channel per list sync. Key: (sync_time, channel, cuid).
CREATE TABLE IF NOT EXISTS ${bronze}.subscriptions (
    sync_time TIMESTAMP NOT NULL,
    channel STRING NOT NULL,
    cuid STRING NOT NULL,
    address STRING NOT NULL,
    source_file STRING NOT NULL,
    source_line BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:bronze/subscriptions};
