"""Shared Delta reads: a table (optionally at a version) and its latest version."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from reconnect.lake.tables import TableSpec
from reconnect.settings import Settings


def table(
    spark: SparkSession, settings: Settings, spec: TableSpec, version: int | None = None
) -> DataFrame:
    """The Delta table ``spec`` as a DataFrame, at ``version`` when given."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(spec.location(settings))


def latest_version(spark: SparkSession, settings: Settings, spec: TableSpec) -> int:
    """The newest commit version of the Delta table ``spec``."""
    row = DeltaTable.forPath(spark, spec.location(settings)).history(1).select("version").first()
    assert row is not None
    return int(row["version"])
