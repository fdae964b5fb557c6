"""Reading bronze tables back in tests."""

from __future__ import annotations

from typing import Any

from reconnect.settings import Settings
from reconnect.tables import TableSpec


def rows(
    spark: Any,
    table: TableSpec,
    settings: Settings,
    order_by: list[str] | None = None,
    drop: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """All rows of a table as dicts, sorted by ``order_by`` (default: every sortable column)."""
    df = spark.read.format("delta").load(table.location(settings))
    df = df.drop(*drop)
    keys = order_by or [
        f.name for f in df.schema.fields if f.dataType.typeName() not in ("map", "array", "struct")
    ]
    return [r.asDict(recursive=True) for r in df.orderBy(*keys).collect()]
