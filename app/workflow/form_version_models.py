"""Forms frozen by deployments: the versions of each form, and which deployment froze which."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class FormVersion(db.Model):  # type: ignore[name-defined]
    """One content of one form (``forms/<name>``), stored once by content hash. Immutable: a task of a
    deployment that froze it renders and validates with it whatever ``forms/`` holds later."""

    __tablename__ = "form_version"
    __table_args__ = (
        UniqueConstraint("name", "content_hash", name="uq_form_version_name_content_hash"),
        UniqueConstraint("name", "version", name="uq_form_version_name_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)  # "triage.schema.json"
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, … per name, in the order first frozen
    content_hash: Mapped[str] = mapped_column(String(64))  # of schema + UI hints (form_versions.content_hash)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    ui_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DefinitionForm(db.Model):  # type: ignore[name-defined]
    """Deployment ``definition_id`` froze version ``form_version_id`` of the form its user tasks call
    ``form_name``."""

    __tablename__ = "process_definition_form"

    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), primary_key=True)
    form_name: Mapped[str] = mapped_column(String(120), primary_key=True)
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_version.id"), index=True)
