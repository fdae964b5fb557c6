"""The one place a SparkSession is built, from typed settings.

Locally it is embedded Spark with Delta Lake (jars resolved from Maven Central on first start,
then from the local Ivy / Maven cache). On a cluster the same call only adds what the settings
say: set ``spark.master: null`` and ``spark.delta_jars: provided`` and the platform's session
settings win.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from reconnect.settings import DEFAULT_CONF_DIR, Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class RuntimeSetupError(RuntimeError):
    """Spark could not start; the message says what is missing and how to get it."""


def _check_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    java = shutil.which("java") or (java_home and os.path.join(java_home, "bin", "java"))
    if not java or not os.path.exists(java):
        raise RuntimeSetupError(
            "Java was not found: Spark needs a Java 17 runtime. Install it (Debian: "
            "'apt-get install openjdk-17-jre-headless') or set JAVA_HOME."
        )


def delta_maven_coordinates() -> str:
    """The Maven coordinates of the Delta jar matching the installed delta-spark package."""
    from importlib.metadata import version

    return f"io.delta:delta-spark_4.1_2.13:{version('delta-spark')}"


_APPENDED_OPTIONS = ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions")
LOG4J = DEFAULT_CONF_DIR / "log4j2.properties"


def spark_conf(settings: Settings) -> dict[str, str]:
    """The Spark settings of a session for ``settings``: Reconnect's own, then ``spark.conf``.

    A key of ``spark.conf`` replaces Reconnect's value, except the JVM options, which are added
    to the UTC clock flag (so a setting such as ``-Xss4m`` cannot drop it).
    """
    s = settings.spark
    conf: dict[str, str] = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(s.shuffle_partitions),
        "spark.ui.enabled": str(s.ui_enabled).lower(),
        # Spark's console stage bars run together into one line in a log; the CLI prints a line
        # per micro-batch instead.
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
        # Rebuilding a table's state from its log: one task on local Spark, where the logs are
        # small and a task's start costs more than its work (docs/decisions.md).
        "spark.databricks.delta.snapshotPartitions": (
            "1" if _local(s.master) else str(max(2, s.shuffle_partitions))
        ),
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.sql.warehouse.dir": os.path.join(settings.paths.lakehouse, "_warehouse"),
        # The JVM clock zone matters for a few legacy datetime paths; keep it UTC as well. The
        # driver logs errors only (conf/log4j2.properties): no start-up noise in the output.
        "spark.driver.extraJavaOptions": f"-Duser.timezone=UTC -Dlog4j2.configurationFile={LOG4J}",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    }
    if s.driver_memory:
        conf["spark.driver.memory"] = s.driver_memory
    for key, value in s.conf.items():
        conf[key] = f"{conf[key]} {value}" if key in _APPENDED_OPTIONS else value
    return conf


def session_conf(settings: Settings) -> dict[str, str]:
    """:func:`spark_conf` plus how a new session gets Delta's jars.

    With ``delta_jars: maven``: the jars Ivy resolved on an earlier start (``spark.jars``, no
    resolution), else the Maven coordinates (``spark.jars.packages``).
    """
    s = settings.spark
    conf = spark_conf(settings)
    if s.delta_jars != "maven":
        return conf
    cached_jars = _cached_jar_list()
    if not cached_jars:
        conf["spark.jars.packages"] = delta_maven_coordinates()
        return conf
    conf["spark.jars"] = ",".join(cached_jars)  # resolved before: skip Ivy (quiet, offline)
    return conf


def with_delta_on_class_path(settings: Settings) -> Settings:
    """``settings`` whose session also has Delta's jars on the JVM's class path, after Spark's.

    Spark loads ``spark.jars`` in a class loader of its own, which code that starts from the
    JVM's class path does not see: a thread of Spark's Thrift server runs in the class loader of
    Hive's session (its parent is the class path), and there Delta's catalog is not found
    (``reconnect serve``, docs/analytics.md). Spark's own jars come first, so that a library
    both ship (Jackson, Parquet...) is still Spark's, as with ``spark.jars``. With
    ``delta_jars: provided`` the platform decides the class path: nothing changes.
    """
    import pyspark

    s = settings.spark
    if s.delta_jars != "maven":
        return settings
    jars = _cached_jar_list()
    if not jars:
        raise RuntimeSetupError(
            "Delta's jars have not been fetched on this machine yet: run 'make jars' (or any "
            "other reconnect command once), then try again."
        )
    spark_home = os.environ.get("SPARK_HOME") or os.path.dirname(pyspark.__file__)
    entries = [os.path.join(spark_home, "jars", "*")]
    entries += [j.removeprefix("file://").removeprefix("file:") for j in jars]
    if own := s.conf.get("spark.driver.extraClassPath"):
        entries.insert(0, own)
    conf = {**s.conf, "spark.driver.extraClassPath": os.pathsep.join(entries)}
    return settings.model_copy(update={"spark": s.model_copy(update={"conf": conf})})


def build_spark_session(settings: Settings) -> SparkSession:
    """Build (or return the running) SparkSession for ``settings``.

    Always UTC (every decision in Reconnect is in event time, stored as UTC) and with Delta's
    SQL extension and catalog.
    """
    # Python workers (pandas UDFs, transformWithStateInPandas) must run this interpreter, not
    # whatever `python3` is first on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active

    s = settings.spark
    if s.delta_jars == "maven":
        _check_java()
    conf = session_conf(settings)
    resolving = s.delta_jars == "maven" and "spark.jars.packages" in conf

    builder = SparkSession.builder.appName(s.app_name)
    if s.master:
        builder = builder.master(s.master)
    for key, value in conf.items():
        builder = builder.config(key, value)

    try:
        session = builder.getOrCreate()
    except Exception as e:  # py4j / gateway errors carry no useful type
        if s.delta_jars == "maven":
            raise RuntimeSetupError(
                f"Spark could not start with Delta Lake ({delta_maven_coordinates()}). If the "
                "log above shows 'UNRESOLVED DEPENDENCIES', the jars could not be fetched from "
                "Maven Central: run 'make jars' (it retries with Maven when Maven is installed) "
                f"and try again. Cause: {e}"
            ) from e
        raise
    session.sparkContext.setLogLevel("ERROR")
    if resolving:  # remembered for the next starts (session_conf)
        _remember_jar_list(session.sparkContext.getConf().get("spark.jars", ""))
    return session


def _local(master: str | None) -> bool:
    return master is not None and (master == "local" or master.startswith("local["))


def cache_dir() -> str:
    """Reconnect's folder of machine-local caches (``$XDG_CACHE_HOME/reconnect``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "reconnect")


