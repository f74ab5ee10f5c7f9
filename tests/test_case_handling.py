"""Every path of bpmn/case_handling.bpmn, through the HTTP API, on SQLite and on PostgreSQL.

Time only moves when a test says so (the injected FrozenClock); due timers fire through
``scheduler.tick()`` as the embedded runner would. An overdue case escalates to the community coordinator
(issue #3: 三级联动, every step of it in tests/test_escalation.py); supervision (超期督办) is reached here
the short way: community and street escalate without a summons, the district refers it to the supervisor.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.cases.models import Case
from app.clock import as_utc
from app.extensions import db
from app.workflow import scheduler
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus
from tests.conftest import START
from tests.factories import app_on_both_backends, create_case
from tests.helpers import (
    after_working_hours,
    case,
    complete,
    fingerprint,
    handle_and_prove,
    open_task,
    report,
    timeline_actions,
    upload_photo,
    walk_to,
)

app = app_on_both_backends


@pytest.fixture
def signed_in(users: dict[str, Any], auth: Any) -> None:
    """Every user holds a token already, so signing in during a test does not change the fingerprint."""
    for username in users:
        auth(username)


@pytest.fixture
def coordinators(users: dict[str, Any], create_user: Any, auth: Any) -> None:
    """A coordinator at each level, signed in; they and the command centre are assigned to the district grid
    (the cases lie in it), so they see the cases."""
    from app.grids.services import import_geojson
    from tests.cases.territory import DISTRICT, assign
    from tests.grids.shapes import collection, district

    import_geojson(collection(district()))
    db.session.commit()
    for role, username in [
        ("community_staff", "community"),
        ("street_coordinator", "street"),
        ("district_coordinator", "district"),
    ]:
        create_user(role, username)
        auth(username)
    for username in ("community", "street", "district", "dispatcher", "supervisor"):
        assign(username, DISTRICT)


pytestmark = pytest.mark.usefixtures("users", "deployed", "signed_in")


# -- helpers ---------------------------------------------------------------------------------------


def _dt(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return as_utc(parsed)


def _timeline(client: Any, auth: Any, key: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/cases/{key}/timeline?page_size=100", headers=auth("supervisor"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] <= 100, "timeline longer than one page"
    return body["items"]  # type: ignore[no-any-return]


def _events(client: Any, auth: Any, key: str, action: str) -> list[dict[str, Any]]:
    return [e for e in _timeline(client, auth, key) if e["action"] == action]


def _is_subsequence(wanted: list[str], actual: list[str]) -> bool:
    remaining = iter(actual)
    return all(item in remaining for item in wanted)


def _instance(key: str) -> ProcessInstance:
    db.session.expire_all()
    return db.session.execute(
        select(ProcessInstance).join(Case, Case.id == ProcessInstance.case_id).where(Case.key == key)
    ).scalar_one()


def _tasks(key: str, element_id: str | None = None) -> list[HumanTask]:
    db.session.expire_all()
    query = select(HumanTask).join(Case, Case.id == HumanTask.case_id).where(Case.key == key)
    if element_id is not None:
        query = query.where(HumanTask.element_id == element_id)
    return list(db.session.execute(query.order_by(HumanTask.id)).scalars())


def _open_tasks(key: str) -> list[HumanTask]:
    return [t for t in _tasks(key) if t.status in TaskStatus.OPEN]


def _user_id(username: str) -> int:
    from app.auth.models import User

    return db.session.execute(select(User.id).where(User.username == username)).scalar_one()


def _post_complete(client: Any, auth: Any, who: str, task_id: int, data: Any) -> Any:
    response = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=auth(who))
    db.session.expire_all()
    return response


def _tick(app: Flask) -> int:
    fired = scheduler.tick()
    db.session.expire_all()
    return fired


# -- happy path ------------------------------------------------------------------------------------


def test_happy_path_to_closed(app, client, auth):
    created = report(client, auth)
    key = created["key"]
    assert created["status"] == "triage"
    assert created["reporter"] == "resident"
    assert [t.element_id for t in _open_tasks(key)] == ["triage"]
    triage = open_task(key, "triage")
    assert triage.status == TaskStatus.READY and triage.roles == ["dispatcher"]

    step = complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "accept"})
    assert step["case_status"] == "dispatching"
    assert step["instance_status"] == "running"
    assert [t["element_id"] for t in step["next_tasks"]] == ["dispatch"]
    assert case(client, auth, key)["status"] == "dispatching"

    # propose_handler ran: the dispatch form sees the proposal. No grid is loaded here, so the case is
    # unlocated and nobody is proposed: the reason says so (tests/cases/test_dispatch.py: by location).
    dispatch = open_task(key, "dispatch")
    response = client.get(f"/api/v1/tasks/{dispatch.id}", headers=auth("dispatcher"))
    assert response.status_code == 200, response.get_json()
    detail = response.get_json()
    assert detail["element_id"] == "dispatch"
    assert detail["form_schema"]["$id"] == "dispatch.schema.json"
    assert detail["data"]["proposal"]["handler_user"] is None
    assert "outside every grid" in detail["data"]["proposal"]["reason"]
    assert detail["data"]["triage_decision"] == "accept"

    step = complete(
        client, auth, "dispatcher", key, "dispatch", {"handler_user": "worker", "time_limit_hours": 24}
    )
    assert step["case_status"] == "handling"
    handle = open_task(key, "handle")
    assert handle.status == TaskStatus.CLAIMED
    assert handle.assignee_id == _user_id("worker")
    assert handle.candidate_user == "worker"
    assert _dt(handle.due_at) == after_working_hours(START, 24)
    after_dispatch = case(client, auth, key)
    assert after_dispatch["status"] == "handling"
    assert after_dispatch["handler_user"] == "worker"
    assert _dt(after_dispatch["due_at"]) == after_working_hours(START, 24)
    assert _dt(after_dispatch["dispatched_at"]) == START

    step = complete(
        client, auth, "worker", key, "handle", {"handle_result": "resolved", "handle_description": "已清理"}
    )
    assert step["case_status"] == "feedback"
    proof = open_task(key, "photo_proof")
    assert proof.assignee_id == _user_id("worker")  # assigneeFrom: handle
    assert case(client, auth, key)["status"] == "feedback"

    photo = upload_photo(client, auth, "worker", key)
    assert photo["kind"] == "after"
    step = complete(client, auth, "worker", key, "photo_proof", {"after_photos": [photo["id"]]})
    assert step["case_status"] == "review"
    in_review = case(client, auth, key)
    assert in_review["status"] == "review"
    assert _dt(in_review["handled_at"]) == START
    assert open_task(key, "review").roles == ["supervisor"]

    step = complete(client, auth, "supervisor", key, "review", {"review_decision": "approve"})
    assert step["case_status"] == "closed"
    assert step["instance_status"] == "completed"
    assert step["next_tasks"] == []

    closed = case(client, auth, key)
    assert closed["status"] == "closed"
    assert _dt(closed["closed_at"]) == START
    assert closed["rework_count"] == 0
    instance = _instance(key)
    assert instance.status == "completed"
    assert instance.completed_at is not None
    assert instance.next_timer_at is None
    assert _open_tasks(key) == []
    assert [t.status for t in _tasks(key)] == [TaskStatus.COMPLETED] * 5

    events = _timeline(client, auth, key)
    actions = [e["action"] for e in events]
    # who did what, in the order it happened: a person acts, then the process reacts
    assert [(e["action"], e["actor"]) for e in events] == [
        ("case.reported", "resident"),
        ("case.unlocated", "resident"),
        ("instance.started", "resident"),
        ("task.created", "system"),
        ("case.status_changed", "resident"),
        ("task.completed", "dispatcher"),
        ("task.created", "system"),
        ("case.status_changed", "dispatcher"),
        ("task.completed", "dispatcher"),
        ("case.time_limit_set", "dispatcher"),
        ("task.created", "system"),
        ("case.status_changed", "dispatcher"),
        ("task.completed", "worker"),
        ("task.created", "system"),
        ("case.status_changed", "worker"),
        ("attachment.added", "worker"),
        ("task.completed", "worker"),
        ("task.created", "system"),
        ("case.status_changed", "worker"),
        ("task.completed", "supervisor"),
        ("case.status_changed", "supervisor"),
        ("instance.completed", "supervisor"),
    ]
    assert [e["data"]["element_id"] for e in events if e["action"] == "task.created"] == [
        "triage",
        "dispatch",
        "handle",
        "photo_proof",
        "review",
    ]
    assert [e["data"]["element_id"] for e in events if e["action"] == "task.completed"] == [
        "triage",
        "dispatch",
        "handle",
        "photo_proof",
        "review",
    ]
    completed_review = [e for e in events if e["action"] == "task.completed"][-1]
    assert completed_review["data"]["form_data"]["review_decision"] == "approve"
    statuses = [
        (e["before"]["status"], e["after"]["status"]) for e in events if e["action"] == "case.status_changed"
    ]
    assert statuses == [
        ("reported", "triage"),
        ("triage", "dispatching"),
        ("dispatching", "handling"),
        ("handling", "feedback"),
        ("feedback", "review"),
        ("review", "closed"),
    ]
    assert len({e["id"] for e in events}) == len(events)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    # timers were armed while handling, and disarmed by closing: nothing fired
    assert "timer.fired" not in actions


def test_proposal_is_the_least_loaded_grid_worker(app, client, auth):
    # the grid workers of the case's grid (more dispatch choices in tests/cases/test_dispatch.py)
    from tests.cases.territory import DISTRICT, EAST_GRID, assign, build_territory

    build_territory()
    assign("worker", EAST_GRID)
    assign("worker2", EAST_GRID)
    assign("dispatcher", DISTRICT)
    create_case(client, auth, "handle", handler="worker")  # worker now holds an open task
    key = report(client, auth)["key"]
    complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "accept"})
    dispatch = open_task(key, "dispatch")
    detail = client.get(f"/api/v1/tasks/{dispatch.id}", headers=auth("dispatcher")).get_json()
    assert detail["data"]["proposal"]["handler_user"] == "worker2"
    assert "0 open tasks" in detail["data"]["proposal"]["reason"]


# -- triage: reject, duplicate ----------------------------------------------------------------------


def test_reject_with_reason(app, client, auth):
    key = report(client, auth)["key"]
    step = complete(
        client,
        auth,
        "dispatcher",
        key,
        "triage",
        {"triage_decision": "reject", "reject_reason": "不属于网格管理范围"},
    )
    assert step["case_status"] == "rejected"
    assert step["instance_status"] == "completed"
    rejected = case(client, auth, key)
    assert rejected["status"] == "rejected"
    assert rejected["reject_reason"] == "不属于网格管理范围"
    assert _dt(rejected["closed_at"]) == START
    assert _instance(key).status == "completed"
    assert _open_tasks(key) == []
    changed = _events(client, auth, key, "case.status_changed")[-1]
    assert changed["after"] == {"status": "rejected"}
    assert changed["data"] == {"reason": "不属于网格管理范围"}
    assert timeline_actions(client, auth, key)[-1] == "instance.completed"


def test_reject_without_reason_is_refused(app, client, auth):
    key = report(client, auth)["key"]
    before = fingerprint()
    body = complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "reject"}, expect=422)
    assert body["error"] == "invalid_input"
    assert "reject_reason" in body["details"]
    assert body["details"]["reject_reason"] == "this field is required"
    assert "reject_reason" in body["message"]
    assert fingerprint() == before
    assert case(client, auth, key)["status"] == "triage"
    # the task is still there to be done properly
    step = complete(
        client, auth, "dispatcher", key, "triage", {"triage_decision": "reject", "reject_reason": "重复投诉"}
    )
    assert step["case_status"] == "rejected"


def test_duplicate_links_to_the_original(app, client, auth):
    original = report(client, auth)["key"]
    key = report(client, auth, title="垃圾桶又满了")["key"]
    step = complete(
        client, auth, "dispatcher", key, "triage", {"triage_decision": "duplicate", "duplicate_of": original}
    )
    assert step["case_status"] == "duplicate"
    assert step["instance_status"] == "completed"
    duplicate = case(client, auth, key)
    assert duplicate["status"] == "duplicate"
    assert duplicate["duplicate_of"] == original
    assert duplicate["closed_at"] is not None
    assert _instance(key).status == "completed"
    assert _open_tasks(key) == []
    linked = _events(client, auth, original, "case.linked")
    assert len(linked) == 1
    assert linked[0]["data"] == {"duplicate": key}
    assert linked[0]["entity_id"] == original
    # the original is untouched otherwise
    assert case(client, auth, original)["status"] == "triage"
    assert case(client, auth, original)["duplicate_of"] is None


def test_duplicate_of_an_unknown_case_is_refused(app, client, auth):
    key = report(client, auth)["key"]
    before = fingerprint()
    body = complete(
        client,
        auth,
        "dispatcher",
        key,
        "triage",
        {"triage_decision": "duplicate", "duplicate_of": "GC-2026-999999"},
        expect=422,
    )
    assert body["error"] == "invalid_input"
    assert "duplicate_of" in body["message"]
    assert "GC-2026-999999" in body["message"]
    assert body["details"]["element_id"] == "mark_duplicate"
    assert fingerprint() == before
    assert case(client, auth, key)["status"] == "triage"
    assert open_task(key, "triage").status == TaskStatus.READY


def test_duplicate_of_itself_is_refused(app, client, auth):
    key = report(client, auth)["key"]
    before = fingerprint()
    body = complete(
        client,
        auth,
        "dispatcher",
        key,
        "triage",
        {"triage_decision": "duplicate", "duplicate_of": key},
        expect=422,
    )
    assert "duplicate_of" in body["message"]
    assert fingerprint() == before


def test_duplicate_without_duplicate_of_is_refused(app, client, auth):
    key = report(client, auth)["key"]
    before = fingerprint()
    body = complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "duplicate"}, expect=422)
    assert body["details"] == {"duplicate_of": "this field is required"}
    assert fingerprint() == before


# -- rework ----------------------------------------------------------------------------------------


def test_rework_loop_then_closed(app, client, auth):
    key = create_case(client, auth, "review")
    first_handle = _tasks(key, "handle")[0]
    step = complete(
        client,
        auth,
        "supervisor",
        key,
        "review",
        {"review_decision": "reject", "review_comment": "照片看不清,请重新处置"},
    )
    assert step["case_status"] == "handling"
    assert step["instance_status"] == "running"
    assert [t["element_id"] for t in step["next_tasks"]] == ["handle"]
    reworked = case(client, auth, key)
    assert reworked["status"] == "handling"
    assert reworked["rework_count"] == 1
    handles = _tasks(key, "handle")
    assert len(handles) == 2
    assert handles[0].id == first_handle.id and handles[0].status == TaskStatus.COMPLETED
    assert handles[1].status == TaskStatus.CLAIMED
    assert handles[1].assignee_id == _user_id("worker")
    rework = _events(client, auth, key, "case.rework")
    assert len(rework) == 1
    assert rework[0]["after"] == {"rework_count": 1}
    assert rework[0]["data"] == {"comment": "照片看不清,请重新处置"}
    actions = timeline_actions(client, auth, key)
    assert _is_subsequence(
        ["case.rework", "case.time_limit_set", "task.created", "case.status_changed"],
        actions[actions.index("case.rework") :],
    )

    handle_and_prove(client, auth, "worker", key, "重新清理")
    assert case(client, auth, key)["status"] == "review"
    step = complete(client, auth, "supervisor", key, "review", {"review_decision": "approve"})
    assert step["case_status"] == "closed"
    closed = case(client, auth, key)
    assert closed["status"] == "closed"
    assert closed["rework_count"] == 1
    assert _instance(key).status == "completed"
    assert _open_tasks(key) == []
    assert len(_tasks(key, "review")) == 2


def test_review_reject_without_comment_is_refused(app, client, auth):
    key = create_case(client, auth, "review")
    before = fingerprint()
    body = complete(client, auth, "supervisor", key, "review", {"review_decision": "reject"}, expect=422)
    assert body["details"] == {"review_comment": "this field is required"}
    assert fingerprint() == before
    assert case(client, auth, key)["rework_count"] == 0


@pytest.mark.usefixtures("coordinators")
def test_rework_rearms_the_time_limit(app, client, auth, clock):
    key = create_case(client, auth, "review", hours=10)
    first_due = _dt(case(client, auth, key)["due_at"])
    assert first_due == after_working_hours(START, 10)  # time_limit_hours are working hours
    assert _dt(_instance(key).next_timer_at) is None  # handling is done: its timers are gone

    clock.advance(hours=6)
    complete(
        client,
        auth,
        "supervisor",
        key,
        "review",
        {"review_decision": "reject", "review_comment": "还有垃圾残留"},
    )
    reworked = case(client, auth, key)
    # set_time_limit ran again from "now", with the dispatcher's limit (10 working hours)
    rework_start = START + timedelta(hours=6)
    new_due, new_warn = after_working_hours(rework_start, 10), after_working_hours(rework_start, 8)
    assert _dt(reworked["due_at"]) == new_due
    assert reworked["warned_at"] is None and reworked["overdue_at"] is None
    assert _dt(_instance(key).next_timer_at) == new_warn
    new_handle = _tasks(key, "handle")[-1]
    assert _dt(new_handle.due_at) == new_due
    limits = _events(client, auth, key, "case.time_limit_set")
    assert len(limits) == 2
    assert _dt(limits[1]["before"]["due_at"]) == first_due
    assert _dt(limits[1]["after"]["due_at"]) == new_due

    # the first limit's warning time passes without effect; the new limit warns and then goes overdue
    clock.set(after_working_hours(START, 8))
    assert _tick(app) == 0
    assert case(client, auth, key)["warned_at"] is None
    clock.set(new_warn)  # 80% of the new limit
    assert _tick(app) == 1
    warned = case(client, auth, key)
    assert _dt(warned["warned_at"]) == new_warn
    assert warned["overdue_at"] is None
    clock.set(new_due)
    assert _tick(app) == 1
    assert _dt(case(client, auth, key)["overdue_at"]) == new_due
    assert open_task(key, "coordinate_community").roles == ["community_staff"]  # was: supervise


# -- time limit: warning, overdue, supervision -------------------------------------------------------


def _dispatched_for_10_hours(client: Any, auth: Any) -> str:
    key = create_case(client, auth, "handle", hours=10)
    return key


def _overdue(app: Flask, client: Any, auth: Any, clock: Any) -> str:
    """A case whose limit passed, with the supervisor's 超期督办 task open (needs ``coordinators``)."""
    key = _dispatched_for_10_hours(client, auth)
    while not any(t.element_id == "coordinate_community" for t in _open_tasks(key)):
        due = _instance(key).next_timer_at
        assert due is not None, "no timer armed before the case went overdue"
        clock.set(as_utc(due))
        assert _tick(app) == 1
    complete(client, auth, "community", key, "coordinate_community", {"coordinate_decision": "escalate"})
    complete(client, auth, "street", key, "coordinate_street", {"coordinate_decision": "escalate"})
    complete(client, auth, "district", key, "coordinate_district", {"coordinate_decision": "supervise"})
    assert {t.element_id for t in _open_tasks(key)} == {"handle", "supervise"}
    return key


