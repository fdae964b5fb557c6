-- Grain: one row per rejected input line (source_line 0: the whole file).
-- Key: (source, source_file, source_line).
CREATE TABLE IF NOT EXISTS ${bronze}.quarantine (
    source STRING NOT NULL,
    source_file STRING NOT NULL,
    source_line BIGINT NOT NULL,
    sync_time TIMESTAMP,
    reason STRING NOT NULL,
    field STRING,
    detail STRING NOT NULL,
    raw STRING
)
USING DELTA
LOCATION ${location:bronze/quarantine};

-- Grain: one row per landed file: the reconciliation lines = accepted + quarantined + duplicates.
-- Key: (source, source_file).
CREATE TABLE IF NOT EXISTS ${bronze}.ingest_files (
    source STRING NOT NULL,
    source_file STRING NOT NULL,
    sync_time TIMESTAMP,
    lines BIGINT NOT NULL,
    accepted BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    duplicates BIGINT NOT NULL
)
USING DELTA
LOCATION ${location:bronze/ingest_files};
