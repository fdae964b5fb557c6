"""The JVM's class archive: mapped only where it fits, made only when a JVM starts with it."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
from pathlib import Path

import pytest

from reconnect import jvm_archive, runtime
from reconnect.settings import Settings, SparkSettings


@pytest.fixture
def archive(tmp_path, monkeypatch):
    path = tmp_path / "cache" / "jvm-classes-test.jsa"
    path.parent.mkdir()
    monkeypatch.setattr(jvm_archive, "archive_path", lambda: path)
    monkeypatch.setattr(runtime, "_cached_jar_list", lambda: ["/jars/delta-spark.jar"])
    return path


def _driver_options(settings: Settings, tmp_path) -> str:
    conf = runtime.session_conf(settings.with_paths(tmp_path))
    return conf["spark.driver.extraJavaOptions"]


def test_a_local_session_with_the_remembered_jars_maps_the_archive(archive, tmp_path):
    archive.write_bytes(b"made by make jars")
    spark = SparkSettings(conf={"spark.driver.extraJavaOptions": "-Xss4m"})
    conf = runtime.session_conf(Settings(spark=spark).with_paths(tmp_path))
    options = conf["spark.driver.extraJavaOptions"]
    assert (
        options == f"-Duser.timezone=UTC -Xss4m -XX:SharedArchiveFile={archive} {jvm_archive.QUIET}"
    )
    assert conf["spark.jars"] == "/jars/delta-spark.jar"
    assert "SharedArchiveFile" not in conf["spark.executor.extraJavaOptions"]


def test_no_archive_without_the_file_off_a_local_master_or_when_turned_off(archive, tmp_path):
    assert "SharedArchiveFile" not in _driver_options(Settings(), tmp_path)  # not made yet
    archive.write_bytes(b"made by make jars")
    for spark in (
        SparkSettings(class_archive=False),
        SparkSettings(master=None),  # a cluster: spark-submit or the platform starts the JVM
        SparkSettings(master="spark://host:7077"),
    ):
        assert "SharedArchiveFile" not in _driver_options(Settings(spark=spark), tmp_path)
    assert "SharedArchiveFile" in _driver_options(
        Settings(spark=SparkSettings(master="local")), tmp_path
    )


def test_a_first_start_resolves_the_jars_and_maps_no_archive(archive, tmp_path, monkeypatch):
    archive.write_bytes(b"made for other jars")
    monkeypatch.setattr(runtime, "_cached_jar_list", lambda: [])
    conf = runtime.session_conf(Settings().with_paths(tmp_path))
    assert conf["spark.jars.packages"] == runtime.delta_maven_coordinates()
    assert "spark.jars" not in conf
    assert "SharedArchiveFile" not in conf["spark.driver.extraJavaOptions"]


@pytest.mark.skipif(jvm_archive.java_binary() is None, reason="needs Java")
def test_a_truncated_archive_is_not_usable_and_leaves_no_crash_report(tmp_path, monkeypatch):
    whole = tmp_path / "small.jsa"
    # A small archive of the classes `java -version` loads (~0.2 s), by the java usable() runs.
    subprocess.run(
        [
            str(jvm_archive.java_binary()),
            f"-XX:ArchiveClassesAtExit={whole}",
            jvm_archive.QUIET,
            "-version",
        ],
        check=True,
        capture_output=True,
    )
    cut = tmp_path / "cut.jsa"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 4])
    monkeypatch.chdir(tmp_path)
    assert jvm_archive.usable(whole)
    assert not jvm_archive.usable(cut)  # the JVM aborts mapping it
    assert not list(tmp_path.glob("hs_err*")) and not list(tmp_path.glob("core*"))


class FakeRuns:
    """subprocess.run for make(): the workload writes the partial archive, exits with ``code``."""

    def __init__(self, code: int = 0) -> None:
        self.code = code
        self.workloads = 0

    def __call__(self, cmd, **kwargs):
        assert cmd[1:3] == ["-m", "reconnect.jvm_archive"]
        self.workloads += 1
        kwargs["stdout"].write("demo output\n")
        Path(cmd[-1]).write_bytes(b"classes")
        return subprocess.CompletedProcess(cmd, self.code)


def test_make_keeps_an_archive_only_when_a_jvm_starts_with_it(archive, monkeypatch):
    runs = FakeRuns()
    monkeypatch.setattr(jvm_archive.subprocess, "run", runs)
    monkeypatch.setattr(jvm_archive, "usable", lambda path: False)
    path, said = jvm_archive.make()
    assert path is None and "did not start" in said
    assert list(archive.parent.iterdir()) == [archive.with_suffix(".log")]  # no partial file

    monkeypatch.setattr(jvm_archive, "usable", lambda p: p.read_bytes() == b"classes")
    path, said = jvm_archive.make()
    assert path == archive and archive.read_bytes() == b"classes" and "made" in said
    assert sorted(p.name for p in archive.parent.iterdir()) == [
        archive.name,
        archive.with_suffix(".log").name,
        archive.with_suffix(".owner").name,
    ]
    # Beside it, the installation it was made for (what prune() checks).
    assert archive.with_suffix(".owner").read_text().strip() == jvm_archive._pyspark_dir()
    assert runtime.session_conf(Settings())["spark.driver.extraJavaOptions"].endswith(
        f"-XX:SharedArchiveFile={archive} {jvm_archive.QUIET}"
    )

    path, said = jvm_archive.make()  # made once: later calls (every `make jars`) do not run it
    assert path == archive and "present" in said and runs.workloads == 2
    archive.with_suffix(".owner").unlink()  # an archive made before owners were recorded
    jvm_archive.make()
    assert archive.with_suffix(".owner").read_text().strip() == jvm_archive._pyspark_dir()


def test_make_reports_a_failed_workload_and_keeps_nothing(archive, monkeypatch):
    monkeypatch.setattr(jvm_archive.subprocess, "run", FakeRuns(code=1))
    path, said = jvm_archive.make()
    assert path is None
    assert "the workload failed (exit 1" in said and str(archive.with_suffix(".log")) in said
    assert not archive.exists() and archive.with_suffix(".log").read_text() == "demo output\n"


def test_each_java_and_pyspark_installation_has_its_own_archive(monkeypatch, tmp_path):
    # The launcher puts <pyspark>/jars on the JVM's class path: another virtual environment's
    # JVM could not use this one's archive (it would start without it, no faster).
    here = jvm_archive.archive_path()
    assert here is not None and here.suffix == ".jsa"
    moved = importlib.machinery.ModuleSpec("pyspark", None, origin=str(tmp_path / "__init__.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: moved)
    assert jvm_archive.archive_path() != here
    monkeypatch.undo()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "java").write_text("#!/bin/sh\n")
    assert jvm_archive.archive_path() != here


def test_prune_removes_only_the_archives_of_installations_that_are_gone(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = Path(jvm_archive.cache_dir())
    cache.mkdir(parents=True)
    venv = tmp_path / "venv" / "pyspark"
    venv.mkdir(parents=True)

    def made(name: str, owner: str | None) -> Path:
        archive = cache / f"jvm-classes-{name}.jsa"
        archive.write_bytes(b"classes")
        archive.with_suffix(".log").write_text("demo output\n")
        if owner is not None:
            archive.with_suffix(".owner").write_text(owner + "\n")
        return archive

    alive = made("alive", str(venv))
    gone = made("gone", str(tmp_path / "deleted-clone" / "pyspark"))
    unrecorded = made("unrecorded", None)  # made before owners were recorded: left alone
    (cache / "jars-io.delta:delta-spark_4.1_2.13:4.4.0.txt").write_text("/jars/delta.jar\n")

    assert jvm_archive.prune() == [gone]
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [
            alive.name,
            alive.with_suffix(".log").name,
            alive.with_suffix(".owner").name,
            unrecorded.name,
            unrecorded.with_suffix(".log").name,
            "jars-io.delta:delta-spark_4.1_2.13:4.4.0.txt",
        ]
    )
    assert jvm_archive.prune() == []
