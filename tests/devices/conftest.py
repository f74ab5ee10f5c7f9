"""Sensor fixtures: registered devices of a few kinds, and a helper that feeds messages through ``ingest``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.clock import now
from app.devices.models import Device
from app.devices.services import register_device, validate_device_fields
from app.extensions import db
from app.grids.models import Grid
from connectors.ingest import IngestResult, ingest

BUILDING_A = "510124001001001001001"
BUILDING_B = "510124001001001001002"


@pytest.fixture
def register(app: Flask) -> Callable[..., tuple[Device, str | None]]:
    def factory(
        device_id: str, device_type: str = "water_leak_sensor", **fields: Any
    ) -> tuple[Device, str | None]:
        if fields.get("building_code"):
            known_building(fields["building_code"])
        device, token = register_device(
            validate_device_fields({"device_id": device_id, "device_type": device_type, **fields})
        )
        db.session.commit()
        return device, token

    return factory


@pytest.fixture
def elderly_leak_sensor(register: Callable[..., Any]) -> Device:
    device, _ = register(
        "0x00158d0001a2b3c4",
        friendly_name="锦绣花园/3栋/1201/厨房水浸",
        lat=30.7589,
        lon=103.9718,
        address="锦绣花园 3 栋 1201",
        building_code=BUILDING_A,
        resident_name="王大爷",
        resident_phone="13800000001",
        resident_notes="独居老人",
        emergency_contacts=[
            {"name": "王小明", "phone": "13900000002", "relation": "儿子"},
            {"name": "李阿姨", "phone": "13900000003", "relation": "邻居"},
        ],
    )
    return device  # type: ignore[no-any-return]


Send = Callable[..., IngestResult]


@pytest.fixture
def send(app: Flask) -> Send:
    """``send(topic, payload_dict_or_bytes, retained=False, **ingest_options)`` → the IngestResult."""

    def feed(topic: str, payload: Any, retained: bool = False, **options: Any) -> IngestResult:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        return ingest(topic, raw, retained, **options)

    return feed


def sensor_grid(code: str, level: str, parent_id: int | None) -> Grid:
    """A grid of ``level`` around the test sensors (a square of 0.1°), flushed."""
    return _square_grid(code, level, parent_id, (103.9, 30.7, 104.0, 30.8))


def known_building(code: str) -> Grid:
    """The building ``code`` of the territory (a device may only name an existing one), created when missing.
    Its square lies far from the test sensors, so locating them by lat/lon never finds it."""
    existing = db.session.execute(select(Grid).where(Grid.code == code)).scalar_one_or_none()
    if existing is not None:
        return existing
    return _square_grid(code, "building", None, (100.0, 20.0, 100.001, 20.001))


Box = tuple[float, float, float, float]  # lon0, lat0, lon1, lat1


def _square_grid(code: str, level: str, parent_id: int | None, box: Box) -> Grid:
    """A grid whose area is the rectangle ``box`` (lon0, lat0, lon1, lat1), flushed."""
    lon0, lat0, lon1, lat1 = box
    grid = Grid(
        code=code,
        name=code,
        level=level,
        parent_id=parent_id,
        geometry={
            "type": "Polygon",
            "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1]]],
        },
        min_lon=lon0,
        min_lat=lat0,
        max_lon=lon1,
        max_lat=lat1,
        created_at=now(),
    )
    db.session.add(grid)
    db.session.flush()
    return grid
