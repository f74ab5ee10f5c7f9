"""A supervisor's actions on a case (app/cases/supervision.py) through the API: urge, reassign, extend (the
handling limit's timers move with it), comment; refusals name the field and change nothing; other roles
and other grids get 404. With a 超期督办 task open, the action is that task's decision."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.clock import as_utc
from app.extensions import db
from app.workflow import scheduler
from tests.factories import create_case
from tests.helpers import case_events, case_row, complete, fingerprint, instance, open_ids, open_task

pytestmark = pytest.mark.usefixtures("users", "deployed")


@pytest.fixture
def placed(users: dict[str, Any], create_user: Any) -> None:
    """The territory, the supervisor on the district, the workers on the east grid (where cases lie), and a
    second supervisor on the west grid only."""
    from tests.cases.territory import DISTRICT, EAST_GRID, WEST_GRID, assign, build_territory

    build_territory()
    create_user("supervisor", "supervisor_west")
    for username, grid in [
        ("supervisor", DISTRICT),
        ("dispatcher", DISTRICT),
        ("worker", EAST_GRID),
        ("worker2", EAST_GRID),
        ("supervisor_west", WEST_GRID),
    ]:
        assign(username, grid)
    db.session.commit()


def _post(client: Any, auth: Any, who: str, key: str, action: str, body: dict[str, Any]) -> Any:
    response = client.post(f"/api/v1/cases/{key}/{action}", json=body, headers=auth(who))
    db.session.expire_all()
    return response


@pytest.mark.usefixtures("placed")
def test_extend_moves_the_limit_and_its_timers(client, auth, clock):
    key = create_case(client, auth, "handle", hours=4)
    row = case_row(key)
    due_before = as_utc(row.due_at)
    warn_before = as_utc(instance(key).next_timer_at)
    response = _post(client, auth, "supervisor", key, "extend", {"hours": 8, "reason": "需协调物业开门"})
    assert response.status_code == 200, response.get_json()
    row = case_row(key)
    calendar = client.application.extensions["gridcase.calendar"]
    assert as_utc(row.due_at) == calendar.add_working_hours(due_before, 8)
    assert row.postponed_count == 1
    assert as_utc(open_task(key, "handle").due_at) == as_utc(row.due_at)
    # the warning timer moved by the same working hours: the next timer is the new warning
    assert as_utc(instance(key).next_timer_at) == calendar.add_working_hours(warn_before, 8)
    [event] = case_events(key, "case.time_limit_extended")
    assert event.actor_label == "supervisor"
    assert event.before == {"due_at": due_before.isoformat()}
    assert event.data["hours"] == 8 and event.data["reason"] == "需协调物业开门"
    # the old limit passes quietly; the new one goes overdue
    clock.set(due_before + timedelta(minutes=1))
    scheduler.tick()
    db.session.expire_all()
    assert case_row(key).overdue_at is None
    while case_row(key).overdue_at is None:
        due = instance(key).next_timer_at
        assert due is not None
        clock.set(as_utc(due))
        assert scheduler.tick() == 1
        db.session.expire_all()
    assert as_utc(case_row(key).overdue_at) == as_utc(row.due_at)


@pytest.mark.usefixtures("placed")
def test_urge_audits_the_current_task(client, auth):
    key = create_case(client, auth, "handle")
    task = open_task(key, "handle")
    response = _post(client, auth, "supervisor", key, "urge", {"note": "今天下班前处理"})
    assert response.status_code == 200, response.get_json()
    [event] = case_events(key, "task.urged")
    assert event.entity_id == str(task.id) and event.actor_label == "supervisor"
    assert event.data == {"name": task.name, "element_id": "handle", "note": "今天下班前处理"}


@pytest.mark.usefixtures("placed")
def test_reassign_hands_the_handling_over_with_the_reason(client, auth):
    key = create_case(client, auth, "handle")
    response = _post(
        client, auth, "supervisor", key, "reassign", {"username": "worker2", "reason": "原处置人休假"}
    )
    assert response.status_code == 200, response.get_json()
    task = open_task(key, "handle")
    row = case_row(key)
    assert task.candidate_user == "worker2" and task.status == "claimed"
    assert row.handler_user == "worker2" and row.redispatch_count == 1
    [moved] = case_events(key, "task.reassigned")
    assert moved.data == {"reason": "原处置人休假"}
    [redispatched] = case_events(key, "case.redispatched")
    assert redispatched.data["reason"] == "原处置人休假"


@pytest.mark.usefixtures("placed")
def test_comment_is_audited(client, auth):
    key = create_case(client, auth, "handle")
    response = client.post(
        f"/api/v1/cases/{key}/comments", json={"body": "请附处置后照片"}, headers=auth("supervisor")
    )
    assert response.status_code == 201
    assert [e.data for e in case_events(key, "case.commented")] == [{"body": "请附处置后照片"}]


@pytest.mark.usefixtures("placed")
@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("extend", {"hours": 0, "reason": "x"}, "hours"),
        ("extend", {"hours": 241, "reason": "x"}, "hours"),
        ("extend", {"hours": 4, "reason": "   "}, "reason"),
        ("reassign", {"username": "nobody", "reason": "x"}, "username"),
        ("reassign", {"username": "dispatcher", "reason": "x"}, "username"),
        ("reassign", {"username": "worker", "reason": "x"}, "username"),  # the handler already
        ("urge", {"note": "x" * 1001}, "note"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(client, auth, action, body, field):
    key = create_case(client, auth, "handle")
    auth("supervisor")
    before = fingerprint()
    response = _post(client, auth, "supervisor", key, action, body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["details"] or any(
        field in str(k) for k in response.get_json()["details"]
    )
    assert fingerprint() == before


@pytest.mark.usefixtures("placed")
@pytest.mark.parametrize("who", ["dispatcher", "worker", "resident", "supervisor_west"])
def test_others_get_404(client, auth, who):
    key = create_case(client, auth, "handle")
    for action, body in [
        ("urge", {}),
        ("reassign", {"username": "worker2", "reason": "x"}),
        ("extend", {"hours": 2, "reason": "x"}),
    ]:
        response = _post(client, auth, who, key, action, body)
        assert response.status_code == 404, (action, response.get_json())
    assert case_events(key, "task.urged") == [] and case_row(key).postponed_count == 0


@pytest.mark.usefixtures("placed")
def test_nothing_to_extend_or_reassign_before_dispatch(client, auth):
    key = create_case(client, auth, "dispatch")
    assert _post(client, auth, "supervisor", key, "extend", {"hours": 2, "reason": "x"}).status_code == 422
    response = _post(client, auth, "supervisor", key, "reassign", {"username": "worker2", "reason": "x"})
    assert response.status_code == 422
    assert response.get_json()["details"] == {"username": f"case {key} has no handling task to reassign"}


@pytest.mark.usefixtures("placed")
def test_with_a_supervise_task_open_the_action_decides_it(client, auth, clock, create_user):
    from tests.cases.territory import DISTRICT, assign

    for role, username in [
        ("community_staff", "community"),
        ("street_coordinator", "street"),
        ("district_coordinator", "district"),
    ]:
        create_user(role, username)
        assign(username, DISTRICT)
    db.session.commit()
    key = create_case(client, auth, "handle", hours=4)
    while "coordinate_community" not in open_ids(key):
        clock.set(as_utc(instance(key).next_timer_at))
        assert scheduler.tick() == 1
        db.session.expire_all()
    complete(client, auth, "community", key, "coordinate_community", {"coordinate_decision": "escalate"})
    complete(client, auth, "street", key, "coordinate_street", {"coordinate_decision": "escalate"})
    complete(client, auth, "district", key, "coordinate_district", {"coordinate_decision": "supervise"})
    supervise = open_task(key, "supervise")
    response = _post(client, auth, "supervisor", key, "urge", {"note": "限今日办结"})
    assert response.status_code == 200, response.get_json()
    db.session.refresh(supervise)
    assert supervise.status == "completed"
    assert supervise.submitted_data["action"] == "urge"
    assert supervise.submitted_data["supervise_note"] == "限今日办结"
    [decision] = case_events(key, "case.supervised")
    assert decision.data == {"action": "urge", "note": "限今日办结"}
    assert [e.data["element_id"] for e in case_events(key, "task.urged")] == ["handle"]
