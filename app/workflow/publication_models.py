"""Which version of a process starts new instances: its publications, kept as a history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.workflow.models import ProcessDefinition


class ProcessPublication(db.Model):  # type: ignore[name-defined]
    """Version ``definition_id`` of ``key`` was published (made the one new instances start on).

    The published version of a key is its newest publication not withdrawn; a rollback withdraws it, so the
    publication before it is the published one again. Rows are never deleted: they are the history the
    versions page reads (草稿: never published; 历史: published once, not now)."""

    __tablename__ = "process_publication"
    __table_args__ = (Index("ix_process_publication_key_withdrawn_at", "key", "withdrawn_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    definition: Mapped[ProcessDefinition] = relationship()