@pytest.mark.usefixtures("coordinators")
def test_time_limit_warns_then_goes_overdue(app, client, auth, clock):
    key = _dispatched_for_10_hours(client, auth)
    dispatched = case(client, auth, key)
    due, warn = after_working_hours(START, 10), after_working_hours(START, 8)  # working hours
    assert _dt(dispatched["due_at"]) == due
    assert _dt(_instance(key).next_timer_at) == warn

    clock.set(warn - timedelta(minutes=1))
    assert _tick(app) == 0
    quiet = case(client, auth, key)
    assert quiet["warned_at"] is None and quiet["overdue_at"] is None
    assert "case.due_warning" not in timeline_actions(client, auth, key)

    clock.set(warn)  # 8 of 10 working hours
    assert _tick(app) == 1
    warned = case(client, auth, key)
    assert _dt(warned["warned_at"]) == warn
    assert warned["overdue_at"] is None
    assert warned["status"] == "handling"
    actions = timeline_actions(client, auth, key)
    assert "case.due_warning" in actions
    fired = _events(client, auth, key, "timer.fired")
    assert len(fired) == 1
    assert _dt(fired[0]["data"]["due_at"]) == warn
    assert fired[0]["actor"] == "system"
    warning = _events(client, auth, key, "case.due_warning")[0]
    assert _dt(warning["data"]["due_at"]) == due
    assert open_task(key, "handle").status == TaskStatus.CLAIMED
    assert _dt(_instance(key).next_timer_at) == due
    assert _tick(app) == 0  # nothing more is due yet

    clock.set(due + timedelta(minutes=1))
    assert _tick(app) == 1
    overdue = case(client, auth, key)
    assert _dt(overdue["overdue_at"]) == due + timedelta(minutes=1)
    assert _dt(overdue["warned_at"]) == warn
    assert overdue["status"] == "handling"  # the escalation runs beside the main path
    assert overdue["escalation_level"] == "community"
    assert "case.overdue" in timeline_actions(client, auth, key)
    assert len(_events(client, auth, key, "timer.fired")) == 2
    # was: a supervise task; now the community coordinator's (the supervisor comes after the district)
    coordinate = open_task(key, "coordinate_community")
    assert coordinate.roles == ["community_staff"]
    assert coordinate.status == TaskStatus.READY
    assert coordinate.case_status is None
    handle = open_task(key, "handle")  # non-interrupting: the handler keeps the task
    assert handle.assignee_id == _user_id("worker")
    assert _instance(key).status == "running"
    assert _instance(key).next_timer_at is None
    # the community coordinator finds it in the inbox
    inbox = client.get("/api/v1/tasks?scope=claimable", headers=auth("community")).get_json()
    assert [(t["element_id"], t["case_key"]) for t in inbox["items"]] == [("coordinate_community", key)]


