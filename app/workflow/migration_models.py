"""What a migration of a running instance to another version keeps: enough to undo it for a while."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class InstanceMigration(db.Model):  # type: ignore[name-defined]
    """One instance moved from one version to another (``app.workflow.migration``).

    ``previous_state`` is the engine state before the move: an undo restores it with
    ``from_definition_id``, if nothing happened to the instance since (its state still hashes to
    ``migrated_state_hash``) and before ``undo_until``. After that the scheduler's round clears it
    (it is as large as the state itself).
    """

    __tablename__ = "instance_migration"
    __table_args__ = (Index("ix_instance_migration_instance_id_id", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    # Instances migrated by one request or command share it, so the whole batch can be undone at once.
    batch_id: Mapped[str | None] = mapped_column(String(36), index=True)
    from_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    to_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    previous_state: Mapped[str | None] = mapped_column(Text, deferred=True)
    previous_next_timer_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    migrated_state_hash: Mapped[str] = mapped_column(String(64))
    migrated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    migrated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    undo_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
