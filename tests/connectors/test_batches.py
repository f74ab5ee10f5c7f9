"""The listener's batches (``ingest_many``): one transaction for many messages gives exactly the rows that one
message at a time gives; a message that breaks costs the others nothing; a device heard many times is written
once; and the case of a new incident is opened after the commit: here (embedded) or by an RQ worker (stack),
with the scheduler's round as the safety net."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from sqlalchemy import event, func, select

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.clock import FrozenClock
from app.devices import alarms as alarms_module
from app.devices.models import Alarm, DeadLetter, Device, Incident, ProcessedMessage
from app.devices.services import register_device, validate_device_fields
from app.extensions import db
from app.worker import run_worker
from app.workflow import deploy, scheduler
from app.workflow.models import HumanTask, TaskStatus
from connectors.ingest import Message, ingest, ingest_many
from tests.conftest import REDIS_URL
from tests.devices.conftest import known_building

BUILDING = "510124001001001001001"
DEVICES = [
    {"device_id": "leak-1", "friendly_name": "3栋/1201/水浸", "device_type": "water_leak_sensor"},
    {
        "device_id": "leak-2",
        "friendly_name": "3栋/1202/水浸",
        "device_type": "water_leak_sensor",
        "resident_name": "王大爷",
        "resident_phone": "13800000001",
        "emergency_contacts": [{"name": "王小明", "phone": "13900000002", "relation": "儿子"}],
    },
    *(
        {
            "device_id": f"smoke-{n}",
            "friendly_name": f"3栋/{n}F/烟感",
            "device_type": "smoke_detector",
            "building_code": BUILDING,
        }
        for n in range(3)
    ),
]


def z2m(name: str, state: dict[str, Any] | bytes) -> tuple[str, bytes]:
    payload = state if isinstance(state, bytes) else json.dumps(state, ensure_ascii=False).encode()
    return f"zigbee2mqtt/{name}", payload


def stream(clock: FrozenClock) -> list[Message]:
    """Telemetry, a leak with repeats and a clear, a reopen, a three-detector fire, a battery going low,
    bad payloads, an unknown device and a QoS 1 redelivery of a message of this very batch."""
    raw: list[tuple[str, bytes]] = [
        z2m("3栋/1201/水浸", {"water_leak": False, "battery": 90, "linkquality": 80}),
        z2m("3栋/1202/水浸", {"water_leak": False, "battery": 88}),
        z2m("3栋/1201/水浸", {"water_leak": True, "battery": 90}),
        z2m("3栋/1201/水浸", {"water_leak": True, "battery": 89}),
        z2m("3栋/1202/水浸", {"water_leak": False, "battery": 87, "linkquality": 60}),
        z2m("3栋/1201/水浸", {"water_leak": True, "battery": 89}),
        *(z2m(f"3栋/{n}F/烟感", {"smoke": True, "smoke_density": 40 + n}) for n in range(3)),
        z2m("3栋/1201/水浸", {"water_leak": False, "battery": 89}),
        z2m("3栋/1201/水浸", {"water_leak": True, "battery": 89}),  # within the reopen window
        z2m("3栋/1202/水浸", {"water_leak": False, "battery_low": True, "battery": 9}),
        z2m("3栋/1202/水浸", b"{not json"),
        z2m("无此设备", {"water_leak": True}),
        z2m("3栋/1202/水浸", {"water_leak": False, "battery": 8}),
    ]
    messages = []
    for n, (topic, payload) in enumerate(raw):
        messages.append(
            Message(topic, payload, received_at=clock.now() + timedelta(seconds=n), message_ref=f"c:{n}")
        )
    # The broker redelivers message 2 (the leak) before its ack: same packet id, DUP flag.
    first_leak = messages[2]
    messages.append(
        Message(
            first_leak.topic,
            first_leak.payload,
            received_at=messages[-1].received_at,
            message_ref="c:2",
            redelivery=True,
        )
    )
    return messages


def rows() -> dict[str, Any]:
    """Everything ingestion writes, without ids and keys that differ between two databases."""
    db.session.expire_all()
    alarms = db.session.execute(select(Alarm).order_by(Alarm.id)).scalars()
    devices = db.session.execute(select(Device).order_by(Device.device_id)).scalars()
    return {
        "alarms": [
            (a.device.device_id, a.alarm_type, a.active, a.count, a.reopen_count, a.toggle_count, a.values)
            for a in alarms
        ],
        "devices": [(d.device_id, d.status, d.last_seen_at, d.last_values, d.battery_low) for d in devices],
        "incidents": [
            (i.alarm_type, i.alarm_count, i.case_id is not None)
            for i in db.session.execute(select(Incident).order_by(Incident.id)).scalars()
        ],
        "cases": db.session.execute(select(func.count()).select_from(Case)).scalar_one(),
        "dead_letters": sorted(d.reason_code for d in db.session.execute(select(DeadLetter)).scalars()),
        "processed": sorted(
            (p.outcome, p.received_at) for p in db.session.execute(select(ProcessedMessage)).scalars()
        ),
        "audit": sorted(
            e.action
            for e in db.session.execute(
                select(AuditEvent).where(AuditEvent.entity_type.in_(("alarm", "device")))
            )
            .scalars()
            .all()
            if e.action != "device.registered"
        ),
    }


def prepared(app: Flask) -> None:
    deploy.deploy_folder(
        app.extensions["gridcase.settings"].bpmn_folder, app.extensions["gridcase.deploy_rules"]()
    )
    known_building(BUILDING)
    for fields in DEVICES:
        register_device(validate_device_fields(fields), with_token=False)
    db.session.commit()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_batch_writes_exactly_what_one_message_at_a_time_writes(make_app: Any, backend: str) -> None:
    results = {}
    for mode in ("one by one", "batch"):
        app = make_app(backend)
        with app.app_context():
            prepared(app)
            messages = stream(app.extensions["gridcase.clock"])
            if mode == "batch":
                outcomes = ingest_many(messages)
            else:
                outcomes = [
                    ingest(
                        m.topic,
                        m.payload,
                        m.retained,
                        m.received_at,
                        message_ref=m.message_ref,
                        redelivery=m.redelivery,
                    )
                    for m in messages
                ]
            results[mode] = ([(r.outcome, r.changes, len(r.case_keys)) for r in outcomes], rows())
            db.session.remove()
            db.engine.dispose()
    assert results["batch"] == results["one by one"]
    outcomes, written = results["batch"]
    assert [o[0] for o in outcomes].count("dead_letter") == 2
    assert outcomes[-1][0] == "duplicate"
    assert written["cases"] == 2  # the leak and the fire: three detectors, one incident
    assert written["incidents"] == [("water_leak", 1, True), ("smoke", 3, True)]
    leak = written["alarms"][0]
    assert leak[:6] == ("leak-1", "water_leak", True, 4, 1, 3)
    # each device's first report (never seen → online), and leak-2's battery, once
    assert written["audit"].count("device.status_changed") == len(DEVICES) + 1


def test_a_message_that_breaks_costs_the_rest_of_its_batch_nothing(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared(app)
    real_link = alarms_module.link_alarm

    def link_but_not_leak_2(alarm: Alarm, device: Device, *args: Any) -> Any:
        if device.device_id == "leak-2":
            raise RuntimeError("correlation broke")
        return real_link(alarm, device, *args)

    monkeypatch.setattr(alarms_module, "link_alarm", link_but_not_leak_2)
    clock = app.extensions["gridcase.clock"]
    messages = [
        Message(*z2m("3栋/1201/水浸", {"water_leak": True}), received_at=clock.now(), message_ref="m:1"),
        Message(*z2m("3栋/1202/水浸", {"water_leak": True}), received_at=clock.now(), message_ref="m:2"),
        Message(*z2m("3栋/0F/烟感", {"smoke": True}), received_at=clock.now(), message_ref="m:3"),
    ]
    results = ingest_many(messages)
    assert [r.outcome for r in results] == ["processed", "dead_letter", "processed"]
    assert results[1].reason_code == "internal_error" and "correlation broke" in (results[1].reason or "")
    written = rows()
    assert written["cases"] == 2
    assert [(a[0], a[1]) for a in written["alarms"]] == [("leak-1", "water_leak"), ("smoke-0", "smoke")]
    letter = db.session.execute(select(DeadLetter)).scalar_one()
    assert letter.topic == "zigbee2mqtt/3栋/1202/水浸" and json.loads(letter.payload) == {"water_leak": True}


def test_a_device_heard_many_times_in_a_batch_is_written_once(app: Flask) -> None:
    prepared(app)
    clock = app.extensions["gridcase.clock"]
    ingest(*z2m("3栋/1201/水浸", {"water_leak": False}))  # its first report: never seen → online
    messages = [
        Message(
            *z2m("3栋/1201/水浸", {"water_leak": False, "battery": 90 - n, "linkquality": n}),
            received_at=clock.now() + timedelta(seconds=n),
        )
        for n in range(50)
    ]
    updates: list[str] = []

    def count_device_updates(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE DEVICE"):
            updates.append(statement)

    event.listen(db.engine, "before_cursor_execute", count_device_updates)
    try:
        assert {r.outcome for r in ingest_many(messages)} == {"processed"}
    finally:
        event.remove(db.engine, "before_cursor_execute", count_device_updates)
    assert len(updates) == 1
    device = db.session.execute(select(Device).where(Device.device_id == "leak-1")).scalar_one()
    assert device.last_seen_at.replace(tzinfo=None) == (clock.now() + timedelta(seconds=49)).replace(
        tzinfo=None
    )
    assert device.last_values == {"water_leak": False, "battery": 41, "linkquality": 49}


@pytest.mark.redis
@pytest.mark.postgres
def test_in_stack_mode_a_worker_opens_the_case_and_the_scheduler_round_catches_a_lost_job(
    make_app: Any, redis: Redis
) -> None:
    app = make_app("postgresql", redis_url=REDIS_URL)
    with app.app_context():
        prepared(app)
        clock: FrozenClock = app.extensions["gridcase.clock"]
        (result,) = ingest_many(
            [Message(*z2m("3栋/1201/水浸", {"water_leak": True}), received_at=clock.now())]
        )
        assert result.changes == ("water_leak:opened",) and result.case_keys == ()
        incident = db.session.execute(select(Incident)).scalar_one()
        assert result.incident_ids == (incident.id,) and incident.case_id is None
        assert Queue("engine", connection=redis).count == 1

        run_worker(app, ["engine"], burst=True)
        db.session.expire_all()
        case = db.session.execute(select(Case)).scalar_one()
        assert incident.case_id == case.id and case.source_channel == "sensor"

        # A job lost with Redis: the incident waits for the scheduler's round, after the grace period.
        (result,) = ingest_many([Message(*z2m("3栋/0F/烟感", {"smoke": True}), received_at=clock.now())])
        redis.flushdb()
        scheduler.run_periodic()
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 1
        clock.advance(seconds=61)
        scheduler.run_periodic()
        db.session.expire_all()
        smoke = db.session.get(Incident, result.incident_ids[0])
        assert smoke is not None and smoke.case_id is not None
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 2
        db.session.remove()
        db.engine.dispose()


def test_a_case_opened_after_everything_cleared_hears_the_clear(app: Flask) -> None:
    """Embedded mode opens cases right after the commit; an incident whose alarms all cleared in the same
    batch still gets its case, and the case's phone round (the device protects a resident) is told."""
    prepared(app)
    clock = app.extensions["gridcase.clock"]
    results = ingest_many(
        [
            Message(*z2m("3栋/1202/水浸", {"water_leak": True}), received_at=clock.now()),
            Message(
                *z2m("3栋/1202/水浸", {"water_leak": False}), received_at=clock.now() + timedelta(seconds=5)
            ),
        ]
    )
    assert len(results[0].case_keys) == 1
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "message.correlated")
    ).scalar_one()
    assert event.data["message"] == "alarm_cleared"
    waiting = (
        db.session.execute(select(HumanTask.element_id).where(HumanTask.status.in_(TaskStatus.OPEN)))
        .scalars()
        .all()
    )
    assert waiting == ["confirm_clear"]
