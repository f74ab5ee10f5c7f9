"""Helpers that walk cases through the API as the users would."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import ALL_MODELS
from app.workflow.models import HumanTask, TaskStatus

Auth = Callable[[str], dict[str, str]]


def jpeg(color: tuple[int, int, int] = (200, 80, 40), size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


def after_working_hours(start: datetime, hours: float) -> datetime:
    """When ``hours`` of working time from ``start`` are used up, on the app's working calendar (China's
    working days, 08:30-12:00 and 13:30-17:30 CST): what a dispatcher's ``time_limit_hours`` mean.
    tests/cases/test_time_limits.py checks this arithmetic by hand."""
    from flask import current_app

    return current_app.extensions["gridcase.calendar"].add_working_hours(start, hours)  # type: ignore[no-any-return]


def ensure_catalogue() -> None:
    """Load app/categories/catalogue.json once per test database (reports name its categories)."""
    from app.categories.models import Category
    from app.categories.services import sync_catalogue

    if db.session.execute(select(func.count()).select_from(Category)).scalar_one() == 0:
        sync_catalogue()
        db.session.commit()


def report(client: FlaskClient, auth: Auth, who: str = "resident", **fields: Any) -> dict[str, Any]:
    """Report a case through the API: an exposed-garbage case (E0102, grid level, 4 working hours) unless
    ``fields`` say otherwise. Loads the category catalogue first if the test database has none."""
    ensure_catalogue()
    body = {
        "title": "垃圾满溢",
        "description": "北门垃圾桶满了",
        "category_code": "E0102",
        "severity": "yellow",
        "lat": 30.7589,
        "lon": 103.9718,
        "address": "锦绣花园北门",
        **fields,
    }
    body = {name: value for name, value in body.items() if value is not None}  # None: leave it out
    response = client.post("/api/v1/cases", json=body, headers=auth(who))
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def open_task(case_key: str, element_id: str) -> HumanTask:
    from app.cases.models import Case

    task = db.session.execute(
        select(HumanTask)
        .join(Case, Case.id == HumanTask.case_id)
        .where(
            Case.key == case_key, HumanTask.element_id == element_id, HumanTask.status.in_(TaskStatus.OPEN)
        )
    ).scalar_one_or_none()
    assert task is not None, f"no open {element_id} task for {case_key}"
    return task


def complete(
    client: FlaskClient,
    auth: Auth,
    who: str,
    case_key: str,
    element_id: str,
    data: dict[str, Any],
    expect: int = 200,
) -> dict[str, Any]:
    task_id = open_task(case_key, element_id).id
    response = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=auth(who))
    assert response.status_code == expect, response.get_json()
    db.session.expire_all()
    return response.get_json()  # type: ignore[no-any-return]


def upload_photo(
    client: FlaskClient,
    auth: Auth,
    who: str,
    case_key: str,
    kind: str = "after",
    content: bytes | None = None,
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/cases/{case_key}/attachments?kind={kind}",
        data={"file": (io.BytesIO(content or jpeg()), "photo.jpg")},
        headers=auth(who),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def case(client: FlaskClient, auth: Auth, case_key: str, who: str = "supervisor") -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case_key}", headers=auth(who))
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def timeline_actions(client: FlaskClient, auth: Auth, case_key: str) -> list[str]:
    response = client.get(f"/api/v1/cases/{case_key}/timeline?page_size=100", headers=auth("supervisor"))
    assert response.status_code == 200
    return [event["action"] for event in response.get_json()["items"]]


def walk_to(
    client: FlaskClient, auth: Auth, case_key: str, step: str, hours: int = 24, handler: str = "worker"
) -> None:
    """Move a reported case forward to the open task ``step`` (dispatch, handle, photo_proof, review)."""
    order = ["dispatch", "handle", "photo_proof", "review"]
    complete(client, auth, "dispatcher", case_key, "triage", {"triage_decision": "accept"})
    if step == "dispatch":
        return
    complete(
        client, auth, "dispatcher", case_key, "dispatch", {"handler_user": handler, "time_limit_hours": hours}
    )
    if order.index(step) <= order.index("handle"):
        return
    complete(
        client,
        auth,
        handler,
        case_key,
        "handle",
        {"handle_result": "resolved", "handle_description": "已清理"},
    )
    if step == "photo_proof":
        return
    photo = upload_photo(client, auth, handler, case_key)
    complete(client, auth, handler, case_key, "photo_proof", {"after_photos": [photo["id"]]})


def fingerprint() -> dict[str, Any]:
    """The database as it was: row counts of every table, instance states, task and case statuses."""

    db.session.expire_all()
    counts = {
        m.__tablename__: db.session.execute(select(func.count()).select_from(m)).scalar_one()
        for m in ALL_MODELS
    }
    states = db.session.execute(
        text("SELECT id, status, state, next_timer_at FROM process_instance ORDER BY id")
    ).all()
    tasks = db.session.execute(
        select(HumanTask.id, HumanTask.status, HumanTask.assignee_id).order_by(HumanTask.id)
    ).all()
    cases = db.session.execute(
        text("SELECT id, status, updated_at, rework_count FROM case_file ORDER BY id")
    ).all()
    return {
        "counts": counts,
        "instances": [tuple(r) for r in states],
        "tasks": [tuple(r) for r in tasks],
        "cases": [tuple(r) for r in cases],
    }


def one_task_bpmn(process_id: str, candidate_roles: str) -> bytes:
    """A process with one user task (the review form) offered to ``candidate_roles``: a probe for tests."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="{process_id}_definitions" targetNamespace="https://gridcase.example/bpmn">
  <bpmn:process id="{process_id}" name="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="look" />
    <bpmn:userTask id="look" name="Look">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="review.schema.json" />
          <spiffworkflow:property name="candidateRoles" value="{candidate_roles}" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="look" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
""".encode()
