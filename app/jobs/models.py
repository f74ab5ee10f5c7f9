"""The job outbox: a job is a row written in the transaction of the change it follows, so it commits (or
not) with that change; sending it to Redis (or running it in-process) happens after the commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class OutboxStatus:
    PENDING = "pending"  # committed; not run yet, nor seen waiting on a queue by the scheduler's round
    SENT = "sent"  # seen on its RQ queue by the round, or waiting there for a retry
    DONE = "done"  # ran to its end: marked in the job's own transaction, so a second delivery does nothing
    FAILED = "failed"  # failed after its last retry; listed for admins, who may queue it again

    OPEN = (PENDING, SENT)
    ALL = (PENDING, SENT, DONE, FAILED)


class JobOutbox(db.Model):  # type: ignore[name-defined]
    """One background job. Its RQ job id is ``outbox-<id>``: the scheduler's round asks Redis for it before
    sending a row again. ``instance_id`` names the process instance the
    job concerns, if any: its failure after the last retry opens an incident on that instance."""

    __tablename__ = "job_outbox"
    __table_args__ = (Index("ix_job_outbox_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(32))
    func_path: Mapped[str] = mapped_column(String(200))
    args: Mapped[list[Any]] = mapped_column(JSON)
    # Waits between attempts (seconds); its length is the number of retries after the first attempt.
    retry_intervals: Mapped[list[int]] = mapped_column(JSON)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed attempts so far
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Embedded mode: when the next attempt after a failure is due (stack mode: RQ's scheduled registry).
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # done or failed

    @property
    def rq_job_id(self) -> str:
        return rq_job_id(self.id)


def rq_job_id(outbox_id: int) -> str:
    return f"outbox-{outbox_id}"
