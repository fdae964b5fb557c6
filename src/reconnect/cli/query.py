"""Reading the tables: ``reconnect why``, ``reconnect sql`` and ``reconnect serve``.

All run in a session that sees every table under its catalog name (``bronze.quarantine``,
``gold.messages``...): the migrations register them, creating any that a stage has not written yet.
"""

from __future__ import annotations

import argparse
import sys

from reconnect.cli.common import EXIT_FAILED, EXIT_OK, UsageError, settings_of, spark_for


def cmd_why(args: argparse.Namespace) -> int:
    """Why a person (a user_id or cuid) did or did not get a campaign's messages."""
    from reconnect.explain import explain
    from reconnect.lake.migrations import ensure_tables
    from reconnect.lake.reads import table
    from reconnect.lake.tables import (
        BRONZE_QUARANTINE,
        GOLD_MESSAGES,
        GOLD_STEP_ELIGIBILITY,
        SILVER_JOURNEYS,
    )

    settings = settings_of(args)
    spark = spark_for(settings)
    ensure_tables(spark, settings)
    lines = explain(
        args.person,
        args.campaign,
        table(spark, settings, SILVER_JOURNEYS),
        table(spark, settings, GOLD_STEP_ELIGIBILITY),
        table(spark, settings, GOLD_MESSAGES),
        table(spark, settings, BRONZE_QUARANTINE),
    )
    print("\n".join(lines))
    return EXIT_OK


def cmd_sql(args: argparse.Namespace) -> int:
    """Run one SQL query over the tables and print its rows (the tables by their catalog names)."""
    from pyspark.errors import AnalysisException, ParseException

    from reconnect.lake.migrations import ensure_tables

    settings = settings_of(args)
    spark = spark_for(settings)
    ensure_tables(spark, settings)
    try:
        result = spark.sql(args.query)
        rows = result.limit(args.limit).collect()
    except (AnalysisException, ParseException) as e:
        first = str(e).strip().splitlines()[0]
        raise UsageError(f"the query cannot run: {first}") from e
    columns = result.columns
    cells = [[("NULL" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    limited = ", limited by --limit" if len(rows) == args.limit else ""
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''}{limited})")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the tables over JDBC/ODBC (HiveServer2's protocol) until Ctrl-C: beeline, DBeaver..."""
    from reconnect.lake.migrations import ensure_tables
    from reconnect.runtime import with_delta_on_class_path
    from reconnect.serve import (
        CannotListen,
        check_can_listen,
        start_thrift_server,
        table_counts,
        wait_for_stop_signal,
    )

    settings = settings_of(args)
    try:
        check_can_listen(args.host, args.port)  # before Spark starts: a taken port fails fast
        spark = spark_for(with_delta_on_class_path(settings))
        ensure_tables(spark, settings)
        server = start_thrift_server(spark, args.host, args.port)
    except CannotListen as e:
        raise UsageError(str(e)) from e
    try:
        counts = table_counts(spark)
        print(f"serving the lake's tables over JDBC at {server.url} (Ctrl-C stops)", flush=True)
        schemas = ", ".join(f"{schema} ({n})" for schema, n in counts.items())
        print(f"{sum(counts.values())} tables: {schemas}", flush=True)
        stopped_by = wait_for_stop_signal(server.alive)
    finally:
        server.stop()
    if stopped_by is None:
        print("reconnect serve: the Spark session ended; the server stopped", file=sys.stderr)
        return EXIT_FAILED
    spark.stop()
    print(f"reconnect serve: stopped ({stopped_by})", file=sys.stderr)
    return EXIT_OK
