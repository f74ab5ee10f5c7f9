from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

CATEGORY_KINDS = ("event", "part")  # 事件 / 部件
# Who handles a category's cases: the grid's own workers, or a unit of the named kind serving the grid.
RESPONSIBLE_LEVELS = ("grid", "community", "street", "district", "unit")
_LEVEL_LIST = ", ".join(f"'{level}'" for level in RESPONSIBLE_LEVELS)


class Category(db.Model):  # type: ignore[name-defined]
    """One class or sub-class. Codes: kind prefix + class (2 digits) [+ sub-class (2 digits)], e.g.
    ``E0102`` 暴露垃圾 (event class 01, sub-class 02) or ``P01`` 公用设施."""

    __tablename__ = "category"
    __table_args__ = (
        CheckConstraint("kind IN ('event', 'part')", name="kind"),
        CheckConstraint(f"responsible_level IN ({_LEVEL_LIST})", name="responsible_level"),
        CheckConstraint("default_severity IN ('red', 'orange', 'yellow', 'blue')", name="default_severity"),
    )

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    parent_code: Mapped[str | None] = mapped_column(String(8), index=True)
    name: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str | None] = mapped_column(String(120))
    default_severity: Mapped[str] = mapped_column(String(10))
    responsible_level: Mapped[str] = mapped_column(String(12))
    responsible_unit_kind: Mapped[str | None] = mapped_column(String(20))  # for responsible_level 'unit'
    handle_limit: Mapped[str] = mapped_column(String(16))  # TimeLimit text: "4wh", "20wd", "24h"
    close_limit: Mapped[str] = mapped_column(String(16))
    process_key: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
