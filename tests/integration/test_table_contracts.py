"""The versioned DDL in sql/migrations and the StructTypes in reconnect.tables agree."""

from __future__ import annotations

import pytest

from reconnect.lake.migrations import ensure_tables, migration_files
from reconnect.lake.tables import ALL_TABLES

# These tests are about the DDL itself: their lakes start empty, not from the session's template.
pytestmark = [pytest.mark.spark, pytest.mark.empty_lakehouse]


def test_ddl_and_structtypes_agree_for_every_table(spark, lake):
    ensure_tables(spark, lake)
    for table in ALL_TABLES:
        stored = spark.table(table.qualified_name(lake)).schema
        assert stored == table.schema, table.name
        detail = spark.sql(f"DESCRIBE DETAIL {table.qualified_name(lake)}").first()
        assert tuple(detail["partitionColumns"]) == table.partition_by, table.name
        assert detail["location"].rstrip("/").endswith(f"/{table.layer}/{table.name}")


def test_applying_the_migrations_twice_is_harmless(spark, lake):
    ensure_tables(spark, lake)
    ensure_tables(spark, lake)
    for layer in {t.layer for t in ALL_TABLES}:
        registered = {
            r.tableName
            for r in spark.sql(f"SHOW TABLES IN {lake.catalog.schema_name(layer)}").collect()
        }
        assert {t.name for t in ALL_TABLES if t.layer == layer} <= registered, layer


def test_migration_files_are_versioned_in_order():
    names = [p.name for p in migration_files()]
    assert names == sorted(names)
    assert names[0].startswith("V001__")


def test_a_name_registered_at_another_lake_stops_the_job(spark, lake, tmp_path):
    ensure_tables(spark, lake)
    # The same catalog names, but the settings put the tables in another folder.
    elsewhere = lake.model_copy(
        update={"paths": lake.paths.model_copy(update={"lakehouse": str(tmp_path / "other")})}
    )
    with pytest.raises(ValueError, match=r"is registered at .*, but the settings put it at"):
        ensure_tables(spark, elsewhere)