def _jar_list_file() -> str:
    return os.path.join(cache_dir(), f"jars-{delta_maven_coordinates()}.txt")


def _cached_jar_list() -> list[str]:
    """Jars Ivy resolved for this Delta version on an earlier start, if all are still there."""
    try:
        with open(_jar_list_file()) as f:
            jars = [line.strip() for line in f if line.strip()]
    except OSError:
        return []
    local = [j.removeprefix("file://").removeprefix("file:") for j in jars]
    return jars if jars and all(os.path.isfile(p) for p in local) else []


def _remember_jar_list(jars: str) -> None:
    paths = [j for j in jars.split(",") if j]
    if not paths:
        return
    target = _jar_list_file()
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w") as f:
        f.write("\n".join(paths) + "\n")


def warm_up() -> None:
    """Start and stop a local session once, so Delta's jars are resolved and cached now.

    Spark's resolver (Ivy) looks in the local Maven repository (``~/.m2``) first, and takes a
    module from there when its POM is there even if its jar is not: it then fails instead of
    downloading. Maven leaves such POM-only folders for versions it considered and did not pick.
    When the first start fails and ``mvn`` is installed, Maven fetches Delta's dependencies and
    the jars of every POM-only folder, and the start is tried once more.
    """
    _check_java()  # a missing Java is not something Maven can repair
    try:
        session = build_spark_session(Settings())
    except RuntimeSetupError:
        if not shutil.which("mvn"):
            raise
        print("Spark could not resolve Delta's jars; fetching them with Maven and retrying")
        _mvn_get(delta_maven_coordinates(), transitive=True)
        home = Path.home()
        for coordinates in pom_only_artifacts(
            home / ".ivy2.5.2" / "cache", home / ".m2" / "repository"
        ):
            _mvn_get(coordinates, transitive=False)
        session = build_spark_session(Settings())
    print(f"Spark {session.version} with Delta ({delta_maven_coordinates()}) is ready")
    session.stop()


def _mvn_get(coordinates: str, transitive: bool) -> None:
    subprocess.run(
        ["mvn", "-q", "dependency:get", f"-Dartifact={coordinates}", f"-Dtransitive={transitive}"],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def pom_only_artifacts(ivy_cache: Path, repository: Path) -> list[str]:
    """Modules Ivy resolved without a jar whose Maven folder holds a POM and no jar.

    ``group:artifact:version`` each; a POM declaring a packaging other than jar or bundle is
    left out (it has no jar to fetch).
    """
    found = []
    for descriptor in sorted(ivy_cache.glob("*/*/ivy-*.xml")):
        group, artifact = descriptor.parent.parent.name, descriptor.parent.name
        version = descriptor.name.removeprefix("ivy-").removesuffix(".xml")
        if (descriptor.parent / "jars" / f"{artifact}-{version}.jar").exists():
            continue
        folder = repository.joinpath(*group.split("."), artifact, version)
        pom = folder / f"{artifact}-{version}.pom"
        if not pom.exists() or (folder / f"{artifact}-{version}.jar").exists():
            continue
        packaging = re.search(
            r"<packaging>\s*([^<\s]+)\s*</packaging>", pom.read_text("utf-8", "replace")
        )
        if packaging and packaging.group(1) not in ("jar", "bundle"):
            continue
        found.append(f"{group}:{artifact}:{version}")
    return found
