"""What an emergency persists: the plan library (应急预案), one row per emergency case with its measured
timings, its responders (who must report in, by when, and whether they did) and on-scene updates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.cases.models import Case
from app.extensions import db

TRIGGERS = ("report", "alarm", "plan")  # 红色上报, 紧急报警, 启动预案


class EmergencyStatus:
    ACTIVE = "active"  # 处置中: responders dispatched
    CONTROLLED = "controlled"  # 已控制
    CLOSED = "closed"  # 已结束
    REVIEWED = "reviewed"  # 已复盘
    ALL = (ACTIVE, CONTROLLED, CLOSED, REVIEWED)


class ResponderStatus:
    PENDING = "pending"  # 待报到
    ACKNOWLEDGED = "acknowledged"  # 已报到
    MISSED = "missed"  # 逾期未报到 (referred to the supervisor after the district level)
    ALL = (PENDING, ACKNOWLEDGED, MISSED)


class EmergencyPlan(db.Model):  # type: ignore[name-defined]
    """One plan of the library. ``responders``: a list of ``{unit_kind | unit_code | grid_worker, limit,
    label}``; ``triggers``: the categories and alarm types it answers (``{categories, alarm_types}``)."""

    __tablename__ = "emergency_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    triggers: Mapped[dict[str, Any]] = mapped_column(JSON)
    responders: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    checklist: Mapped[list[str]] = mapped_column(JSON)
    # How long each call to an emergency contact may ring before the next is called ("2m"; SOS / fall).
    contact_call_limit: Mapped[str | None] = mapped_column(String(12))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Emergency(db.Model):  # type: ignore[name-defined]
    """The emergency side of a case: which plan, how it started, and how fast it went (seconds from the
    case's report to the first report-in, to all responders reported in, to control, to close)."""

    __tablename__ = "emergency"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), unique=True)
    plan_code: Mapped[str | None] = mapped_column(String(40), index=True)
    trigger: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12), index=True)
    launched_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    checklist: Mapped[list[str]] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_ack_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    all_ack_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    controlled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_ack_seconds: Mapped[int | None] = mapped_column(Integer)
    all_ack_seconds: Mapped[int | None] = mapped_column(Integer)
    control_seconds: Mapped[int | None] = mapped_column(Integer)
    close_seconds: Mapped[int | None] = mapped_column(Integer)
    cause: Mapped[str | None] = mapped_column(Text)
    timeline_summary: Mapped[str | None] = mapped_column(Text)
    improvements: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship()
    responders: Mapped[list[EmergencyResponder]] = relationship(
        order_by="EmergencyResponder.position", back_populates="emergency"
    )


class EmergencyResponder(db.Model):  # type: ignore[name-defined]
    """One responder of an emergency: a unit (or a named grid worker) that must report in (报到) by
    ``report_in_due``. Each miss climbs a level (community → street → district → supervisor)."""

    __tablename__ = "emergency_responder"
    __table_args__ = (UniqueConstraint("emergency_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    emergency_id: Mapped[int] = mapped_column(ForeignKey("emergency.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 0 is the lead responder
    unit_code: Mapped[str | None] = mapped_column(String(40), index=True)
    username: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(120))
    report_in_limit: Mapped[str] = mapped_column(String(12))  # "15m", "0.5h", "1wh"
    level: Mapped[str | None] = mapped_column(String(12))  # None | community | street | district | supervisor
    status: Mapped[str] = mapped_column(String(14))
    misses: Mapped[int] = mapped_column(Integer, default=0)
    dispatched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    report_in_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    responsible_person: Mapped[str | None] = mapped_column(String(40))
    eta_minutes: Mapped[int | None] = mapped_column(Integer)

    emergency: Mapped[Emergency] = relationship(back_populates="responders")


class EmergencyUpdate(db.Model):  # type: ignore[name-defined]
    """An on-scene update (现场反馈) from a responder or the command centre: a note and photos of the case."""

    __tablename__ = "emergency_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    emergency_id: Mapped[int] = mapped_column(ForeignKey("emergency.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    unit_code: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text)
    attachment_ids: Mapped[list[int]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
