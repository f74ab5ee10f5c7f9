"""Helpers that walk cases through the API as the users would."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select, text

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.clock import FrozenClock, as_utc
from app.extensions import db
from app.models import ALL_MODELS
from app.workflow import scheduler
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus

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
    task = db.session.execute(
        select(HumanTask)
        .join(Case, Case.id == HumanTask.case_id)
        .where(
            Case.key == case_key, HumanTask.element_id == element_id, HumanTask.status.in_(TaskStatus.OPEN)
        )
    ).scalar_one_or_none()
    assert task is not None, f"no open {element_id} task for {case_key}"
    return task


# -- reading a case from the database (fresh: each expires what the session holds) -----------------------


def case_row(key: str) -> Case:
    db.session.expire_all()
    return db.session.execute(select(Case).where(Case.key == key)).scalar_one()


def open_tasks(key: str) -> list[HumanTask]:
    """The case's open tasks, oldest first."""
    db.session.expire_all()
    return list(
        db.session.execute(
            select(HumanTask)
            .join(Case, Case.id == HumanTask.case_id)
            .where(Case.key == key, HumanTask.status.in_(TaskStatus.OPEN))
            .order_by(HumanTask.id)
        ).scalars()
    )


def open_ids(key: str) -> list[str]:
    """The element ids of the case's open tasks, sorted."""
    return sorted(t.element_id for t in open_tasks(key))


def case_events(key: str, action: str | None = None) -> list[AuditEvent]:
    """The case's audit events (only ``action``'s when given), oldest first."""
    query = select(AuditEvent).where(AuditEvent.case_id == case_row(key).id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(db.session.execute(query.order_by(AuditEvent.id)).scalars())


def instance(key: str) -> ProcessInstance:
    """The case's process instance (not its children: an emergency's responders run in instances of their
    own, ``app.workflow.children``)."""
    db.session.expire_all()
    return db.session.execute(
        select(ProcessInstance)
        .join(Case, Case.id == ProcessInstance.case_id)
        .where(Case.key == key, ProcessInstance.parent_id.is_(None))
    ).scalar_one()


def fire_next_timer(clock: FrozenClock, key: str) -> None:
    """Move the clock to the case's next due timer (its instance's or a child's) and fire it, as the
    scheduler would: every instance of the case due at that moment steps."""
    db.session.expire_all()
    dues = [
        as_utc(due)
        for due in db.session.execute(
            select(ProcessInstance.next_timer_at)
            .join(Case, Case.id == ProcessInstance.case_id)
            .where(Case.key == key, ProcessInstance.next_timer_at.is_not(None))
        ).scalars()
    ]
    assert dues, "no timer is armed"
    due = min(dues)
    clock.set(due)
    assert scheduler.tick() == dues.count(due)
    db.session.expire_all()


def complete(
    client: FlaskClient,
    auth: Auth,
    who: str,
    case_key: str,
    element_id: str,
    data: dict[str, Any],
    expect: int = 200,
) -> dict[str, Any]:
    return complete_by_id(client, auth, who, open_task(case_key, element_id).id, data, expect)


def complete_by_id(
    client: FlaskClient, auth: Auth, who: str, task_id: int, data: dict[str, Any], expect: int = 200
) -> Any:
    """``who`` completes the task ``task_id`` with the form ``data`` through the API; the answer."""
    response = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=auth(who))
    assert response.status_code == expect, response.get_json()
    db.session.expire_all()
    return response.get_json()


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
    if step == "photo_proof":
        complete(client, auth, handler, case_key, "handle", resolved("已清理"))
        return
    handle_and_prove(client, auth, handler, case_key)


def resolved(description: str) -> dict[str, str]:
    """The handle form of a case handled on the spot."""
    return {"handle_result": "resolved", "handle_description": description}


def handle_and_prove(
    client: FlaskClient, auth: Auth, who: str, case_key: str, description: str = "已清理"
) -> None:
    """``who`` completes handling as resolved (``description``) and the photo proof with one after photo:
    the case goes on to review."""
    complete(client, auth, who, case_key, "handle", resolved(description))
    photo = upload_photo(client, auth, who, case_key)
    complete(client, auth, who, case_key, "photo_proof", {"after_photos": [photo["id"]]})


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


def count(model: Any, *where: Any) -> int:
    """Rows of ``model`` matching ``where``, read afresh."""
    db.session.expire_all()
    return int(db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one())
