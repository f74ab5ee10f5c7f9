"""Dispatch by location: the grid from the report's point, the proposed handler (grid workers or the
responsible unit, least loaded), the dispatcher's override, re-dispatches counted, unlocated reports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.extensions import db
from app.workflow import scheduler
from app.workflow.models import HumanTask, TaskStatus
from tests.cases.territory import (
    COMMUNITY,
    DISTRICT,
    EAST_COMPOUND,
    EAST_GRID,
    EAST_OPEN_POINT,
    OUTSIDE_POINT,
    WEST_GRID,
    add_unit,
    assign,
    build_territory,
)
from tests.conftest import START
from tests.factories import app_on_both_backends, create_case
from tests.helpers import case, complete, ensure_catalogue, fingerprint, open_task, report

app = app_on_both_backends


@pytest.fixture
def territory(app: Flask, users: dict[str, Any], auth: Any, deployed: None) -> None:
    build_territory()
    ensure_catalogue()
    assign("dispatcher", DISTRICT)  # the command centre sees the whole district
    assign("supervisor", DISTRICT)
    for username in users:
        auth(username)  # signed in now, so signing in later does not change the fingerprint


pytestmark = pytest.mark.usefixtures("territory")


def _proposal(client: Any, auth: Any, key: str) -> dict[str, Any]:
    task = open_task(key, "dispatch")
    response = client.get(f"/api/v1/tasks/{task.id}", headers=auth("dispatcher"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]  # type: ignore[no-any-return]


def _accept(client: Any, auth: Any, key: str, **data: Any) -> dict[str, Any]:
    complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "accept", **data})
    return _proposal(client, auth, key)


def _events(key: str, action: str) -> list[AuditEvent]:
    db.session.expire_all()
    case_id = db.session.execute(select(Case.id).where(Case.key == key)).scalar_one()
    return list(
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.case_id == case_id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        ).scalars()
    )


def _at(point: tuple[float, float]) -> dict[str, float]:
    return {"lat": point[0], "lon": point[1]}


# -- where -------------------------------------------------------------------------------------------


def test_the_report_gets_the_deepest_grid_of_its_location(app, client, auth):
    created = report(client, auth)  # the default point is inside the east grid's compound
    assert created["grid_code"] == EAST_COMPOUND
    assert report(client, auth, **_at(EAST_OPEN_POINT))["grid_code"] == EAST_GRID
    assert _events(created["key"], "case.unlocated") == []


def test_no_location_goes_to_the_dispatcher_with_the_reason(app, client, auth, create_user):
    create_user("grid_worker", "anyworker")
    assign("anyworker", DISTRICT)  # a worker everywhere: still no proposal without a location
    created = report(client, auth, lat=None, lon=None)
    assert created["grid_code"] is None
    unlocated = _events(created["key"], "case.unlocated")
    assert len(unlocated) == 1
    assert unlocated[0].data["reason"].startswith("上报未提供位置")
    assert "no location" in unlocated[0].data["reason"]
    data = _accept(client, auth, created["key"])
    assert data["proposal"]["handler_user"] is None and data["proposal"]["handler_unit"] is None
    assert "no location" in data["proposal"]["reason"]
    assert data["proposal"]["unlocated"] == unlocated[0].data["reason"]
    assert data["unlocated"] == unlocated[0].data["reason"]  # a process variable the dispatch task shows
    # the dispatcher picks someone by hand; with nothing proposed, that is no override
    complete(client, auth, "dispatcher", created["key"], "dispatch", {"handler_user": "worker"})
    assert case(client, auth, created["key"])["handler_user"] == "worker"
    assert _events(created["key"], "case.dispatch_overridden") == []


def test_outside_every_grid_goes_to_the_dispatcher_with_the_reason(app, client, auth):
    created = report(client, auth, **_at(OUTSIDE_POINT))
    assert created["grid_code"] is None
    unlocated = _events(created["key"], "case.unlocated")
    assert len(unlocated) == 1
    assert "outside every grid" in unlocated[0].data["reason"]
    assert "不在任何网格内" in unlocated[0].data["reason"]
    assert unlocated[0].data["lat"] == OUTSIDE_POINT[0]
    proposal = _accept(client, auth, created["key"])["proposal"]
    assert proposal["handler_user"] is None
    assert "outside every grid" in proposal["reason"]


# -- who: grid workers -------------------------------------------------------------------------------


def test_grid_category_proposes_the_least_loaded_worker_of_the_grid(app, client, auth, create_user):
    assign("worker", EAST_GRID)
    assign("worker2", EAST_GRID)
    create_user("grid_worker", "westworker")
    assign("westworker", WEST_GRID)  # idle, but another grid's
    create_case(client, auth, "handle", handler="worker")  # worker holds an open handle task
    key = report(client, auth)["key"]
    proposal = _accept(client, auth, key)["proposal"]
    assert proposal["handler_user"] == "worker2"
    assert proposal["handler_unit"] is None
    assert proposal["responsible_level"] == "grid"
    assert proposal["grid_code"] == EAST_COMPOUND
    assert [(c["name"], c["open_tasks"]) for c in proposal["candidates"]] == [("worker2", 0), ("worker", 1)]
    assert "least loaded grid worker" in proposal["reason"]
    assert "worker2 with 0 open tasks" in proposal["reason"]
    assert "待办最少" in proposal["reason"]


def test_ties_go_by_name(app, client, auth):
    assign("worker2", EAST_GRID)
    assign("worker", EAST_GRID)
    key = report(client, auth)["key"]
    proposal = _accept(client, auth, key)["proposal"]
    assert proposal["handler_user"] == "worker"
    assert [c["open_tasks"] for c in proposal["candidates"]] == [0, 0]


def test_the_nearest_level_of_the_path_wins(app, client, auth, create_user):
    create_user("grid_worker", "communityworker")
    assign("communityworker", COMMUNITY)  # idle, but assigned to the whole community
    assign("worker", EAST_GRID)
    create_case(client, auth, "handle", handler="worker")
    proposal = _accept(client, auth, report(client, auth)["key"])["proposal"]
    assert proposal["handler_user"] == "worker"
    assert [c["name"] for c in proposal["candidates"]] == ["worker"]


def test_workers_below_the_grid_count_when_nobody_is_on_its_path(app, client, auth):
    assign("worker2", EAST_COMPOUND)
    key = report(client, auth, **_at(EAST_OPEN_POINT))["key"]  # located on the grid, outside the compound
    proposal = _accept(client, auth, key)["proposal"]
    assert proposal["handler_user"] == "worker2"
    assert proposal["candidates"][0]["grid_code"] == EAST_COMPOUND


def test_inactive_workers_and_other_roles_are_not_proposed(app, client, auth):
    from app.auth.models import User

    assign("worker", EAST_GRID)
    assign("supervisor", EAST_GRID)
    user = db.session.execute(select(User).where(User.username == "worker")).scalar_one()
    user.active = False
    db.session.commit()
    proposal = _accept(client, auth, report(client, auth)["key"])["proposal"]
    assert proposal["handler_user"] is None
    assert "no active grid worker" in proposal["reason"]


# -- who: units --------------------------------------------------------------------------------------


def test_unit_category_proposes_the_responsible_unit_serving_the_grid(app, client, auth):
    add_unit("gas", "gas", DISTRICT, name="燃气公司")
    add_unit("water_city", "water", DISTRICT, name="市自来水公司")
    add_unit("water", "water", EAST_GRID, name="东区供水站")
    add_unit("water_west", "water", WEST_GRID, name="西区供水站")
    created = report(client, auth, category_code="P0101", severity=None)  # 上水井盖: a water unit's
    assert created["severity"] == "orange"  # the category's default severity
    proposal = _accept(client, auth, created["key"])["proposal"]
    assert proposal["responsible_level"] == "unit"
    assert proposal["responsible_unit_kind"] == "water"
    assert proposal["handler_unit"] == "water"  # nearest level serving the grid; not the west grid's
    assert proposal["handler_user"] is None
    assert [c["name"] for c in proposal["candidates"]] == ["water"]
    assert "water unit serving grid" in proposal["reason"]

    # accepting the proposal: the handle task goes to the unit's members; no override recorded
    complete(client, auth, "dispatcher", created["key"], "dispatch", {"handler_unit": "water"})
    handle = open_task(created["key"], "handle")
    assert handle.candidate_group == "water"
    assert case(client, auth, created["key"])["handler_unit"] == "water"
    assert _events(created["key"], "case.dispatch_overridden") == []
    complete(
        client,
        auth,
        "handler",
        created["key"],
        "handle",
        {"handle_result": "resolved", "handle_description": "井盖已更换"},
    )


def test_least_loaded_unit_then_name(app, client, auth):
    add_unit("water_b", "water", EAST_GRID, name="乙供水站")
    add_unit("water_a", "water", EAST_GRID, name="甲供水站")
    first = report(client, auth, category_code="P0101")["key"]
    proposal = _accept(client, auth, first)["proposal"]
    # tie at 0 open tasks: by name (乙 sorts before 甲 by code point)
    assert [c["name"] for c in proposal["candidates"]] == sorted(
        ["water_a", "water_b"], key=lambda code: {"water_a": "甲供水站", "water_b": "乙供水站"}[code]
    )
    chosen = proposal["handler_unit"]
    complete(client, auth, "dispatcher", first, "dispatch", {"handler_unit": chosen})
    second = report(client, auth, category_code="P0101")["key"]
    proposal = _accept(client, auth, second)["proposal"]
    other = {"water_a", "water_b"} - {chosen}
    assert proposal["handler_unit"] == other.pop()
    assert {c["name"]: c["open_tasks"] for c in proposal["candidates"]}[chosen] == 1


def test_no_unit_serving_the_grid(app, client, auth):
    add_unit("water_west", "water", WEST_GRID)
    add_unit("inactive_water", "water", EAST_GRID, active=False)
    proposal = _accept(client, auth, report(client, auth, category_code="P0101")["key"])["proposal"]
    assert proposal["handler_unit"] is None
    assert "no active water unit serves grid" in proposal["reason"]


# -- the dispatcher decides ----------------------------------------------------------------------------


def test_an_override_of_the_proposal_is_recorded(app, client, auth):
    assign("worker", EAST_GRID)
    assign("worker2", EAST_GRID)
    key = report(client, auth)["key"]
    proposal = _accept(client, auth, key)["proposal"]
    assert proposal["handler_user"] == "worker"
    data = {"handler_user": "worker2", "dispatch_note": "熟悉情况"}
    complete(client, auth, "dispatcher", key, "dispatch", data)
    overridden = _events(key, "case.dispatch_overridden")
    assert len(overridden) == 1
    assert overridden[0].actor_label == "dispatcher"
    assert overridden[0].before == {"handler_user": "worker", "handler_unit": None}
    assert overridden[0].after == {"handler_user": "worker2", "handler_unit": None}
    assert overridden[0].data["note"] == "熟悉情况"
    assert overridden[0].data["reason"] == proposal["reason"]
    dispatched = case(client, auth, key)
    assert dispatched["handler_user"] == "worker2"
    assert dispatched["redispatch_count"] == 0  # the first dispatch is no re-dispatch


def test_accepting_the_proposal_records_no_override(app, client, auth):
    assign("worker", EAST_GRID)
    key = report(client, auth)["key"]
    _accept(client, auth, key)
    complete(client, auth, "dispatcher", key, "dispatch", {"handler_user": "worker"})
    assert _events(key, "case.dispatch_overridden") == []


REFUSED_HANDLERS = [
    ({"handler_unit": "no_such_unit"}, "handler_unit", "'no_such_unit'"),
    ({"handler_unit": "closed_unit"}, "handler_unit", "'closed_unit'"),
    ({"handler_user": "nobody"}, "handler_user", "nobody"),
]


def test_dispatch_to_an_unknown_or_inactive_handler_is_refused(app, client, auth, subtests):
    """One case at dispatch serves every handler below: each is refused and changes nothing."""
    add_unit("closed_unit", "water", EAST_GRID, active=False)
    key = report(client, auth)["key"]
    _accept(client, auth, key)
    for data, field, message in REFUSED_HANDLERS:
        with subtests.test(data=data):
            before = fingerprint()
            body = complete(client, auth, "dispatcher", key, "dispatch", data, expect=422)
            assert field in body["details"]
            assert message in body["details"][field]
            assert fingerprint() == before
            assert case(client, auth, key)["status"] == "dispatching"


def _to_supervision(client: Any, auth: Any, clock: Any, create_user: Any, key: str) -> None:
    """Overdue, then escalated community → street → district, whose coordinator hands it to supervision."""
    for role, username in [
        ("community_staff", "community"),
        ("street_coordinator", "street"),
        ("district_coordinator", "district"),
    ]:
        create_user(role, username)
        assign(username, DISTRICT)
    clock.set(START + timedelta(days=7))  # well past the 24 working hours walk_to gives
    scheduler.tick()
    scheduler.tick()
    db.session.expire_all()
    complete(client, auth, "community", key, "coordinate_community", {"coordinate_decision": "escalate"})
    complete(client, auth, "street", key, "coordinate_street", {"coordinate_decision": "escalate"})
    complete(client, auth, "district", key, "coordinate_district", {"coordinate_decision": "supervise"})


def test_a_supervisor_reassign_is_a_counted_redispatch(app, client, auth, clock, create_user):
    assign("worker", EAST_GRID)
    key = create_case(client, auth, "handle", handler="worker")
    _to_supervision(client, auth, clock, create_user, key)
    complete(
        client, auth, "supervisor", key, "supervise", {"action": "reassign", "new_handler_user": "worker2"}
    )
    reassigned = case(client, auth, key)
    assert reassigned["handler_user"] == "worker2"
    assert reassigned["redispatch_count"] == 1
    redispatched = _events(key, "case.redispatched")
    assert len(redispatched) == 1
    assert redispatched[0].actor_label == "supervisor"
    assert redispatched[0].before == {"handler_user": "worker", "handler_unit": None}
    assert redispatched[0].after == {"handler_user": "worker2", "handler_unit": None, "redispatch_count": 1}
    assert redispatched[0].data == {"via": "supervision"}


def test_a_task_api_reassign_of_the_handling_is_a_counted_redispatch(app, client, auth):
    key = create_case(client, auth, "handle", handler="worker")
    task_id = open_task(key, "handle").id
    response = client.post(
        f"/api/v1/tasks/{task_id}/reassign", json={"username": "worker2"}, headers=auth("supervisor")
    )
    assert response.status_code == 200, response.get_json()
    reassigned = case(client, auth, key)
    assert reassigned["handler_user"] == "worker2"
    assert reassigned["redispatch_count"] == 1
    redispatched = _events(key, "case.redispatched")
    assert [event.data for event in redispatched] == [{"via": "task reassign"}]
    assert redispatched[0].before == {"handler_user": "worker", "handler_unit": None}


def test_reassigning_to_the_same_handler_is_not_counted(app, client, auth, clock, create_user):
    key = create_case(client, auth, "handle", handler="worker")
    _to_supervision(client, auth, clock, create_user, key)
    complete(
        client, auth, "supervisor", key, "supervise", {"action": "reassign", "new_handler_user": "worker"}
    )
    assert case(client, auth, key)["redispatch_count"] == 0
    assert _events(key, "case.redispatched") == []


# -- category at report and triage --------------------------------------------------------------------


def test_an_unknown_category_is_refused_and_nothing_changes(app, client, auth):
    report(client, auth)
    before = fingerprint()
    for code in ("E9999", "E0199"):
        response = client.post(
            "/api/v1/cases", json={"title": "未知类别", "category_code": code}, headers=auth("resident")
        )
        assert response.status_code == 422, response.get_json()
        assert "category_code" in response.get_json()["details"]
        assert code in response.get_json()["details"]["category_code"]
    response = client.post(
        "/api/v1/cases", json={"title": "旧编码", "category_code": "0102"}, headers=auth("resident")
    )
    assert response.status_code == 422
    assert "E0102" in response.get_json()["details"]["category_code"][0]
    assert fingerprint() == before


def test_a_deactivated_category_is_refused(app, client, auth):
    from app.categories.models import Category

    db.session.get(Category, "E0104").active = False
    db.session.commit()
    response = client.post(
        "/api/v1/cases", json={"title": "道路不洁", "category_code": "E0104"}, headers=auth("resident")
    )
    assert response.status_code == 422
    assert "category_code" in response.get_json()["details"]


def test_a_report_without_category_gets_one_at_triage(app, client, auth):
    assign("worker", EAST_GRID)
    created = report(client, auth, category_code=None, severity=None)
    assert created["category_code"] is None
    assert created["severity"] == "blue"
    assert created["filed_at"] is None
    before = fingerprint()
    body = complete(
        client,
        auth,
        "dispatcher",
        created["key"],
        "triage",
        {"triage_decision": "accept", "category_code": "E9901"},
        expect=422,
    )
    assert "E9901" in body["details"]["category_code"]
    assert fingerprint() == before
    proposal = _accept(client, auth, created["key"], category_code="E0102", severity="orange")["proposal"]
    filed = case(client, auth, created["key"])
    assert filed["category_code"] == "E0102"
    assert filed["severity"] == "orange"
    assert filed["filed_at"] is not None
    assert proposal["category_code"] == "E0102"
    assert proposal["handler_user"] == "worker"
    reclassified = _events(created["key"], "case.reclassified")
    assert len(reclassified) == 1
    assert reclassified[0].before == {"category_code": None, "severity": "blue"}
    assert reclassified[0].after == {"category_code": "E0102", "severity": "orange"}


# -- severity orders the lists -----------------------------------------------------------------------


def test_case_list_and_inbox_put_the_most_urgent_first(app, client, auth, clock):
    keys = {}
    for severity in ("blue", "red", "yellow", "orange"):
        keys[severity] = report(client, auth, severity=severity, title=f"{severity} 案件")["key"]
        clock.advance(minutes=1)
    response = client.get("/api/v1/cases?page_size=10", headers=auth("dispatcher"))
    assert [c["severity"] for c in response.get_json()["items"]] == ["red", "orange", "yellow", "blue"]
    inbox = client.get("/api/v1/tasks?scope=claimable&page_size=10", headers=auth("dispatcher")).get_json()
    assert [t["case_key"] for t in inbox["items"]] == [keys[s] for s in ("red", "orange", "yellow", "blue")]
    # within a severity, newest case first
    newer = report(client, auth, severity="red", title="red 2")["key"]
    response = client.get("/api/v1/cases?severity=red", headers=auth("dispatcher"))
    assert [c["key"] for c in response.get_json()["items"]] == [newer, keys["red"]]
    db.session.expire_all()
    assert db.session.execute(select(HumanTask).where(HumanTask.status == TaskStatus.READY)).first()
