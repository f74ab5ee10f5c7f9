"""The plan of each process started by a timer (``timer_starts``): one row per process key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class TimerStart(db.Model):  # type: ignore[name-defined]
    """When the process ``process_key`` next starts by its timer start event, planned on ``definition_id``,
    the version that starts new instances when the scheduler last looked. ``next_fire_at`` None: nothing
    more to fire (a date passed, a cycle's repetitions done, or that version has no timer start event).

    Exactly once per due time: a round claims a due row by moving ``next_fire_at`` on with a conditional
    UPDATE (``… WHERE next_fire_at = <the due time read>``); of two schedulers, one updates the row and the
    other's update matches nothing."""

    __tablename__ = "timer_start"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100), unique=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    element_id: Mapped[str | None] = mapped_column(String(100))  # the timer start event
    kind: Mapped[str | None] = mapped_column(String(16))  # timeDate | timeCycle | timeDuration
    expression: Mapped[str | None] = mapped_column(String(200))  # its value, evaluated
    anchor_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # occurrence 0
    next_index: Mapped[int] = mapped_column(Integer, default=0)  # the occurrence next_fire_at is
    next_fire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    last_fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the due time
    last_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    fired_count: Mapped[int] = mapped_column(Integer, default=0)
    # The last start that failed (the instance could not be created): shown to operators until a start
    # succeeds again; the due time it failed on is not retried (``timer_starts.fire``).
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failure: Mapped[str | None] = mapped_column(Text)
    planned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
