"""AI camera snapshots through ingest: a real JPEG becomes a photo of the incident's case (content-checked,
stored, thumbnailed, attributed to the device), a fake one is refused with its reason in the timeline while
the case opens anyway, a URL stays a link, and the base64 bytes are never copied into alarm values, device
values, audit data or process variables."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import Attachment
from app.devices import snapshots
from app.devices.models import Alarm, Device
from app.extensions import db
from app.jobs import run_inline_jobs
from app.workflow.models import ProcessInstance
from tests.devices.conftest import BUILDING_A, Send
from tests.devices.test_sensor_alarm import _open_elements, _signed_in  # noqa: F401  (autouse set-up)
from tests.helpers import case_row, jpeg

CAMERA_ID = "cam-jxhy-north"
TOPIC = f"gridcase/devices/{CAMERA_ID}"


@pytest.fixture
def camera(register: Callable[..., Any]) -> Device:
    device, _ = register(
        CAMERA_ID,
        "ai_camera",
        friendly_name="锦绣花园北门摄像头",
        lat=30.7589,
        lon=103.9718,
        address="锦绣花园北门",
        building_code=BUILDING_A,
    )
    return device  # type: ignore[no-any-return]


def _detect(send: Send, **snapshot: Any) -> str:
    result = send(
        TOPIC, {"kind": "ai_camera", "detection": "garbage_overflow", "confidence": 0.93, **snapshot}
    )
    (key,) = result.case_keys
    return key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _events(key: str, action: str) -> list[AuditEvent]:
    case = case_row(key)
    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action == action)
        ).scalars()
    )


def _noisy_jpeg(side: int) -> bytes:
    """A JPEG that does not compress much (random pixels): a realistic snapshot's size."""
    rng = random.Random(7)
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def test_a_real_jpeg_snapshot_becomes_a_photo_of_the_case(
    app: Flask, client: Any, auth: Any, send: Send, camera: Device
) -> None:
    image = jpeg(size=(320, 240))
    key = _detect(send, snapshot_base64=_b64(image))
    assert run_inline_jobs() >= 1  # embedded mode's job runner: the thumbnail
    case = case_row(key)
    assert _open_elements(key) == ["handle"]  # no protected resident: dispatched at once

    response = client.get(f"/api/v1/cases/{key}/attachments", headers=auth("dispatcher"))
    assert response.status_code == 200
    (photo,) = response.get_json()
    assert (photo["kind"], photo["content_type"], photo["width"], photo["height"]) == (
        "report",
        "image/jpeg",
        320,
        240,
    )
    assert photo["size"] == len(image) and photo["has_thumbnail"]
    content = client.get(f"/api/v1/attachments/{photo['id']}/content", headers=auth("worker"))
    assert content.status_code == 200 and content.data == image

    (added,) = _events(key, "attachment.added")
    assert added.actor_label == f"device:{CAMERA_ID}" and added.actor_id is None
    assert added.after["sha256"] == photo["sha256"] and added.data["source"] == "camera_snapshot"
    assert "现场快照:已存为案件照片(320×240" in case.description
    assert _events(key, "case.snapshot_refused") == []


def test_a_fake_jpeg_is_refused_with_its_reason_and_the_case_opens(
    client: Any, auth: Any, send: Send, camera: Device
) -> None:
    fake = b"\xff\xd8\xff\xe0 this is not really a JPEG" * 10
    key = _detect(send, snapshot_base64=_b64(fake))
    case = case_row(key)
    assert case.status == "handling" and _open_elements(key) == ["handle"]
    assert db.session.execute(select(Attachment).where(Attachment.case_id == case.id)).first() is None

    (refused,) = _events(key, "case.snapshot_refused")
    assert refused.actor_label == f"device:{CAMERA_ID}"
    assert refused.data["reason"] == "content is a damaged or truncated JPEG image"
    assert refused.data["status"] == 415
    assert "现场快照未能存为照片:content is a damaged or truncated JPEG image" in case.description
    timeline = client.get(f"/api/v1/cases/{key}/timeline?page_size=100", headers=auth("dispatcher"))
    assert "case.snapshot_refused" in [e["action"] for e in timeline.get_json()["items"]]


def test_a_snapshot_that_was_never_staged_is_refused_not_fatal(
    app: Flask, send: Send, camera: Device, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshots, "stage", lambda image: False)  # e.g. the disk refused it
    key = _detect(send, snapshot_base64=_b64(jpeg()))
    (refused,) = _events(key, "case.snapshot_refused")
    assert "staged snapshot missing" in refused.data["reason"]
    assert _open_elements(key) == ["handle"]