@pytest.mark.usefixtures("coordinators")
def test_supervise_reassign(app, client, auth, clock):
    key = _overdue(app, client, auth, clock)
    handle_id = open_task(key, "handle").id
    step = complete(
        client,
        auth,
        "supervisor",
        key,
        "supervise",
        {"action": "reassign", "new_handler_user": "worker2", "supervise_note": "原处置人休假"},
    )
    assert step["case_status"] == "handling"
    handle = open_task(key, "handle")
    assert handle.id == handle_id  # the same task, handed over
    assert handle.assignee_id == _user_id("worker2")
    assert handle.candidate_user == "worker2"
    assert handle.status == TaskStatus.CLAIMED
    assert case(client, auth, key)["handler_user"] == "worker2"
    reassigned = _events(client, auth, key, "task.reassigned")
    assert len(reassigned) == 1
    assert reassigned[0]["entity_id"] == str(handle_id)
    assert reassigned[0]["before"]["assignee_id"] == _user_id("worker")
    assert reassigned[0]["after"]["candidate_user"] == "worker2"
    supervised = _events(client, auth, key, "case.supervised")[0]
    assert supervised["data"] == {"action": "reassign", "handler_user": "worker2", "note": "原处置人休假"}
    assert [t.element_id for t in _open_tasks(key)] == ["handle"]

    # the old handler can no longer complete it; the new one can, and feedback follows them
    task_id = handle.id
    refused = _post_complete(
        client, auth, "worker", task_id, {"handle_result": "resolved", "handle_description": "已清理"}
    )
    assert refused.status_code in (404, 409), refused.get_json()
    complete(
        client, auth, "worker2", key, "handle", {"handle_result": "resolved", "handle_description": "已清理"}
    )
    assert open_task(key, "photo_proof").assignee_id == _user_id("worker2")
    photo = upload_photo(client, auth, "worker2", key)
    complete(client, auth, "worker2", key, "photo_proof", {"after_photos": [photo["id"]]})
    complete(client, auth, "supervisor", key, "review", {"review_decision": "approve"})
    assert case(client, auth, key)["status"] == "closed"


