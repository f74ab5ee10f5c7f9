"""Hot-path writes with SQLAlchemy Core that keep the session's ORM objects in step.

An engine step changes a few columns of rows the session already holds and inserts a task row or two. The
ORM's unit of work costs more than the database does for that, so these statements go straight to the
session's connection (same transaction), and the ORM objects get the written values as their committed
state: the session neither writes them again nor reloads them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db

# One statement per table; the SET clause follows the keys given (compiled once per key set and cached).
_UPDATES: dict[Table, Any] = {}
_INSERTS: dict[Table, Any] = {}


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def update(objects: list[Any], values: dict[str, Any]) -> None:
    """``UPDATE`` the rows of ``objects`` (persistent, one model) to ``values``; the objects get them too."""
    if not objects:
        return
    params = [{"row_id": obj.id, **values} for obj in objects]
    connection = db.session.connection(bind_arguments={"mapper": type(objects[0])})
    connection.execute(_update_statement(type(objects[0])), params if len(params) > 1 else params[0])
    for obj in objects:
        for key, value in values.items():
            set_committed_value(obj, key, value)


def _update_statement(model: Any) -> Any:
    table = _table(model)
    statement = _UPDATES.get(table)
    if statement is None:
        statement = _UPDATES[table] = table.update().where(table.c.id == bindparam("row_id"))
    return statement


def update_each(objects: list[Any], values: list[dict[str, Any]]) -> None:
    """``update`` with values of each object's own (``values[i]`` for ``objects[i]``, one model): one
    executemany per set of keys, instead of a statement per row."""
    by_keys: dict[tuple[str, ...], list[tuple[Any, dict[str, Any]]]] = {}
    for obj, changes in zip(objects, values, strict=True):
        by_keys.setdefault(tuple(sorted(changes)), []).append((obj, changes))
    for pairs in by_keys.values():
        model = type(pairs[0][0])
        connection = db.session.connection(bind_arguments={"mapper": model})
        params = [{"row_id": obj.id, **changes} for obj, changes in pairs]
        connection.execute(_update_statement(model), params)
        for obj, changes in pairs:
            for key, value in changes.items():
                set_committed_value(obj, key, value)


def insert(model: Any, rows: list[dict[str, Any]], unset: tuple[str, ...] = ()) -> list[Any]:
    """``INSERT`` ``rows`` (same keys each) and return them as persistent ORM objects, ids filled in.

    Columns in ``unset`` are left out of the INSERT (their database default: NULL) and set to None on the
    objects, so reading them needs no query. (A JSON column given None would store JSON ``null``.)
    """
    if not rows:
        return []
    table = _table(model)
    statement = _INSERTS.get(table)
    if statement is None:
        statement = _INSERTS[table] = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    ids = db.session.connection(bind_arguments={"mapper": model}).execute(statement, rows).scalars().all()
    objects = []
    for row, row_id in zip(rows, ids, strict=True):
        obj = model(**row, **dict.fromkeys(unset))
        obj.id = row_id
        make_transient_to_detached(obj)  # loaded as-is: no history, nothing to flush
        db.session.add(obj)
        objects.append(obj)
    return objects