def test_a_snapshot_url_is_a_link_in_the_description_and_the_variables(
    client: Any, auth: Any, send: Send, camera: Device
) -> None:
    url = "https://cam.example.com/snap/2026/11/02/0900.jpg"
    key = _detect(send, snapshot_url=url)
    body = client.get(f"/api/v1/cases/{key}", headers=auth("dispatcher")).get_json()
    assert f"现场快照(链接,系统不下载):{url}" in body["description"]
    assert client.get(f"/api/v1/cases/{key}/attachments", headers=auth("dispatcher")).get_json() == []
    task = client.get(f"/api/v1/tasks/{_open_task_id(key)}", headers=auth("worker")).get_json()
    assert task["data"]["snapshot_url"] == url


def _open_task_id(key: str) -> int:
    from tests.helpers import open_task

    return open_task(key, "handle").id


def test_a_large_snapshot_is_kept_as_a_marker_only(app: Flask, send: Send, camera: Device) -> None:
    image = _noisy_jpeg(400)
    assert 100_000 < len(image) < 180_000  # base64 stays under the 256 KiB payload limit
    encoded = _b64(image)
    key = _detect(send, snapshot_base64=encoded)
    send(
        TOPIC, {"kind": "ai_camera", "detection": "garbage_overflow", "snapshot_base64": encoded}
    )  # a repeat
    db.session.expire_all()
    alarm = db.session.execute(select(Alarm).where(Alarm.device_id == camera.id)).scalar_one()
    device = db.session.get(Device, camera.id)
    assert device is not None
    instance = db.session.execute(
        select(ProcessInstance).where(ProcessInstance.case_id == case_row(key).id)
    ).scalar_one()
    audit = db.session.execute(select(AuditEvent.data, AuditEvent.after, AuditEvent.before)).all()
    stored = {
        "alarm.values": alarm.values,
        "device.last_values": device.last_values,
        "instance.state": instance.state,
        "audit": [list(row) for row in audit],
        "description": case_row(key).description,
    }
    for where, value in stored.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        assert encoded[:64] not in text, where
        assert len(text) < 60_000, where
    assert alarm.count == 2
    assert alarm.values["snapshot_bytes"] == len(image)
    assert alarm.values["snapshot_sha256"] == snapshots.marker(image)["snapshot_sha256"]
    assert "snapshot_base64" not in device.last_values


def test_staged_snapshots_are_pruned_after_their_hour(app: Flask) -> None:
    image = jpeg()
    assert snapshots.stage(image)
    staged = snapshots._staged_path(snapshots.marker(image)["snapshot_sha256"])
    assert staged.exists()
    assert snapshots.prune_stale(force=True) == 0
    old = time.time() - snapshots.STAGED_TTL_SECONDS - 5
    os.utime(staged, (old, old))
    assert snapshots.prune_stale(force=True) == 1
    assert not staged.exists()


def test_on_postgresql_too_the_alarm_and_the_device_keep_the_marker_only(make_app: Any) -> None:
    """PostgreSQL merges a repeat's values into the stored ones in SQL (connectors/routine.py)."""
    from app.devices.services import register_device, validate_device_fields
    from app.workflow import deploy
    from connectors.ingest import ingest

    pg = make_app("postgresql")
    with pg.app_context():
        deploy.deploy_folder(
            pg.extensions["gridcase.settings"].bpmn_folder, pg.extensions["gridcase.deploy_rules"]()
        )
        register_device(validate_device_fields({"device_id": "cam-pg", "device_type": "ai_camera"}))
        db.session.commit()
        image = _noisy_jpeg(400)
        payload = {"kind": "ai_camera", "detection": "illegal_parking", "snapshot_base64": _b64(image)}
        for _ in range(3):  # the opening message, then repeats on the routine path
            ingest("gridcase/devices/cam-pg", json.dumps(payload).encode())
        db.session.expire_all()
        alarm = db.session.execute(select(Alarm)).scalar_one()
        device = db.session.execute(select(Device)).scalar_one()
        assert alarm.count == 3
        assert alarm.values == {
            "detection": "illegal_parking",
            **snapshots.marker(image),
        }
        assert "snapshot_base64" not in device.last_values
        assert len(json.dumps(device.last_values)) < 1000
        db.session.remove()
        db.engine.dispose()


def test_only_the_snapshot_that_opens_the_alarm_is_kept(app: Flask, send: Send, camera: Device) -> None:
    first, repeat = _noisy_jpeg(64), jpeg()
    _detect(send, snapshot_base64=_b64(first))
    send(TOPIC, {"kind": "ai_camera", "detection": "garbage_overflow", "snapshot_base64": _b64(repeat)})
    staged = {p.name.removesuffix(".bin") for p in (snapshots._folder()).rglob("*.bin")}
    assert staged == {snapshots.marker(first)["snapshot_sha256"]}  # the repeat's image is not on disk
