"""Reading bronze tables back in tests."""

from __future__ import annotations

from typing import Any

from reconnect.lake.tables import TableSpec
from reconnect.settings import Settings


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


def separate_lake(settings: Settings, suffix: str, **updates: Any) -> Settings:
    """The same landing folder, but its own tables, checkpoints and catalog names."""
    paths = settings.paths.model_copy(
        update={
            "lakehouse": settings.paths.lakehouse + suffix,
            "checkpoints": settings.paths.checkpoints + suffix,
        }
    )
    catalog = settings.catalog.model_copy(
        update={
            layer: getattr(settings.catalog, layer) + suffix
            for layer in ("bronze", "silver", "gold")
        }
    )
    return settings.model_copy(update={"paths": paths, "catalog": catalog, **updates})
