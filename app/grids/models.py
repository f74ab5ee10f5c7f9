from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.grids.codes import LEVELS, parent_code

_LEVEL_LIST = ", ".join(f"'{level}'" for level in LEVELS)


class Grid(db.Model):  # type: ignore[name-defined]
    """One node of the territory tree: district, street, community, comprehensive grid, compound, building.

    ``geometry`` is a GeoJSON Polygon or MultiPolygon (lon/lat, WGS84). The bounding box is stored beside it
    so the database can prefilter by location without a spatial extension."""

    __tablename__ = "grid"
    __table_args__ = (
        CheckConstraint(f"level IN ({_LEVEL_LIST})", name="level"),
        Index("ix_grid_bbox", "min_lon", "min_lat", "max_lon", "max_lat"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(12), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    parent: Mapped[Grid | None] = relationship(remote_side=[id])

    @property
    def parent_code(self) -> str | None:
        return parent_code(self.code)

    @property
    def bbox(self) -> list[float]:
        return [self.min_lon, self.min_lat, self.max_lon, self.max_lat]


class GridMember(db.Model):  # type: ignore[name-defined]
    """A person assigned to a grid: a grid worker to the grids they patrol, community staff to their
    community, a street or district coordinator (or a supervisor, a dispatcher) to their street or district.
    What a person sees is the union of the subtrees of their grids."""

    __tablename__ = "grid_member"
    __table_args__ = (UniqueConstraint("user_id", "grid_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    grid: Mapped[Grid] = relationship()
