"""``field__any=[…]``: membership in a list of keys (integers or text) passed as one parameter.

``field__in=[…]`` writes one placeholder per value. For the batches of thousands of keys the nightly
evaluation reads by, building and sending that statement cost more Python time than PostgreSQL spent
answering it (16–20 ms per query for 2,000 keys, against 4–7 ms with one array parameter; see
docs/benchmarks.md); the EPCIS capture looks up a thousand event hashes at a time the same way. On
PostgreSQL the list goes as one typed array (``= ANY(%s::bigint[])``, ``::varchar(64)[]``: an index
condition like ``IN``); on SQLite as one JSON text read by ``json_each``, so no parameter limit applies.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models import Lookup


class AnyOf(Lookup):
    """``person_id__any=ids``, ``content_hash__any=hashes``: like ``__in``, with the whole list as one
    parameter."""

    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[Any]:
        values = self.rhs
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError("__any takes an iterable of keys")
        # Each value as the column would store it (an integer column refuses "twelve" with a ValueError).
        field = self.lhs.output_field
        return [field.get_prep_value(value) for value in values]

    def as_sql(self, compiler: Any, connection: Any) -> Any:  # (sql, params)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values: list[Any] = self.rhs
        if connection.vendor == "postgresql":
            column_type = self.lhs.output_field.db_type(connection)
            return f"{lhs} = ANY(%s::{column_type}[])", [*lhs_params, values]
        if not values:
            raise EmptyResultSet
        return f"{lhs} IN (SELECT value FROM json_each(%s))", [*lhs_params, json.dumps(values)]


def register() -> None:
    """Make ``__any`` available on integer and text columns and on foreign keys (``person__any``,
    ``person_id__any``)."""
    models.IntegerField.register_lookup(AnyOf)
    models.CharField.register_lookup(AnyOf)
    models.ForeignObject.register_lookup(AnyOf)
