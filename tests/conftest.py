"""Shared fixtures: one tuned Spark session for the whole test run, temp lakehouses, real data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconnect.settings import PROJECT_ROOT, Settings, SparkSettings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def shared_data_dir() -> Path:
    """The read-only public datasets beside the project (``../shared/data``)."""
    return Path(os.environ.get("RECONNECT_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


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


@pytest.fixture()
def lake(tmp_path: Path, spark_settings: Settings) -> Settings:
    """Settings whose landing, lakehouse and checkpoints are fresh folders for one test.

    Catalog names are made unique per test so tables registered by one test never leak into
    another within the shared session.
    """
    suffix = tmp_path.name.replace("-", "_").lower()[-40:]
    return spark_settings.with_paths(tmp_path).model_copy(
        update={
            "catalog": spark_settings.catalog.model_copy(
                update={
                    "bronze": f"bronze_{suffix}",
                    "silver": f"silver_{suffix}",
                    "gold": f"gold_{suffix}",
                }
            )
        }
    )
