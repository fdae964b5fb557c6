"""Shared streaming helpers: landing-folder streams, triggers, running a query to its end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T
from pyspark.sql.streaming.query import StreamingQuery
from pyspark.sql.streaming.readwriter import DataStreamWriter

from reconnect.settings import Settings

# Told of each finished micro-batch of a watermarked stage: its batch id and the watermark it
# reached (None before any event). The CLI shows the watermark in its per-batch progress line.
OnBatch = Callable[[int, datetime | None], None]

BINARY_FILE = T.StructType(
    [
        T.StructField("path", T.StringType()),
        T.StructField("modificationTime", T.TimestampType()),
        T.StructField("length", T.LongType()),
        T.StructField("content", T.BinaryType()),
    ]
)


def files_stream(spark: SparkSession, settings: Settings, folder: str, text: bool) -> DataFrame:
    """New files of a landing folder as a stream: their lines (``text``) or binaryFile rows."""
    path = f"{settings.paths.landing.rstrip('/')}/{folder}"
    mkdirs(spark, path)
    reader = (
        spark.readStream.schema("value string" if text else BINARY_FILE)
        .format("text" if text else "binaryFile")
        .option("recursiveFileLookup", "true")
        # Age is measured against the newest file, not the clock; never skip a late copy.
        .option("maxFileAge", "36500d")
    )
    if settings.streaming.max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", settings.streaming.max_files_per_trigger)
    return reader.load(path)


def mkdirs(spark: SparkSession, path: str) -> None:
    """Create a folder (and its parents) on the lake's file system."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).mkdirs(hpath)


def with_trigger(writer: DataStreamWriter, settings: Settings) -> DataStreamWriter:
    """The configured trigger: availableNow (process what is there and stop) or processing time."""
    if settings.streaming.trigger == "available_now":
        return writer.trigger(availableNow=True)
    return writer.trigger(processingTime=settings.streaming.processing_time)


def run_to_end(query: StreamingQuery) -> None:
    """Wait for a query to end (availableNow); stop it if interrupted; raise if it failed."""
    try:
        query.awaitTermination()
    finally:
        if query.isActive:
            query.stop()
    raise_if_failed(query)


def raise_if_failed(query: StreamingQuery) -> None:
    """Raise the error a streaming query ended with, if any."""
    err = query.exception()
    if err is not None:
        raise RuntimeError(f"streaming query {query.name} failed: {err}")
