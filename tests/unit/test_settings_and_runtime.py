"""Settings are typed and refused early; the runtime says what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconnect import runtime
from reconnect.lake.migrations import migration_files, render_migration
from reconnect.settings import (
    DEFAULT_CONF_DIR,
    Settings,
    SettingsError,
    SparkSettings,
    load_settings,
)


def test_every_shipped_environment_file_loads():
    for path in DEFAULT_CONF_DIR.glob("*.yaml"):
        settings = load_settings(path)
        assert settings.env == path.stem


def test_local_default_is_embedded_spark_with_local_folders(tmp_path):
    settings = load_settings(env="local", base=tmp_path)
    assert settings.spark.master == "local[2]"
    assert settings.spark.delta_jars == "maven"
    assert settings.paths.lakehouse == str(tmp_path / "var" / "lakehouse")


def test_an_env_file_in_the_working_folder_wins_over_the_packaged_one(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "local.yaml").write_text("env: local\nspark: {shuffle_partitions: 7}\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings(env="local").spark.shuffle_partitions == 7
    assert load_settings(env="cluster").paths.lakehouse.startswith("s3a://")  # packaged


def test_an_unknown_env_names_both_places_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match=r"environment 'staging': neither conf/staging.yaml"):
        load_settings(env="staging")


def test_cluster_settings_leave_master_and_jars_to_the_platform():
    settings = load_settings(DEFAULT_CONF_DIR / "cluster.yaml")
    assert settings.spark.master is None and settings.spark.delta_jars == "provided"
    assert settings.paths.lakehouse.startswith("s3a://")  # URIs are not made local
    assert settings.catalog.schema_name("bronze") == "reconnect_bronze"


def test_spark_conf_jvm_options_add_to_the_utc_clock_and_other_keys_replace(tmp_path):
    plain = runtime.spark_conf(Settings().with_paths(tmp_path))
    driver = f"-Duser.timezone=UTC -Dlog4j2.configurationFile={runtime.LOG4J}"
    assert plain["spark.driver.extraJavaOptions"] == driver
    spark = Settings().spark.model_copy(
        update={
            "conf": {
                "spark.driver.extraJavaOptions": "-Xss4m",
                "spark.sql.shuffle.partitions": "16",
            }
        }
    )
    conf = runtime.spark_conf(Settings(spark=spark).with_paths(tmp_path))
    assert conf["spark.driver.extraJavaOptions"] == f"{driver} -Xss4m"
    assert conf["spark.executor.extraJavaOptions"] == "-Duser.timezone=UTC"
    assert conf["spark.sql.shuffle.partitions"] == "16"
    assert conf["spark.sql.session.timeZone"] == "UTC"


def test_environment_variable_picks_the_settings_file(tmp_path, monkeypatch):
    conf = tmp_path / "x.yaml"
    conf.write_text("env: x\nspark:\n  shuffle_partitions: 7\n")
    monkeypatch.setenv("RECONNECT_CONF", str(conf))
    assert load_settings().spark.shuffle_partitions == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("spark: [1, 2]", "spark"),
        ("streaming:\n  processing_time: soon\n", "streaming.processing_time"),
        ("streaming:\n  max_files_per_trigger: 0\n", "streaming.max_files_per_trigger"),
        ("catalog:\n  bronz: x\n", "catalog.bronz"),
        ("- a\n- b\n", "expected a mapping"),
        ("spark: {master: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_settings_name_the_file_and_the_field(tmp_path, text, expected):
    conf = tmp_path / "bad.yaml"
    conf.write_text(text)
    with pytest.raises(SettingsError) as err:
        load_settings(conf)
    assert str(conf) in str(err.value) and expected in str(err.value)


def test_missing_settings_file_is_named():
    with pytest.raises(SettingsError, match=r"nope\.yaml: settings file not found"):
        load_settings(Path("/nonexistent/nope.yaml"))


def test_missing_java_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(runtime.RuntimeSetupError, match="Java was not found"):
        runtime._check_java()


def test_catalog_names_and_locations_come_from_settings(tmp_path):
    settings = Settings().with_paths(tmp_path)
    statements = [s for p in migration_files() for s in render_migration(p, settings)]
    assert statements[0] == "CREATE SCHEMA IF NOT EXISTS bronze"
    assert any(f"LOCATION '{tmp_path}/lakehouse/bronze/events'" in s for s in statements)
    assert not any("${" in s for s in statements)


def test_jar_repair_finds_modules_ivy_resolved_from_a_pom_only_maven_folder(tmp_path):
    """Ivy takes a module from ~/.m2 when its POM is there, and fails when its jar is not."""
    ivy, m2 = tmp_path / "ivy", tmp_path / "m2"

    def ivy_module(group: str, artifact: str, version: str, jar: bool) -> None:
        folder = ivy / group / artifact
        folder.mkdir(parents=True)
        (folder / f"ivy-{version}.xml").write_text("<ivy-module/>")
        if jar:
            (folder / "jars").mkdir()
            (folder / "jars" / f"{artifact}-{version}.jar").write_text("")

    def m2_module(group: str, artifact: str, version: str, packaging: str, jar: bool) -> None:
        folder = m2.joinpath(*group.split("."), artifact, version)
        folder.mkdir(parents=True)
        (folder / f"{artifact}-{version}.pom").write_text(
            f"<project><packaging>{packaging}</packaging></project>"
        )
        if jar:
            (folder / f"{artifact}-{version}.jar").write_text("")

    ivy_module("org.slf4j", "slf4j-api", "2.0.13", jar=False)
    m2_module("org.slf4j", "slf4j-api", "2.0.13", "jar", jar=False)  # the broken case
    ivy_module("io.delta", "delta-storage", "4.4.0", jar=True)  # resolved fine
    m2_module("io.delta", "delta-storage", "4.4.0", "jar", jar=False)
    ivy_module("org.example", "parent", "1.0", jar=False)
    m2_module("org.example", "parent", "1.0", "pom", jar=False)  # nothing to fetch
    ivy_module("org.example", "complete", "1.0", jar=False)
    m2_module("org.example", "complete", "1.0", "bundle", jar=True)  # jar already there
    ivy_module("org.example", "remote", "1.0", jar=False)  # not in ~/.m2 at all

    assert runtime.pom_only_artifacts(ivy, m2) == ["org.slf4j:slf4j-api:2.0.13"]


def test_delta_rebuilds_table_state_in_one_task_on_local_spark_only(tmp_path):
    key = "spark.databricks.delta.snapshotPartitions"
    local = Settings(spark=SparkSettings(shuffle_partitions=8)).with_paths(tmp_path)
    assert runtime.spark_conf(local)[key] == "1"  # small logs: a task's start outweighs its work
    cluster = Settings(spark=SparkSettings(master=None, shuffle_partitions=8)).with_paths(tmp_path)
    assert runtime.spark_conf(cluster)[key] == "8"
    chosen = SparkSettings(conf={key: "4"})  # spark.conf still replaces it
    assert runtime.spark_conf(Settings(spark=chosen).with_paths(tmp_path))[key] == "4"


def test_the_driver_logs_errors_only_with_the_packaged_log4j_file():
    assert runtime.LOG4J.is_file()
    assert "rootLogger.level = error" in runtime.LOG4J.read_text()
