"""What the runtime persists: deployed versions, instances and the human tasks they wait on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db


class ProcessDefinition(db.Model):  # type: ignore[name-defined]
    """One version of one process. Versions are by content: deploying the same bytes again is a no-op."""

    __tablename__ = "process_definition"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_process_definition_key_version"),
        # The same file with the same frozen forms and callees is the same version (see ``frozen_hash``).
        UniqueConstraint(
            "key", "content_hash", "frozen_hash", name="uq_process_definition_key_content_hash_frozen_hash"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    # Of the forms and called processes this version froze (app.workflow.form_versions): the same file
    # deployed after a form changed is a new version, whose tasks get the new form; the older's keep theirs.
    frozen_hash: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8), default="bpmn")  # bpmn | dmn
    # Large and immutable: loaded only when the spec cache misses or someone asks for the XML.
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    spec_document: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    user_tasks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    start_messages: Mapped[list[str]] = mapped_column(JSON)
    # What the start event declares for the 发起流程 catalogue (``engine.StartForm``): form, candidate_roles,
    # starts_case, case_category. None: people cannot start this version from a form.
    start_form: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class InstanceStatus:
    RUNNING = "running"  # waits on people, messages or timers
    COMPLETED = "completed"
    ERROR = "error"  # has an open incident (``EngineIncident``): parked until an operator repairs it
    SUSPENDED = "suspended"  # stopped by an operator: no task completion, timer or message until resumed
    TERMINATED = "terminated"  # ended by an operator, with a reason


class ProcessInstance(db.Model):  # type: ignore[name-defined]
    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_process_instance_status_next_timer_at", "status", "next_timer_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100))
    # A child instance (one responder of an emergency, one place of a campaign: ``children``) names the
    # instance it reports to; a case's or a campaign's own instance has none.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    # A child's (active, completed) element ids, written with its state: the parent's highlighted diagram
    # merges them without restoring thousands of states.
    elements: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    business_key: Mapped[str | None] = mapped_column(String(64), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # InstanceStatus
    state: Mapped[str] = mapped_column(Text, deferred=True)
    next_timer_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The DMN versions it decides with, bound at start (app.workflow.decisions); None: its version's own.
    decision_bindings: Mapped[dict[str, int] | None] = mapped_column(JSON)
    # A designer's test run (app.workflow.test_runs): its tasks are offered to nobody, its service tasks
    # simulated, its timers fired only by the run's simulated clock, never by the scheduler.
    is_test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    definition: Mapped[ProcessDefinition] = relationship()


class ProcessJoin(db.Model):  # type: ignore[name-defined]
    """A parent instance waiting for its children (``children``): how many are still running, and the
    message the parent's diagram catches when the last one finishes. One row per spawn; gone once sent."""

    __tablename__ = "process_join"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    message: Mapped[str] = mapped_column(String(100))
    total: Mapped[int] = mapped_column(Integer)
    pending: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The candidate unit of a test run's tasks: no unit has this code, so no inbox offers them to anyone (the
# designer completes them on the test-run page as any role).
TEST_RUN_GROUP = "~test-run"


class TaskStatus:
    READY = "ready"  # claimable by its candidates
    CLAIMED = "claimed"  # someone took it
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # the process moved on without it (boundary event, terminate, withdrawal)
    OPEN = (READY, CLAIMED)


class HumanTask(db.Model):  # type: ignore[name-defined]
    """A user task the engine waits on, materialized so inboxes are plain indexed queries."""

    __tablename__ = "human_task"
    __table_args__ = (
        UniqueConstraint("instance_id", "spiff_task_id", name="uq_human_task_instance_id_spiff_task_id"),
        Index("ix_human_task_assignee_id_status", "assignee_id", "status"),
        # Inboxes and case visibility look tasks up by the user or unit they are offered to, or by who
        # completed them (app.tasks.services, app.cases.services.case_visible_to).
        Index("ix_human_task_candidate_user_status", "candidate_user", "status"),
        Index("ix_human_task_candidate_group_status", "candidate_group", "status"),
        Index("ix_human_task_completed_by_id", "completed_by_id"),
        # Tasks offered to a role only (no candidate user or unit), for the claimable inbox.
        Index(
            "ix_human_task_status_candidate_user_candidate_group",
            "status",
            "candidate_user",
            "candidate_group",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    form_key: Mapped[str | None] = mapped_column(String(120))
    # The version of ``form_key`` the task's deployment froze: the task renders and validates with it.
    form_version_id: Mapped[int | None] = mapped_column(ForeignKey("form_version.id"))
    lane: Mapped[str | None] = mapped_column(String(120))
    # Delimited ",grid_worker,department_handler," so "role in candidates" is a portable LIKE.
    candidate_roles: Mapped[str] = mapped_column(String(200))
    candidate_user: Mapped[str | None] = mapped_column(String(64))
    candidate_group: Mapped[str | None] = mapped_column(String(64))
    # For a task without a case: the grid it belongs to (the ``gridCode`` property). Offered by role, it goes
    # only to the staff of that grid's subtree and its ancestors, the scope rule of case tasks.
    grid_code: Mapped[str | None] = mapped_column(String(24))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(20), index=True)
    case_status: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    submitted_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    instance: Mapped[ProcessInstance] = relationship()

    @property
    def roles(self) -> list[str]:
        return [r for r in self.candidate_roles.split(",") if r]

    @staticmethod
    def join_roles(roles: list[str]) -> str:
        return "," + ",".join(roles) + ","


class IncidentKind:
    """Where the failure happened: which path of the engine met it."""

    STEP = "step"  # a person's step (task completion, report, start) went on into a failing element
    TIMER = "timer"
    MESSAGE = "message"
    JOB = "job"  # a queued job failed after its retries
    GUARD = "guard"  # a script went over its time or step budget, or left a value that cannot be stored
    STUCK = "stuck"  # not completed, nothing ready and nothing waiting


class EngineIncident(db.Model):  # type: ignore[name-defined]
    """A failure of the engine on one instance, kept until an operator repairs it (retry, skip, move,
    migrate, terminate). While one is open the instance is parked (``InstanceStatus.ERROR``).

    ``reason`` holds the designer's internals (the exception, the element): shown to admins and designers on
    the operations page, never to the person whose step ran into it.
    """

    __tablename__ = "engine_incident"
    __table_args__ = (Index("ix_engine_incident_instance_id_resolved_at", "instance_id", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # IncidentKind
    element_id: Mapped[str | None] = mapped_column(String(100))
    element_name: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    # Whose step ran into it (None for timers, messages without a person, jobs).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # retried | skipped | moved | migrated | terminated | resolved (what repaired it)
    resolution: Mapped[str | None] = mapped_column(String(16))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    instance: Mapped[ProcessInstance] = relationship()