@pytest.mark.usefixtures("coordinators")
def test_rework_after_reassign_goes_to_the_new_handler(app, client, auth, clock):
    key = _overdue(app, client, auth, clock)
    complete(
        client, auth, "supervisor", key, "supervise", {"action": "reassign", "new_handler_user": "worker2"}
    )
    handle_and_prove(client, auth, "worker2", key)
    complete(
        client, auth, "supervisor", key, "review", {"review_decision": "reject", "review_comment": "未清干净"}
    )
    again = open_task(key, "handle")
    assert again.assignee_id == _user_id("worker2")  # not the dispatch-time handler "worker"
    assert case(client, auth, key)["handler_user"] == "worker2"
    assert case(client, auth, key)["rework_count"] == 1


@pytest.mark.usefixtures("coordinators")
def test_supervise_extend(app, client, auth, clock):
    key = _overdue(app, client, auth, clock)
    due_before = _dt(case(client, auth, key)["due_at"])
    extended_due = after_working_hours(due_before, 4)  # an extension counts working hours too
    complete(client, auth, "supervisor", key, "supervise", {"action": "extend", "extend_hours": 4})
    extended = case(client, auth, key)
    assert _dt(extended["due_at"]) == extended_due
    assert extended["postponed_count"] == 1
    assert extended["handler_user"] == "worker"
    supervised = _events(client, auth, key, "case.supervised")[0]
    assert supervised["data"]["action"] == "extend"
    assert _dt(supervised["data"]["due_at"]) == extended_due
    assert [t.element_id for t in _open_tasks(key)] == ["handle"]
    assert open_task(key, "handle").assignee_id == _user_id("worker")
    assert _dt(open_task(key, "handle").due_at) == extended_due


