from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.extensions import db

ESCALATION_LEVELS = ("community", "street", "district")  # 社区 → 街道 → 区: "乡街吹哨,部门报到"
SOURCE_CHANNELS = ("grid_worker", "resident", "hotline", "sensor", "camera", "web")


class CaseStatus:
    REPORTED = "reported"  # 已上报 (before the engine's first wait state)
    TRIAGE = "triage"  # 待受理
    DISPATCHING = "dispatching"  # 待派遣
    HANDLING = "handling"  # 处置中
    FEEDBACK = "feedback"  # 待反馈
    REVIEW = "review"  # 待核查
    CLOSED = "closed"  # 已结案
    REJECTED = "rejected"  # 不予立案
    DUPLICATE = "duplicate"  # 重复案件
    WITHDRAWN = "withdrawn"  # 已撤销
    FINAL = (CLOSED, REJECTED, DUPLICATE, WITHDRAWN)
    ALL = (REPORTED, TRIAGE, DISPATCHING, HANDLING, FEEDBACK, REVIEW, CLOSED, REJECTED, DUPLICATE, WITHDRAWN)


# The open cases (status not final) as SQL: the condition of the partial index below, which PostgreSQL uses
# for a query only when the query says ``status NOT IN`` these same values.
_OPEN_CASE = text("status NOT IN ('closed', 'rejected', 'duplicate', 'withdrawn')")
assert set(CaseStatus.FINAL) == {"closed", "rejected", "duplicate", "withdrawn"}, "update _OPEN_CASE"


class Case(db.Model):  # type: ignore[name-defined]
    __tablename__ = "case_file"  # "case" is an SQL keyword
    __table_args__ = (
        Index("ix_case_file_status_severity", "status", "severity"),
        # The open cases, a thousand among a district's 380,000: what the dashboard reads (markers, counts of
        # open cases, the overdue list by due time) without scanning every case ever reported.
        Index(
            "ix_case_file_open_due_at", "due_at", "id", postgresql_where=_OPEN_CASE, sqlite_where=_OPEN_CASE
        ),
        # KPIs count the cases with any of these moments in a period: one index each turns that OR of
        # ranges into a bitmap OR of index scans instead of a scan of every case (created_at has its own).
        *(
            Index(f"ix_case_file_{column}", column)
            for column in ("filed_at", "dispatched_at", "due_at", "handled_at", "close_due_at", "closed_at")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(20), unique=True)  # GC-2026-000123
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    category_code: Mapped[str | None] = mapped_column(String(8), index=True)
    # Deepest grid containing the location (None: no location, or outside every grid). Visibility and
    # KPIs select a subtree by code prefix, so this is the code, not a foreign key.
    grid_code: Mapped[str | None] = mapped_column(String(24), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    source_channel: Mapped[str] = mapped_column(String(20))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), index=True)
    handler_user: Mapped[str | None] = mapped_column(String(64))
    handler_unit: Mapped[str | None] = mapped_column(String(40), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    # Every change of handler after the first dispatch; a case is accurately dispatched when this stays 0.
    redispatch_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # None, or the level the case is escalated to: community | street | district.
    escalation_level: Mapped[str | None] = mapped_column(String(12))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    postponed_count: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # handling time limit
    close_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # closing time limit
    warned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    filed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # accepted at triage (立案)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])
    duplicate_of: Mapped[Case | None] = relationship(remote_side=[id])


class Attachment(db.Model):  # type: ignore[name-defined]
    """A photo of a case. The file lives on disk under its content hash; this row holds what we know of it."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(12))  # report | before | after | other
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_path: Mapped[str] = mapped_column(String(200))
    original_name: Mapped[str | None] = mapped_column(String(200))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)
    thumbnail_path: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


ATTACHMENT_KINDS = ("report", "before", "after", "other")


class Comment(db.Model):  # type: ignore[name-defined]
    __tablename__ = "case_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    author: Mapped[User] = relationship()
