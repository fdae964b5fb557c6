"""SQL access for analysts' tools: Spark's Thrift JDBC/ODBC server inside a session's JVM.

The server (HiveServer2's protocol: beeline, DBeaver, PyHive, BI tools' Spark/Hive drivers)
runs in the session that registered the tables, so every connection sees the same catalog
(``bronze.*``, ``silver.*``, ``gold.*``...). Each connection gets a session of its own
(``SparkSession.newSession``: its own current database, temporary views and SQL settings) over
that shared catalog. No authentication: see ``reconnect serve`` in docs/analytics.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class CannotListen(Exception):
    """The server cannot listen on this host and port (in use, or not an address of this host)."""


def check_can_listen(host: str, port: int) -> None:
    """Raise :class:`CannotListen` unless a server socket can be bound to ``host:port`` now.

    Checked before the session starts, so a taken port costs a second, not a Spark start. The
    socket reuses addresses as Java's server sockets do, so connections of an earlier server
    still closing (TIME_WAIT) do not count as in use.
    """
    if not 1 <= port <= 65535:
        raise CannotListen(f"--port {port}: a port is a number from 1 to 65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as e:
        raise CannotListen(f"--host {host}: not a host name or address ({e.strerror})") from e
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            raise CannotListen(_why_not(host, port, e.strerror or str(e))) from e


def _why_not(host: str, port: int, reason: str) -> str:
    return (
        f"cannot listen on {host}:{port} ({reason}): another server (an earlier 'reconnect "
        "serve'?) has that port; stop it or choose another with --port"
        if "in use" in reason.lower()
        else f"cannot listen on {host}:{port} ({reason})"
    )


class ThriftServer:
    """Spark's Thrift server running in a session's JVM (:func:`start_thrift_server`)."""

    def __init__(self, spark: SparkSession, server: Any, host: str, port: int, work: str) -> None:
        self._spark = spark
        self._server = server
        self._work = work
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        """The JDBC URL of the server's ``default`` database."""
        return f"jdbc:hive2://{self.host}:{self.port}/default"

    def alive(self) -> bool:
        """Whether the session the server runs in is still up."""
        jsc = self._spark.sparkContext._jsc
        return jsc is not None and not jsc.sc().isStopped()

    def stop(self) -> None:
        """Stop the server (open connections are closed) and remove its scratch folder."""
        try:
            self._server.stop()
        finally:
            shutil.rmtree(self._work, ignore_errors=True)


def start_thrift_server(spark: SparkSession, host: str, port: int) -> ThriftServer:
    """Start Spark's Thrift server in ``spark``'s JVM, listening on ``host:port``.

    ``HiveThriftServer2.startWithSparkSession(session, exitOnError=false)``: a failure is raised
    here instead of ending the JVM (``startWithContext`` passes true). The server's Hive settings
    are read from the session's Hadoop configuration, which holds its SQL settings: they are set
    on the session first. Hive's scratch, resource and operation-log folders go to a temporary
    folder removed by :meth:`ThriftServer.stop`. A port taken in the meantime (since
    :func:`check_can_listen`) raises :class:`CannotListen`.
    """
    from py4j.protocol import Py4JJavaError

    work = tempfile.mkdtemp(prefix="reconnect-serve-")
    hive = {
        "hive.server2.thrift.bind.host": host,
        "hive.server2.thrift.port": str(port),
        "hive.server2.transport.mode": "binary",
        "hive.server2.authentication": "NONE",
        "hive.server2.logging.operation.log.location": os.path.join(work, "operation_logs"),
        "hive.downloaded.resources.dir": os.path.join(work, "${hive.session.id}_resources"),
        "hive.exec.local.scratchdir": os.path.join(work, "scratch"),
    }
    for key, value in hive.items():
        spark.conf.set(key, value)
    for folder in ("operation_logs", "scratch"):  # Hive logs an error for a missing one
        os.makedirs(os.path.join(work, folder))
    jvm = spark._jvm
    assert jvm is not None
    # A failed start is raised below: Hive's own error line (with its trace) would only repeat it.
    log4j = jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel(
        "org.apache.hive.service.CompositeService", log4j.Level.OFF
    )
    thrift = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2
    try:
        server = thrift.startWithSparkSession(spark._jsparkSession, False)
    except Py4JJavaError as e:
        shutil.rmtree(work, ignore_errors=True)
        bind = _bind_error(e.java_exception)
        if bind is not None:
            raise CannotListen(_why_not(host, port, bind)) from e
        raise
    return ThriftServer(spark, server, host, port, work)


def _bind_error(error: Any) -> str | None:
    """The message of the ``java.net.BindException`` among a Java error's causes, if any."""
    while error is not None:
        if error.getClass().getName() == "java.net.BindException":
            return str(error.getMessage())
        error = error.getCause()
    return None


def table_counts(spark: SparkSession) -> dict[str, int]:
    """The number of tables (not temporary views) in each schema of the session's catalog."""
    counts: Counter[str] = Counter()
    for database in spark.catalog.listDatabases():
        for row in spark.sql(f"SHOW TABLES IN `{database.name}`").collect():
            if not row["isTemporary"]:
                counts[database.name] += 1
    return dict(sorted(counts.items()))


def wait_for_stop_signal(alive: Callable[[], bool], check_every: float = 5.0) -> str | None:
    """Block until SIGINT or SIGTERM (its name is returned) or until ``alive()`` is false (None).

    The handlers are this process's only while waiting; the previous ones come back after.
    (PySpark starts its JVM ignoring SIGINT, so a Ctrl-C on the terminal reaches Python only.)
    """
    received: list[str] = []
    done = threading.Event()

    def note(signum: int, frame: object) -> None:
        received.append(signal.Signals(signum).name)
        done.set()

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not done.wait(check_every):
            if not alive():
                return None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return received[0]