@pytest.mark.usefixtures("coordinators")
def test_supervise_urge(app, client, auth, clock):
    key = _overdue(app, client, auth, clock)
    before = case(client, auth, key)
    complete(client, auth, "supervisor", key, "supervise", {"action": "urge", "supervise_note": "请尽快处置"})
    after = case(client, auth, key)
    assert after["due_at"] == before["due_at"]
    assert after["postponed_count"] == 0
    assert after["handler_user"] == "worker"
    supervised = _events(client, auth, key, "case.supervised")
    assert len(supervised) == 1
    assert supervised[0]["data"] == {"action": "urge", "note": "请尽快处置"}
    assert supervised[0]["actor"] == "supervisor"
    assert [t.element_id for t in _open_tasks(key)] == ["handle"]
    assert _instance(key).status == "running"


@pytest.mark.usefixtures("coordinators")
def test_supervise_reassign_without_new_handler_is_refused(app, client, auth, clock):
    key = _overdue(app, client, auth, clock)
    before = fingerprint()
    body = complete(client, auth, "supervisor", key, "supervise", {"action": "reassign"}, expect=422)
    assert body["details"] == {"new_handler_user": "this field is required"}
    body = complete(
        client,
        auth,
        "supervisor",
        key,
        "supervise",
        {"action": "reassign", "new_handler_user": "dispatcher"},
        expect=422,
    )
    assert "new_handler_user" in body["details"]
    body = complete(client, auth, "supervisor", key, "supervise", {"action": "extend"}, expect=422)
    assert body["details"] == {"extend_hours": "this field is required"}
    assert fingerprint() == before


