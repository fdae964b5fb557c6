"""Shared streaming helpers: landing-folder streams, triggers, running to the end, progress rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming.query import StreamingQuery
from pyspark.sql.streaming.readwriter import DataStreamWriter

from reconnect.settings import Settings

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


@dataclass
class LastRow:
    """The newest row of a progress table, as one run of the query that appends to it last saw it.

    A ``foreachBatch`` job whose run is its progress table's only writer reads the newest row in
    its first micro-batch and then keeps the row each micro-batch appends, instead of reading it
    back. ``known``: read or written at least once in this
    run; ``row`` is None while the table is empty. A new run (a restart) starts unknown.
    """

    row: Mapping[str, Any] | None = None
    known: bool = False

    def newest(self, spark: SparkSession, location: str) -> Mapping[str, Any] | None:
        """The newest row by ``batch_id`` of the progress table at ``location``.

        Read the first time; then the row kept (callers set ``row`` after each append).
        """
        if not self.known:
            found = spark.read.format("delta").load(location).orderBy(F.desc("batch_id")).first()
            self.row, self.known = (found.asDict() if found is not None else None), True
        return self.row


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
