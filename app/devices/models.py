"""Sensors: devices and their tokens, alarms, incidents, dead letters, and the keys of processed messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db


class Device(db.Model):  # type: ignore[name-defined]
    """A registered sensor, where it is and whom it protects (e.g. an elderly resident living alone)."""

    __tablename__ = "device"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)  # e.g. the IEEE address 0x00158d…
    # zigbee2mqtt's name, the topic after the base topic; may contain '/' (e.g. "3栋/1201/厨房水浸").
    friendly_name: Mapped[str] = mapped_column(String(200), unique=True)
    device_type: Mapped[str] = mapped_column(String(32), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    grid_code: Mapped[str | None] = mapped_column(String(24), index=True)  # deepest grid at lat/lon
    building_code: Mapped[str | None] = mapped_column(String(24), index=True)  # correlation: same building
    address: Mapped[str | None] = mapped_column(String(300))
    resident_name: Mapped[str | None] = mapped_column(String(80))
    resident_phone: Mapped[str | None] = mapped_column(String(32))
    resident_notes: Mapped[str | None] = mapped_column(String(500))  # e.g. 独居老人, 行动不便
    # Called in this order: [{"name", "phone", "relation"}, ...]
    emergency_contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # online | offline | low_battery | tampered | never_seen (registered, never reported)
    status: Mapped[str] = mapped_column(String(16), index=True)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    tampered: Mapped[bool] = mapped_column(Boolean, default=False)
    battery_low: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # latest telemetry
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeviceToken(db.Model):  # type: ignore[name-defined]
    """A device's HTTP ingestion token. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "device_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    device: Mapped[Device] = relationship()


class Incident(db.Model):  # type: ignore[name-defined]
    """One real-world event behind one or more alarms (a fire sets off many detectors): one case."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_type: Mapped[str] = mapped_column(String(40))  # of the first alarm
    alarm_group: Mapped[str | None] = mapped_column(String(20))  # correlation group; None: never joined
    building_code: Mapped[str | None] = mapped_column(String(24), index=True)
    grid_code: Mapped[str | None] = mapped_column(String(24))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(10))
    alarm_count: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_alarm_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)


class Alarm(db.Model):  # type: ignore[name-defined]
    """Unique per (device, alarm type) while active: ``active_key`` is "<device>:<type>" while active and
    NULL once cleared, and a unique index on it lets any number of cleared alarms coexist (NULLs are
    distinct on SQLite and PostgreSQL alike)."""

    __tablename__ = "alarm"
    __table_args__ = (Index("ix_alarm_device_id_alarm_type_id", "device_id", "alarm_type", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    alarm_type: Mapped[str] = mapped_column(String(40))
    active_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    severity: Mapped[str] = mapped_column(String(10))
    count: Mapped[int] = mapped_column(Integer, default=1)  # trigger messages, repeats included
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    toggle_count: Mapped[int] = mapped_column(Integer, default=0)
    # Times of the toggles within the flapping window (ISO strings), oldest first.
    recent_toggles: Mapped[list[str]] = mapped_column(JSON, default=list)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)

    device: Mapped[Device] = relationship()
    incident: Mapped[Incident | None] = relationship()


class DeadLetter(db.Model):  # type: ignore[name-defined]
    """A message we could not use, kept with the reason, the topic and the raw payload (cut at the size
    limit; ``payload_size`` is the real size)."""

    __tablename__ = "dead_letter"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    source: Mapped[str] = mapped_column(String(8))  # mqtt | http
    topic: Mapped[str] = mapped_column(String(500))
    reason_code: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_size: Mapped[int] = mapped_column(Integer)
    retained: Mapped[bool] = mapped_column(Boolean, default=False)
    # The device its topic names, when registered (counted on the device).
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"), index=True)


class ProcessedMessage(db.Model):  # type: ignore[name-defined]
    """The key of each message already handled, so a QoS 1 redelivery is recognized and not counted twice."""

    __tablename__ = "processed_message"

    dedup_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