@pytest.mark.usefixtures("coordinators")
def test_closing_while_supervision_is_open_cancels_it(app, client, auth, clock):
    key = _overdue(app, client, auth, clock)
    supervise_id = open_task(key, "supervise").id
    handle_and_prove(client, auth, "worker", key)
    assert {t.element_id for t in _open_tasks(key)} == {"review", "supervise"}
    assert case(client, auth, key)["status"] == "review"
    step = complete(client, auth, "supervisor", key, "review", {"review_decision": "approve"})
    assert step["case_status"] == "closed"
    assert step["instance_status"] == "completed"
    assert case(client, auth, key)["status"] == "closed"
    assert _instance(key).status == "completed"
    assert _open_tasks(key) == []
    supervise = db.session.get(HumanTask, supervise_id)
    assert supervise.status == TaskStatus.CANCELLED
    cancelled = _events(client, auth, key, "task.cancelled")
    assert [e["entity_id"] for e in cancelled] == [str(supervise_id)]
    assert cancelled[0]["data"]["element_id"] == "supervise"
    # completing the cancelled task now is a conflict, and changes nothing
    before = fingerprint()
    late = _post_complete(client, auth, "supervisor", supervise_id, {"action": "urge"})
    assert late.status_code == 409, late.get_json()
    assert fingerprint() == before


