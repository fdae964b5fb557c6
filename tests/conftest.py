"""Shared fixtures: one tuned Spark session for the whole test run, temp lakehouses, real data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.paths import DATA_DIR

from reconnect.settings import Settings, SparkSettings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def shared_data_dir() -> Path:
    """The read-only public datasets beside the project (``../shared/data``)."""
    return DATA_DIR


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.fail(f"the shared datasets are missing: expected them in {path}")
    return path


@pytest.fixture(scope="session")
def spark_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("reconnect")
    return Settings(
        env="test",
        spark=SparkSettings(
            master="local[2]",
            shuffle_partitions=2,
            driver_memory="3g",
            conf={
                "spark.ui.showConsoleProgress": "false",
                # Test-only speed setting (docs/decisions.md): expressions are evaluated
                # interpreted, without generating and compiling Java for each query. The
                # tests' inputs are small, and in a profile of a warm sender run code generation
                # was ~28 % of the JVM's CPU samples; A/B runs in one process each: 3-batch send
                # 28 s against 35 s, ingest plus feed changes 16 s against 19 s. Spark keeps
                # both paths equal; the benchmarks and the CLI keep code generation on.
                "spark.sql.codegen.wholeStage": "false",
                "spark.sql.codegen.factoryMode": "NO_CODEGEN",
            },
        ),
    ).with_paths(root)


@pytest.fixture(scope="session")
def spark(spark_settings: Settings) -> Iterator[object]:
    from reconnect.runtime import build_spark_session

    session = build_spark_session(spark_settings)
    yield session
    session.stop()


def _lake_settings(base: Settings, root: Path, suffix: str) -> Settings:
    """``base`` with its landing, lakehouse and checkpoints under ``root``, catalog names unique
    by ``suffix``."""
    return base.with_paths(root).model_copy(
        update={
            "catalog": base.catalog.model_copy(
                update={
                    "bronze": f"bronze_{suffix}",
                    "silver": f"silver_{suffix}",
                    "gold": f"gold_{suffix}",
                }
            )
        }
    )


@pytest.fixture(scope="session")
def lakehouse_template(
    spark: object, spark_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """An empty lakehouse made once per test run by the migrations (every table at version 0).

    A test's ``lake`` starts as a copy of it: the product's DDL then registers the copied tables
    (CREATE TABLE IF NOT EXISTS on a location that holds the table, as every run after a lake's
    first does) instead of creating 21 tables again: 0.6 s instead of ~4 s a lake, warm, for the
    ~30 lakes of a test run (docs/decisions.md). Tests of the DDL itself are marked
    ``empty_lakehouse`` and start from nothing.
    """
    from reconnect.lake.migrations import ensure_tables

    template = _lake_settings(spark_settings, tmp_path_factory.mktemp("template"), "template")
    ensure_tables(spark, template)
    return Path(template.paths.lakehouse)


@pytest.fixture()
def lake(request: pytest.FixtureRequest, tmp_path: Path, spark_settings: Settings) -> Settings:
    """Settings whose landing, lakehouse and checkpoints are fresh folders for one test.

    Catalog names are made unique per test so tables registered by one test never leak into
    another within the shared session. In a test that uses Spark, the lakehouse starts as a copy
    of ``lakehouse_template`` (every table empty, at version 0), unless the test is marked
    ``empty_lakehouse``.
    """
    suffix = tmp_path.name.replace("-", "_").lower()[-40:]
    settings = _lake_settings(spark_settings, tmp_path, suffix)
    if "spark" in request.fixturenames and not request.node.get_closest_marker("empty_lakehouse"):
        template = request.getfixturevalue("lakehouse_template")
        shutil.copytree(template, settings.paths.lakehouse)
    return settings
