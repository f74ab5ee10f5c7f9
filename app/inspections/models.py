"""Places that get inspected, campaigns, one item per (campaign, place), and the photos inspectors take.

A campaign is a process instance **without a case** (``process_instance.case_id`` NULL): a campaign is not a
report and must not count in the case KPIs (接报数 …). Its tasks are offered to a named grid worker of each
place's grid (the least loaded, as dispatch proposes), so inboxes and task visibility work without a case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.workflow.models import ProcessInstance

# key: (zh-CN, English)
PLACE_TYPES: dict[str, tuple[str, str]] = {
    "restaurant": ("餐饮", "Restaurant"),
    "shop": ("小商铺", "Small shop"),
    "rental": ("出租屋", "Rental housing"),
    "gas_user": ("燃气用户", "Gas user"),
    "school_surroundings": ("学校周边", "School surroundings"),
    "construction_site": ("建筑工地", "Construction site"),
}


class ItemStatus:
    PENDING = "pending"  # 待检查: the first inspection is not done yet
    # 逾期未检查: the first inspection was still not done at the campaign deadline; it stays offered, and
    # inspecting it moves it on like a pending one (``inspection.mark_overdue``).
    OVERDUE = "overdue"
    RECTIFYING = "rectifying"  # 整改中: failed once, a rectification notice runs, re-inspection follows
    PASSED = "passed"  # 已通过 (done): passed the inspection or the re-inspection
    BLACKLISTED = "blacklisted"  # 未通过 (failed): failed the re-inspection too, the place is blacklisted
    ALL = (PENDING, OVERDUE, RECTIFYING, PASSED, BLACKLISTED)
    FINAL = (PASSED, BLACKLISTED)


class CampaignStatus:
    RUNNING = "running"
    COMPLETED = "completed"


class Place(db.Model):  # type: ignore[name-defined]
    """A place inspections visit: a restaurant, a rental flat, a gas user, a construction site …"""

    __tablename__ = "inspection_place"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(
        String(40), unique=True
    )  # the registry's own key (imports upsert by it)
    name: Mapped[str] = mapped_column(String(120))
    place_type: Mapped[str] = mapped_column(String(32), index=True)
    # The deepest grid containing the location (``app.grids.services.locate``): inspections go to its workers.
    grid_code: Mapped[str] = mapped_column(String(24), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300))
    responsible_person: Mapped[str] = mapped_column(String(80))
    responsible_phone: Mapped[str | None] = mapped_column(String(32))
    blacklisted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    blacklist_reason: Mapped[str | None] = mapped_column(String(500))
    blacklisted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Campaign(db.Model):  # type: ignore[name-defined]
    """An inspection campaign a unit launched: its checklist, its targets, its deadline, its instance."""

    __tablename__ = "inspection_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    unit_code: Mapped[str] = mapped_column(String(40), index=True)
    launched_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # [{"key": "fire_extinguisher", "title": "灭火器在有效期内"}, …]: becomes the inspection form.
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    target_grid_codes: Mapped[list[str]] = mapped_column(JSON)
    target_place_types: Mapped[list[str]] = mapped_column(JSON)
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rectify_days: Mapped[int] = mapped_column(Integer)  # working days a rectification notice gives
    status: Mapped[str] = mapped_column(String(20), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignItem(db.Model):  # type: ignore[name-defined]
    """One target place of a campaign: where its inspection stands."""

    __tablename__ = "inspection_item"
    __table_args__ = (UniqueConstraint("campaign_id", "place_id", name="uq_inspection_item_campaign_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("inspection_campaign.id"), index=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("inspection_place.id"), index=True)
    # The place's comprehensive grid (15 digits) at launch: progress counts per grid, visibility by subtree.
    grid_code: Mapped[str] = mapped_column(String(24), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    inspector: Mapped[str] = mapped_column(String(64))  # the grid worker the inspection was offered to
    inspected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    inspected_by: Mapped[str | None] = mapped_column(String(64))
    failed_items: Mapped[list[str] | None] = mapped_column(JSON)  # checklist keys failed at the inspection
    notice_issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rectify_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reinspected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reinspected_by: Mapped[str | None] = mapped_column(String(64))
    refailed_items: Mapped[list[str] | None] = mapped_column(JSON)  # … and at the re-inspection
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    place: Mapped[Place] = relationship()


class InspectionPhoto(db.Model):  # type: ignore[name-defined]
    """A photo taken at an inspection (stored by content hash, like case photos)."""

    __tablename__ = "inspection_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("inspection_item.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(200))
    original_name: Mapped[str | None] = mapped_column(String(200))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def campaign_instance(instance_id: Any) -> Any:
    """The campaign's own instance id for ``instance_id`` (a scalar subquery): the instance itself, or its
    parent when it is one place's inspection (each place runs as a child instance, ``app.workflow.children``).
    Compare ``Campaign.instance_id`` with it to find the campaign of a task's instance."""
    return (
        select(func.coalesce(ProcessInstance.parent_id, ProcessInstance.id))
        .where(ProcessInstance.id == instance_id)
        .scalar_subquery()
    )