# -- photo proof rules -------------------------------------------------------------------------------


def test_photo_proof_needs_after_photos_of_this_case(app, client, auth):
    key = report(client, auth)["key"]
    other = report(client, auth, title="路灯不亮")["key"]
    walk_to(client, auth, key, "photo_proof")
    before_photo = upload_photo(client, auth, "worker", key, kind="before")
    foreign = upload_photo(client, auth, "resident", other, kind="after")
    before = fingerprint()

    body = complete(client, auth, "worker", key, "photo_proof", {"after_photos": []}, expect=422)
    assert body["details"] == {"after_photos": "at least one photo taken after handling is required"}
    assert fingerprint() == before

    body = complete(
        client, auth, "worker", key, "photo_proof", {"after_photos": [before_photo["id"]]}, expect=422
    )
    assert list(body["details"]) == ["after_photos.0"]
    assert "'before'" in body["details"]["after_photos.0"]
    assert "after_photos" in body["message"]
    assert fingerprint() == before

    body = complete(client, auth, "worker", key, "photo_proof", {"after_photos": [foreign["id"]]}, expect=422)
    assert body["details"] == {"after_photos.0": f"attachment {foreign['id']} does not belong to this case"}
    assert fingerprint() == before

    body = complete(client, auth, "worker", key, "photo_proof", {}, expect=422)
    assert body["details"] == {"after_photos": "this field is required"}
    assert fingerprint() == before

    assert case(client, auth, key)["status"] == "feedback"
    good = upload_photo(client, auth, "worker", key)
    step = complete(client, auth, "worker", key, "photo_proof", {"after_photos": [good["id"]]})
    assert step["case_status"] == "review"


