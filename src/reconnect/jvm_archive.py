"""A class-data archive of the local Spark JVM, so that every cold start loads fewer classes.

A cold ``reconnect`` process spends ~15-20 s on local Spark before its first job does any work,
much of it the JVM loading and verifying the classes of Spark, Delta and their dependencies from
jars. HotSpot can map classes it loaded in an earlier run from an archive instead
(class-data sharing, JDK 13+): ``-XX:ArchiveClassesAtExit`` writes the classes a run loaded when
its JVM exits, ``-XX:SharedArchiveFile`` maps them at start.

``make jars`` (:func:`reconnect.runtime.warm_up`) makes the archive once, from a JVM that runs
the product's demo on a tiny generated shop (every job: ingest, feeds, detect, send), so it
holds the classes those jobs load. :func:`reconnect.runtime.build_spark_session` then adds
``-XX:SharedArchiveFile`` to a local session's driver JVM when the archive exists
(``spark.class_archive``, on by default). Measured in docs/benchmarks.md ("A class archive for
cold starts").

Safety: the JVM refuses an archive made by another JVM build or for another class path and
starts normally (its warning is silenced, the start is just not faster), but a truncated
archive can crash it. So the archive is written under a temporary name, checked by starting
a JVM with it, and only then renamed into place; its name carries the Java binary, the pyspark
installation (whose jars are the JVM's class path) and the Delta version, so another
installation (another virtual environment) never picks it up.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

# The JVM's own messages about the archive (a mismatch it works around, classes it skips while
# writing) are warnings printed on the JVM's stdout; none of them changes what a job does.
QUIET = "-Xlog:cds=off,cds+dynamic=off"

_DEMO_EVENTS = "600"  # event lines of the workload's shop: every job runs, each in seconds
_DEMO_DAYS = "2"


def java_binary() -> str | None:
    """The java Spark's launcher runs: ``$JAVA_HOME/bin/java``, else the first on ``PATH``."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.isfile(os.path.join(home, "bin", "java")):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def archive_path() -> Path | None:
    """Where the archive of this Java, Spark and Delta lives (None without Java)."""
    java = java_binary()
    if java is None:
        return None
    # Spark's launcher puts the jars of this pyspark installation on the JVM's class path, which
    # the archive must match: one archive per Java binary, pyspark installation and Delta.
    key = "|".join(
        (os.path.realpath(java), _pyspark_dir(), version("pyspark"), version("delta-spark"))
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(cache_dir(), f"jvm-classes-{digest}.jsa")


def _pyspark_dir() -> str:
    """The folder of the pyspark installation this process imports (its real path)."""
    spec = importlib.util.find_spec("pyspark")
    return os.path.realpath(os.path.dirname(spec.origin) if spec and spec.origin else "")


def _owner(archive: Path) -> Path:
    """The file beside an archive that names the pyspark installation it was made for."""
    return archive.with_suffix(".owner")


def _record_owner(archive: Path) -> None:
    """Name this pyspark installation beside ``archive`` (without it, it is only never pruned)."""
    with contextlib.suppress(OSError):
        _owner(archive).write_text(_pyspark_dir() + "\n")


def prune() -> list[Path]:
    """Remove the archives made for pyspark installations that no longer exist.

    Each virtual environment (each clone, in CI) gets its own ~200 MB archive in the user's
    cache, which outlives it; an archive whose recorded installation folder is gone can never
    be mapped again. Archives without a record (made before records were kept) are left alone.
    Returns the archives removed.
    """
    removed: list[Path] = []
    for archive in sorted(Path(cache_dir()).glob("jvm-classes-*.jsa")):
        try:
            owner = _owner(archive).read_text().strip()
        except OSError:
            continue
        if owner and not os.path.isdir(owner):
            try:
                for path in (archive, archive.with_suffix(".log"), _owner(archive)):
                    path.unlink(missing_ok=True)
            except OSError:
                continue  # not ours to remove (permissions): left as it is
            removed.append(archive)
    return removed


def cache_dir() -> str:
    """Reconnect's folder of machine-local caches (the jar list, the class archive)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "reconnect")


def driver_options() -> str | None:
    """The driver JVM options that map the archive, or None when there is no archive."""
    path = archive_path()
    if path is None or not path.is_file():
        return None
    return f"-XX:SharedArchiveFile={path} {QUIET}"


def usable(path: Path) -> bool:
    """Whether a JVM starts with ``path`` as its archive (a damaged archive can crash it)."""
    java = java_binary()
    if java is None:
        return False
    with tempfile.TemporaryDirectory(prefix="reconnect-jvm-check-") as cwd:  # a crash's report
        done = subprocess.run(
            [java, f"-XX:SharedArchiveFile={path}", QUIET, "-XX:-CreateCoredumpOnCrash",
             "-version"],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=60,
        )  # fmt: skip
    return done.returncode == 0


def make(timeout_s: float = 900) -> tuple[Path | None, str]:
    """Make the archive if it is missing; ``(path or None, what happened)``. Never raises.

    The workload runs in a child process (a JVM's options are fixed when it starts), which
    waits for its JVM to exit, since the JVM writes the archive as it exits. Its output goes to
    a log file beside the archive.
    """
    target = archive_path()
    if target is None:
        return None, "no class archive: Java was not found"
    if target.is_file():
        if not _owner(target).is_file():  # made before owners were recorded
            _record_owner(target)
        return target, f"class archive present: {target}"
    target.parent.mkdir(parents=True, exist_ok=True)
    log = target.with_suffix(".log")
    partial = target.with_name(f"{target.stem}.{os.getpid()}.partial")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="reconnect-jvm-archive-") as work,
            log.open("w") as out,
        ):
            child = [sys.executable, "-m", "reconnect.jvm_archive", str(Path(work, "demo"))]
            done = subprocess.run(
                [*child, str(partial)],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=timeout_s,
            )
        if done.returncode != 0 or not partial.is_file():
            return None, f"no class archive: the workload failed (exit {done.returncode}; {log})"
        if not usable(partial):
            return None, f"no class archive: the JVM did not start with the one written ({log})"
        partial.replace(target)
        _record_owner(target)
        return target, f"class archive made: {target} ({target.stat().st_size // 2**20} MiB)"
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"no class archive: {e}"
    finally:
        partial.unlink(missing_ok=True)


def _run_workload(root: str, partial: str) -> int:
    """The child of :func:`make`: the demo on a tiny shop in a JVM that writes ``partial``."""
    import yaml

    from reconnect import cli
    from reconnect.settings import Settings, SparkSettings

    dump = f"-XX:ArchiveClassesAtExit={partial} {QUIET}"
    spark = SparkSettings(
        class_archive=False,
        conf={"spark.driver.extraJavaOptions": dump, "spark.ui.showConsoleProgress": "false"},
    )
    settings = Settings(spark=spark)
    conf = Path(root).with_suffix(".yaml")
    Path(root).parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(yaml.safe_dump(settings.model_dump(mode="json")))
    code = cli.main(["demo", "--conf", str(conf), "--root", root, "--events", _DEMO_EVENTS,
                     "--days", _DEMO_DAYS])  # fmt: skip
    if code != 0:
        return code
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    proc = getattr(SparkContext._gateway, "proc", None)
    if proc is None or proc.stdin is None:
        return 1  # not a JVM this process launched: nothing writes the archive
    proc.stdin.close()  # the JVM exits when its stdin closes, and writes the archive as it exits
    return int(proc.wait(timeout=600))


if __name__ == "__main__":
    sys.exit(_run_workload(sys.argv[1], sys.argv[2]))
