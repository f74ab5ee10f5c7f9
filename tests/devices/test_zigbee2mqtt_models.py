"""zigbee2mqtt as it runs today: payloads of current models (tests/connectors/data/zigbee2mqtt, with
``elapsed`` and ``last_seen``) give alarms, not dead letters; the bridge's state is one maintenance incident
for the coordinator and every device behind it; bridge events are recorded on the device; a device silent
past its kind's interval goes offline without zigbee2mqtt's availability feature. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.clock import FrozenClock
from app.devices.models import Alarm, DeadLetter, Device, Incident
from app.extensions import db
from app.workflow import scheduler
from tests.devices.conftest import Send
from tests.factories import app_on_both_backends

MODELS = sorted((Path(__file__).parents[1] / "connectors" / "data" / "zigbee2mqtt").glob("*.json"))


app = app_on_both_backends


@pytest.fixture(autouse=True)
def _deployed(deployed: None) -> None:
    """Incidents open cases, which start their processes."""


def _count(model: Any) -> int:
    return int(db.session.execute(select(func.count()).select_from(model)).scalar_one())


def _device(device_id: str) -> Device:
    db.session.expire_all()
    return db.session.execute(select(Device).where(Device.device_id == device_id)).scalar_one()


def test_recorded_payloads_of_current_models_give_alarms_not_dead_letters(
    send: Send, register: Callable[..., Any]
) -> None:
    assert len(MODELS) >= 5
    for number, path in enumerate(MODELS):
        recorded = json.loads(path.read_text(encoding="utf-8"))
        name = f"锦绣花园/{number}栋/{recorded['model']}"
        register(f"0x00158d00000000{number:02d}", recorded["device_type"], friendly_name=name)
        result = send(f"zigbee2mqtt/{name}", recorded["payload"])
        assert (result.outcome, result.changes) == ("processed", (f"{recorded['alarm']}:opened",)), path.name
        device = _device(f"0x00158d00000000{number:02d}")
        kept = {k: v for k, v in recorded["payload"].items() if k != "action"}
        assert device.last_values == kept and device.status == "online", path.name
    assert _count(DeadLetter) == 0
    assert sorted(a.alarm_type for a in db.session.execute(select(Alarm)).scalars()) == sorted(
        json.loads(p.read_text(encoding="utf-8"))["alarm"] for p in MODELS
    )


def test_bridge_offline_is_one_maintenance_incident_naming_the_coordinator_and_its_devices(
    send: Send, clock: FrozenClock, register: Callable[..., Any]
) -> None:
    register("0x00124b0018e2f3a4", "zigbee_coordinator", friendly_name="bridge", address="锦绣花园物业中心")
    for n in (1, 2):
        register(f"leak-{n}", "water_leak_sensor", friendly_name=f"3栋/120{n}/水浸")
        send(f"zigbee2mqtt/3栋/120{n}/水浸", {"water_leak": False})
    offline = send("zigbee2mqtt/bridge/state", b"offline", retained=True)
    assert offline.changes == ("maintenance:opened",) and len(offline.case_keys) == 1
    case = db.session.execute(select(Case)).scalar_one()
    assert "bridge" in case.description and "0x00124b0018e2f3a4" in case.description
    assert "3栋/1201/水浸" in case.description and "3栋/1202/水浸" in case.description
    assert send("zigbee2mqtt/bridge/state", b'{"state":"offline"}', retained=True).changes == ()
    # its devices fall silent with it: offline by our timeout, but no maintenance case each
    clock.advance(hours=26)
    scheduler.tick()
    clock.advance(hours=2)
    scheduler.tick()
    assert _device("leak-1").status == "offline" and _count(Incident) == 1
    online = send("zigbee2mqtt/bridge/state", b'{"state":"online"}')
    assert online.changes == ("maintenance:cleared",)
    assert _device("0x00124b0018e2f3a4").status == "online"


def test_bridge_events_are_recorded_on_the_device(send: Send, register: Callable[..., Any]) -> None:
    register("0x00158d0001a2b3c4", "door_contact", friendly_name="3栋/单元门")
    send("zigbee2mqtt/3栋/单元门", {"contact": True})
    left = {
        "type": "device_leave",
        "data": {"ieee_address": "0x00158d0001a2b3c4", "friendly_name": "3栋/单元门"},
    }
    assert send("zigbee2mqtt/bridge/event", left).outcome == "processed"
    device = _device("0x00158d0001a2b3c4")
    assert device.status == "offline" and device.last_values["network_event"] == "device_leave"
    joined = {"type": "device_joined", "data": {"ieee_address": "0x00158d0001a2b3c4"}}
    assert send("zigbee2mqtt/bridge/event", joined).outcome == "processed"
    events = db.session.execute(
        select(AuditEvent.data).where(AuditEvent.action == "device.network_event").order_by(AuditEvent.id)
    ).scalars()
    assert [e["event"] for e in events] == ["device_leave", "device_joined"]


def test_a_device_silent_past_its_interval_goes_offline(
    send: Send, clock: FrozenClock, register: Callable[..., Any]
) -> None:
    register("gas-1", "gas_detector", friendly_name="3栋/1201/燃气")  # 60 minutes
    register("leak-1", "water_leak_sensor", friendly_name="3栋/1201/水浸")  # 25 hours
    register("leak-2", "water_leak_sensor", friendly_name="3栋/1202/水浸")  # never reports
    send("zigbee2mqtt/3栋/1201/燃气", {"gas": False, "linkquality": 90})
    send("zigbee2mqtt/3栋/1201/水浸", {"water_leak": False})
    clock.advance(minutes=59)
    scheduler.tick()
    assert _device("gas-1").status == "online"
    clock.advance(minutes=2)
    scheduler.tick()
    assert [_device(d).status for d in ("gas-1", "leak-1", "leak-2")] == ["offline", "online", "never_seen"]
    silent = db.session.execute(select(AuditEvent.data).where(AuditEvent.action == "device.silent")).scalars()
    assert [e["silence_minutes"] for e in silent] == [60]
    clock.advance(hours=25)
    scheduler.tick()
    assert _device("leak-1").status == "offline"
    assert send("zigbee2mqtt/3栋/1201/燃气", {"gas": False}).outcome == "processed"
    assert _device("gas-1").status == "online"  # heard again: back online
    clock.advance(minutes=61)
    scheduler.tick()
    assert _device("gas-1").status == "offline"
