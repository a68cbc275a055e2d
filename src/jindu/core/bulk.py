"""Inserting many rows at once: COPY on PostgreSQL, one prepared INSERT run many times on SQLite.

Model instances and ``bulk_create`` cost more than the computation when a job rewrites hundreds of thousands of
derived rows. ``bulk_insert`` takes plain tuples in the order of ``fields`` and converts only the columns that
need it (aware datetimes, JSON, decimals) through the field's own ``get_db_prep_save``, once per value.
Rows of an ``OrgPathMixin`` model must carry ``org_path`` themselves (as with ``bulk_create``).

On PostgreSQL the rows are materialised before the COPY starts: while a COPY runs, its connection takes no other
statement, so a generator that queries (a lazily loaded lookup, say) would wait on itself forever.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, connections, models

_CONVERTED_TYPES = {"DateTimeField", "JSONField", "DecimalField", "DateField", "TimeField", "UUIDField"}


def _field_converter(field: Any, database: Any) -> Callable[[Any], Any]:
    """The field's own conversion, for a column whose values are immutable (dates, decimals, UUIDs): a value
    repeated from the row before (a job's timestamp in every row, say) is converted once."""
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, field.get_db_prep_save(value, database)
        return last[1]

    return convert


def _converters(model: type[models.Model], fields: Sequence[str]) -> tuple[list[str], list[Callable | None]]:
    # The connection itself rather than the proxy: the proxy looks the connection up on every attribute, and
    # a conversion reads several (a third of the cost of converting a million values).
    database = connections[connection.alias]
    columns: list[str] = []
    converters: list[Callable | None] = []
    for name in fields:
        field = model._meta.get_field(name)
        columns.append(str(field.column))  # type: ignore[union-attr]
        internal = field.get_internal_type()
        if internal not in _CONVERTED_TYPES:
            converters.append(None)
        elif internal == "JSONField" and database.vendor == "postgresql":
            # COPY takes the JSON text itself.
            converters.append(lambda value: None if value is None else json.dumps(value, ensure_ascii=False))
        elif internal == "JSONField":
            converters.append(lambda value, field=field: field.get_db_prep_save(value, database))  # type: ignore[misc]
        else:
            converters.append(_field_converter(field, database))
    return columns, converters


def bulk_insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` (values in the order of ``fields``, attribute names such as ``site_id``) into the model's
    table inside the caller's transaction; returns the number of rows."""
    columns, converters = _converters(model, fields)
    table = connection.ops.quote_name(model._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
    needs_conversion = any(converter is not None for converter in converters)

    def converted(row: Sequence[Any]) -> Sequence[Any]:
        if not needs_conversion:
            return row
        return [
            value if convert is None else convert(value)
            for value, convert in zip(row, converters, strict=True)
        ]

    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            prepared = [converted(row) for row in rows]
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in prepared:
                    copy.write_row(row)
            return len(prepared)
        placeholders = ", ".join(["%s"] * len(columns))
        batch: list[Sequence[Any]] = []
        for row in rows:
            batch.append(converted(row))
            if len(batch) >= 5000:
                cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})", batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})", batch)
            count += len(batch)
    return count
