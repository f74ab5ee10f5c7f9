"""Disputes and their parties, sessions, documents, and the volunteer mediator pool.

A dispute is a case (``case_file``) plus a ``dispute`` row. The parties' personal data (names, phones,
addresses) lives only in ``dispute_party``: never in the case's title or description, the process data, or
audit events, so the one place that can show it (``app.mediation.privacy``) decides who sees it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.cases.models import Case
from app.extensions import db

# key → (zh-CN, English)
DISPUTE_TYPES: dict[str, tuple[str, str]] = {
    "noise": ("噪音", "Noise"),
    "water_leak": ("楼上漏水", "Water leaking between floors"),
    "property_fee": ("物业费", "Property fees"),
    "parking": ("停车", "Parking"),
    "pets": ("宠物", "Pets"),
    "shared_space": ("公共空间", "Shared space"),
    "other": ("其他", "Other"),
}
GRADES: dict[str, tuple[str, str]] = {
    "simple": ("简易", "Simple"),
    "complex": ("复杂", "Complex"),
    "urgent": ("紧急", "Urgent"),
}
PARTY_ROLES: dict[str, tuple[str, str]] = {
    "applicant": ("申请人", "Applicant"),
    "respondent": ("被申请人", "Respondent"),
    "third_party": ("第三人", "Third party"),
}
SESSION_MODES: dict[str, tuple[str, str]] = {"offline": ("线下", "In person"), "online": ("线上", "Online")}
SESSION_OUTCOMES: dict[str, tuple[str, str]] = {
    "agreement": ("达成调解协议", "Agreement reached"),
    "continue": ("需再次调解", "Another session needed"),
    "failed": ("调解不成", "Mediation failed"),
}
REFERRALS: dict[str, tuple[str, str]] = {
    "peoples_mediation_committee": ("人民调解委员会", "People's mediation committee"),
    "legal_aid": ("法律援助", "Legal aid"),
    "court_guidance": ("诉讼引导", "Court guidance"),
}
MEDIATOR_KINDS: dict[str, tuple[str, str]] = {
    "community": ("社区调解员", "Community mediator"),
    "volunteer": ("志愿调解员", "Volunteer mediator"),
}
DOCUMENT_KINDS: dict[str, tuple[str, str]] = {
    "evidence": ("证据材料", "Evidence"),
    "agreement": ("调解协议书", "Signed agreement"),
}


class DisputeStatus:
    INTAKE = "intake"  # 待受理分级
    MEDIATING = "mediating"  # 调解中
    AGREED = "agreed"  # 已达成协议,待回访
    FAILED = "failed"  # 调解不成,待转介
    CLOSED = "closed"  # 已结案
    ALL = (INTAKE, MEDIATING, AGREED, FAILED, CLOSED)


class Dispute(db.Model):  # type: ignore[name-defined]
    __tablename__ = "dispute"
    __table_args__ = (
        Index("ix_dispute_concluded_at", "concluded_at"),
        Index("ix_dispute_follow_up_due_at", "follow_up_due_at"),
        Index("ix_dispute_mediator_open", "mediator_id", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), unique=True)
    dispute_type: Mapped[str] = mapped_column(String(20))
    # What the filer wrote: kept here, not in the case, because it may name people.
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), index=True)
    grade: Mapped[str | None] = mapped_column(String(10))
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    mediator_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    mediator_kind: Mapped[str | None] = mapped_column(String(12))
    session_count: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(12))  # agreement | failed
    referral_to: Mapped[str | None] = mapped_column(String(40))
    referral_reason: Mapped[str | None] = mapped_column(String(1000))
    agreement_kept: Mapped[str | None] = mapped_column(String(12))
    satisfaction: Mapped[str | None] = mapped_column(String(20))
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    concluded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # agreement or failure
    agreed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    follow_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the visit opens
    follow_up_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # …and is due
    follow_up_done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    case: Mapped[Case] = relationship()
    mediator: Mapped[User | None] = relationship(foreign_keys=[mediator_id])
    filed_by: Mapped[User] = relationship(foreign_keys=[filed_by_id])
    parties: Mapped[list[DisputeParty]] = relationship(
        order_by="DisputeParty.position", back_populates="dispute"
    )
    sessions: Mapped[list[MediationSession]] = relationship(order_by="MediationSession.number")
    documents: Mapped[list[DisputeDocument]] = relationship(order_by="DisputeDocument.id")


class DisputeParty(db.Model):  # type: ignore[name-defined]
    """A party to a dispute: the personal data the privacy rule protects."""

    __tablename__ = "dispute_party"
    __table_args__ = (UniqueConstraint("dispute_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("dispute.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, …: "当事人1" in session records
    name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(300))
    # The grid the party lives in (a comprehensive grid, compound or building code; default the case's).
    grid_code: Mapped[str | None] = mapped_column(String(24), index=True)
    role: Mapped[str] = mapped_column(String(20))

    dispute: Mapped[Dispute] = relationship(back_populates="parties")


class MediationSession(db.Model):  # type: ignore[name-defined]
    __tablename__ = "mediation_session"
    __table_args__ = (UniqueConstraint("dispute_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("dispute.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    held_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    mode: Mapped[str] = mapped_column(String(10))
    place: Mapped[str | None] = mapped_column(String(200))
    # Party positions (never names), plus a free description of anyone else (e.g. "物业代表").
    attendees: Mapped[list[Any]] = mapped_column(JSON)
    other_attendees: Mapped[str | None] = mapped_column(String(300))
    record: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(12))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DisputeDocument(db.Model):  # type: ignore[name-defined]
    """Evidence or the signed agreement: a PDF or an image, checked by content, stored by content hash."""

    __tablename__ = "dispute_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("dispute.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(200))
    original_name: Mapped[str | None] = mapped_column(String(200))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MediationVolunteer(db.Model):  # type: ignore[name-defined]
    """A mediator in the volunteer pool (热心调解人), for one community or (community_code NULL) any."""

    __tablename__ = "mediation_volunteer"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    community_code: Mapped[str | None] = mapped_column(String(24))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()