# -- withdrawal (message boundary event on triage) -------------------------------------------------


def test_reporter_withdraws_during_triage(app, client, auth):
    key = report(client, auth)["key"]
    triage_id = open_task(key, "triage").id
    response = client.post(
        f"/api/v1/cases/{key}/withdraw", json={"reason": "已自行解决"}, headers=auth("resident")
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "withdrawn"
    db.session.expire_all()
    withdrawn = case(client, auth, key)
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["closed_at"] is not None
    assert db.session.get(HumanTask, triage_id).status == TaskStatus.CANCELLED
    assert _open_tasks(key) == []
    assert _instance(key).status == "completed"
    actions = timeline_actions(client, auth, key)
    # the message arrives, the process reacts (the case is withdrawn, triage is cancelled), and ends
    assert actions[actions.index("task.created") :] == [
        "task.created",
        "case.status_changed",
        "case.status_changed",
        "message.correlated",
        "task.cancelled",
        "instance.completed",
    ], actions
    withdrawn_change = _events(client, auth, key, "case.status_changed")[-1]
    assert withdrawn_change["after"] == {"status": "withdrawn"}
    assert withdrawn_change["actor"] == "resident"
    correlated = _events(client, auth, key, "message.correlated")[0]
    assert correlated["actor"] == "resident"
    assert correlated["data"]["message"] == "report_withdrawn"
    assert correlated["data"]["payload"] == {"reason": "已自行解决", "by": "resident"}
    cancelled = _events(client, auth, key, "task.cancelled")[0]
    assert cancelled["entity_id"] == str(triage_id)
    # the dispatcher can no longer triage it
    late = _post_complete(client, auth, "dispatcher", triage_id, {"triage_decision": "accept"})
    assert late.status_code == 409


def test_withdraw_after_accept_is_a_conflict(app, client, auth):
    key = report(client, auth)["key"]
    complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "accept"})
    before = fingerprint()
    response = client.post(
        f"/api/v1/cases/{key}/withdraw", json={"reason": "不需要了"}, headers=auth("resident")
    )
    assert response.status_code == 409, response.get_json()
    body = response.get_json()
    assert body["error"] == "conflict"
    assert body["details"] == {"status": "dispatching"}
    assert fingerprint() == before


def test_another_resident_cannot_withdraw(app, client, auth, create_user):
    key = report(client, auth)["key"]
    create_user("resident", "resident2")
    auth("resident2")
    before = fingerprint()
    response = client.post(
        f"/api/v1/cases/{key}/withdraw", json={"reason": "不需要了"}, headers=auth("resident2")
    )
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["error"] == "not_found"
    assert key in response.get_json()["message"]
    assert client.get(f"/api/v1/cases/{key}", headers=auth("resident2")).status_code == 404
    assert fingerprint() == before
    assert case(client, auth, key)["status"] == "triage"


def test_withdraw_without_reason_is_refused(app, client, auth):
    key = report(client, auth)["key"]
    before = fingerprint()
    response = client.post(f"/api/v1/cases/{key}/withdraw", json={}, headers=auth("resident"))
    assert response.status_code == 422, response.get_json()
    assert "reason" in response.get_json()["details"]
    assert fingerprint() == before
