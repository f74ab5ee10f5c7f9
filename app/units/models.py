from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.grids.models import Grid

# key: (zh-CN, English)
UNIT_KINDS: dict[str, tuple[str, str]] = {
    "property": ("物业公司", "Property company"),
    "sanitation": ("环卫", "Sanitation"),
    "water": ("供水", "Water"),
    "power": ("供电", "Power"),
    "gas": ("燃气", "Gas"),
    "police": ("派出所", "Police"),
    "fire": ("消防", "Fire"),
    "street_office": ("街道办事处", "Street office"),
    "district_bureau": ("区级部门", "District bureau"),
}
_KIND_LIST = ", ".join(f"'{kind}'" for kind in UNIT_KINDS)


class Unit(db.Model):  # type: ignore[name-defined]
    __tablename__ = "unit"
    __table_args__ = (CheckConstraint(f"kind IN ({_KIND_LIST})", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # what users' unit_code and task groups name
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    grids: Mapped[list[Grid]] = relationship(secondary="unit_grid", order_by="Grid.code")


class UnitGrid(db.Model):  # type: ignore[name-defined]
    """A grid a unit serves (its whole subtree)."""

    __tablename__ = "unit_grid"
    __table_args__ = (UniqueConstraint("unit_id", "grid_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="CASCADE"), index=True)
