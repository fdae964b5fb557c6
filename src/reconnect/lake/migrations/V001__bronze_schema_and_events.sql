-- Bronze layer: raw inputs, typed and validated, one row per accepted input line.
CREATE SCHEMA IF NOT EXISTS ${bronze};

-- Grain: one row per distinct event_id (duplicates are kept once). Key: event_id.
-- Not partitioned (docs/ingest.md): files follow arrival, hence event time, and Delta's
-- min/max statistics on event_date / event_time skip files as well as partitions would.
CREATE TABLE IF NOT EXISTS ${bronze}.events (
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
LOCATION ${location:bronze/events};
