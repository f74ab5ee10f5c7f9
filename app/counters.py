"""Named counters in one table: case keys per year, the grid tree's version. Incremented under a row lock
in the caller's transaction, so two writers never get the same value."""

from __future__ import annotations

from sqlalchemy import Integer, String, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class KeyCounter(db.Model):  # type: ignore[name-defined]
    """One named sequence, e.g. ``case-2026`` for case keys (GC-2026-000123)."""

    __tablename__ = "key_counter"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


def current_value(name: str) -> int:
    """The committed value of a counter; 0 before its first increment."""
    value = db.session.execute(select(KeyCounter.value).where(KeyCounter.name == name)).scalar_one_or_none()
    return value or 0


def increment(name: str) -> int:
    """Add one to a counter (created at 0 if new) in the caller's transaction and return the new value."""
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(insert(KeyCounter).values(name=name, value=0).on_conflict_do_nothing())
    value: int = db.session.execute(
        update(KeyCounter)
        .where(KeyCounter.name == name)
        .values(value=KeyCounter.value + 1)
        .returning(KeyCounter.value)
    ).scalar_one()
    return value
