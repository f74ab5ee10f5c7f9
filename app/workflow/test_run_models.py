"""A designer's test run of one process version: its instance and its simulated clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.workflow.models import ProcessDefinition, ProcessInstance


class TestRun(db.Model):  # type: ignore[name-defined]
    """One test instance (``ProcessInstance.is_test``) started from the studio (``app.workflow.test_runs``).

    ``clock_at`` is the run's simulated now: it starts at the real time of the start and moves only when the
    designer advances it; every step of the run reads it as the clock, so its timers fire by it. A deleted
    run keeps its rows (the audit trail refers to its instance) and leaves the designer's list.
    """

    __tablename__ = "test_run"
    __test__ = False  # not a pytest test class, whatever its name

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    started_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    clock_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The test data it started with: simulations read what a case would hold from it when a later form
    # left the variable empty (a triage form's unchanged category is null in the task data).
    test_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    instance: Mapped[ProcessInstance] = relationship()
    definition: Mapped[ProcessDefinition] = relationship()
