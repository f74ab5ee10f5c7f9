"""Input rules every edge shares: integers the database can hold, positions given whole, search text taken
literally. Schemas and services use these instead of repeating the checks per endpoint."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate
from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute
from werkzeug.routing import IntegerConverter
from werkzeug.routing.map import Map

# Ids and counts are INTEGER columns (32-bit on PostgreSQL); a larger number names nothing that exists and
# would fail in the database (or, past 64 bits, in the driver) instead of being refused here.
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
LIKE_ESCAPE = "\\"


class BoundedInt(fields.Integer):
    """``fields.Int`` that refuses numbers outside a database INTEGER with a 422 naming the field."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        bounds = validate.Range(min=INT_MIN, max=INT_MAX, error="must be between {min} and {max}")
        self.validators.insert(0, bounds)  # its reason is listed before the field's own Range


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` in every route: a path id past ``INT_MAX`` names nothing that exists, so the URL matches no
    route (404), the same answer as any other id that is not there, instead of failing in the database."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = INT_MAX,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def both_or_neither(data: dict[str, Any], first: str = "lat", second: str = "lon") -> None:
    """A position is two numbers: one without the other is refused, naming the missing one."""
    has_first, has_second = data.get(first) is not None, data.get(second) is not None
    if has_first and not has_second:
        raise ValidationError(f"{second} is missing: give both {first} and {second}, or neither", second)
    if has_second and not has_first:
        raise ValidationError(f"{first} is missing: give both {first} and {second}, or neither", first)


def literal_like(text: str) -> str:
    """``%text%`` with the LIKE wildcards of ``text`` escaped (use with ``escape=LIKE_ESCAPE``)."""
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains_text(column: InstrumentedAttribute[Any], text: str) -> ColumnElement[bool]:
    """Case-insensitive ``column`` contains ``text``, where ``%`` and ``_`` mean themselves."""
    return column.ilike(literal_like(text), escape=LIKE_ESCAPE)
