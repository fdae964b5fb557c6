"""`reconnect serve`: the lake's tables over HiveServer2's protocol (JDBC/ODBC).

The console script serves, from a process of its own, a lake this test wrote; PyHive (Python)
and beeline (Hive's JDBC client, in PySpark's jars) query it by the tables' catalog names, and
SIGINT stops it with exit 0. A port that is taken stops the command before Spark starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pyspark
import pytest
import yaml
from tests.helpers.serving import free_port, lines_of

from reconnect.lake.schemas import MESSAGES
from reconnect.lake.tables import GOLD_MESSAGES

RECONNECT = str(Path(sys.executable).parent / "reconnect")
SPARK_JARS = Path(pyspark.__file__).parent / "jars"
T0 = datetime(2026, 3, 2, 9, 0)
QUERY = "SELECT state, count(*) AS n FROM gold.messages GROUP BY state ORDER BY state"
STATES = ["SENT", "SENT", "SUPPRESSED", "SENT", "CANCELLED", "SUPPRESSED"]


def settings_file(tmp_path: Path, lakehouse: str) -> Path:
    conf = tmp_path / "conf.yaml"
    conf.write_text(yaml.safe_dump({
        # Test-only speed settings, as in conftest.py: a small driver beside the tests' own, and
        # expressions evaluated interpreted (no Java generated and compiled for each query).
        "spark": {"driver_memory": "1g", "shuffle_partitions": 2,
                  "conf": {"spark.sql.codegen.wholeStage": "false",
                           "spark.sql.codegen.factoryMode": "NO_CODEGEN"}},
        "paths": {"lakehouse": lakehouse, "landing": str(tmp_path / "landing"),
                  "checkpoints": str(tmp_path / "checkpoints")},
    }))  # fmt: skip
    return conf


def message(n: int, state: str) -> tuple[object, ...]:
    row = {"message_id": f"m{n}", "journey_id": f"j{n}", "campaign_id": "cart",
           "campaign_type": "cart_abandonment", "variation_id": "default", "is_control": False,
           "step_number": 1, "step_name": "reminder", "person_key": f"c:c{n}",
           "user_id": f"d{n}", "cuid": f"c{n}", "trigger_time": T0, "due_at": T0, "send_at": T0,
           "state": state, "channel": "email"}  # fmt: skip
    return tuple(row.get(f) for f in MESSAGES.fieldNames())


def beeline(port: int, query_file: Path) -> subprocess.CompletedProcess[str]:
    java = shutil.which("java") or os.path.join(os.environ["JAVA_HOME"], "bin", "java")
    # -f, not -e: with -e beeline writes its prompt before the first line of the result
    return subprocess.run(
        [java, "-cp", f"{SPARK_JARS}/*", "org.apache.hive.beeline.BeeLine",
         "-u", f"jdbc:hive2://127.0.0.1:{port}/default", "--outputformat=csv2", "--silent=true",
         "-f", str(query_file)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.spark
def test_serve_answers_pyhive_and_beeline_over_the_tables_and_stops_on_sigint(
    spark, lake, tmp_path
):
    from pyhive import hive

    rows = [message(n, state) for n, state in enumerate(STATES)]
    spark.createDataFrame(rows, MESSAGES).write.format("delta").mode("append").save(
        GOLD_MESSAGES.location(lake)
    )
    port = free_port()
    conf = settings_file(tmp_path, lake.paths.lakehouse)
    started = time.monotonic()
    server = subprocess.Popen(
        [RECONNECT, "serve", "--conf", str(conf), "--port", str(port)],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    stderr = lines_of(server.stderr)
    try:
        out = lines_of(server.stdout)
        first = out.get(timeout=120)
        assert first == (
            f"serving the lake's tables over JDBC at jdbc:hive2://127.0.0.1:{port}/default "
            "(Ctrl-C stops)"
        ), first
        tables = out.get(timeout=10)
        assert tables is not None
        total, _, schemas = tables.partition(" tables: ")
        counts = dict(s.rstrip(")").split(" (") for s in schemas.split(", "))
        assert {"bronze", "silver", "gold"} <= counts.keys()
        assert int(total) == sum(int(n) for n in counts.values()), tables
        print(f"serving after {time.monotonic() - started:.1f}s")

        # (a) Python over HiveServer2's protocol (Thrift, SASL PLAIN without a password)
        connection = hive.connect(host="127.0.0.1", port=port, username="analyst")
        try:
            cursor = connection.cursor()
            cursor.execute(QUERY)
            assert cursor.fetchall() == [("CANCELLED", 1), ("SENT", 3), ("SUPPRESSED", 2)]
            assert [d[0] for d in cursor.description] == ["state", "n"]
        finally:
            connection.close()
        print(f"pyhive answered after {time.monotonic() - started:.1f}s")

        # (b) Hive's JDBC driver: beeline opens its session in database `default` of the URL
        query_file = tmp_path / "query.sql"
        query_file.write_text(QUERY + ";\n")
        done = beeline(port, query_file)
        assert done.returncode == 0, done.stderr
        assert [line for line in done.stdout.splitlines() if line] == [
            "state,n",
            "CANCELLED,1",
            "SENT,3",
            "SUPPRESSED,2",
        ], done.stdout + done.stderr
        print(f"beeline answered after {time.monotonic() - started:.1f}s")

        # (c) SIGINT (Ctrl-C) stops the server and the session: exit 0 within seconds
        asked = time.monotonic()
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
        assert time.monotonic() - asked < 15
        print(f"stopped {time.monotonic() - asked:.1f}s after SIGINT")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    errors = list(iter(stderr.get, None))
    assert errors[-1] == "reconnect serve: stopped (SIGINT)", errors
    assert not [e for e in errors if "ERROR" in e or "Exception" in e or "Traceback" in e], errors
    with socket.socket() as again:  # the port is free again (as Java's sockets: reuse address)
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))


def test_a_port_in_use_or_a_foreign_address_is_a_one_line_usage_error(tmp_path):
    conf = settings_file(tmp_path, str(tmp_path / "lakehouse"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([RECONNECT, "serve", "--conf", str(conf), "--port", str(port)],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"reconnect serve: cannot listen on 127.0.0.1:{port} (Address already in use): another "
        "server (an earlier 'reconnect serve'?) has that port; stop it or choose another with "
        "--port"
    ]
    # 192.0.2.1 (TEST-NET-1, RFC 5737) is no address of this machine
    done = subprocess.run([RECONNECT, "serve", "--conf", str(conf), "--host", "192.0.2.1"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "reconnect serve: cannot listen on 192.0.2.1:10000 (Cannot assign requested address)"
    ]


def test_the_served_session_has_deltas_jars_on_the_class_path_after_sparks(monkeypatch, tmp_path):
    from reconnect.runtime import RuntimeSetupError, _jar_list_file, with_delta_on_class_path
    from reconnect.settings import Settings, SparkSettings

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SPARK_HOME", raising=False)
    settings = Settings()
    with pytest.raises(RuntimeSetupError, match="make jars"):  # never resolved on this machine
        with_delta_on_class_path(settings)
    jars = [tmp_path / "io.delta_delta-spark_4.1_2.13-4.4.0.jar",
            tmp_path / "com.fasterxml.jackson.core_jackson-core-2.13.5.jar"]  # fmt: skip
    for jar in jars:
        jar.touch()
    Path(_jar_list_file()).parent.mkdir(parents=True)
    Path(_jar_list_file()).write_text("".join(f"file://{jar}\n" for jar in jars))
    served = with_delta_on_class_path(settings).spark.conf["spark.driver.extraClassPath"]
    # Spark's jars first: its Jackson wins over the older one Delta's resolution brought
    assert served.split(os.pathsep) == [f"{SPARK_JARS}/*", *map(str, jars)]
    provided = settings.model_copy(update={"spark": SparkSettings(delta_jars="provided")})
    assert with_delta_on_class_path(provided) is provided
