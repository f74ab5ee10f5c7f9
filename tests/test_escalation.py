"""Three-level escalation in bpmn/case_handling.bpmn, "乡街吹哨,部门报到", on SQLite and PostgreSQL.

Overdue cases (beside handling: the handler keeps the task) and cases the handler declares beyond the
grid's means (handling stops until the escalation ends) go to the community coordinator; units summoned
must report in within the level's limit or the case climbs to the street, then the district, then the
supervisor. Time only moves when a test says so; due timers fire through ``scheduler.tick()``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from app.cases.escalation import report_in_due
from app.clock import as_utc
from app.extensions import db
from app.workflow.models import TaskStatus
from tests.cases.territory import add_unit
from tests.factories import app_on_both_backends, create_case, staff_territory
from tests.helpers import (
    case,
    case_row,
    complete,
    fingerprint,
    fire_next_timer,
    handle_and_prove,
    instance,
    open_ids,
    open_task,
    open_tasks,
    upload_photo,
)

app = app_on_both_backends


@pytest.fixture
def territory(users: dict[str, Any], create_user: Any, auth: Any) -> None:
    """The small territory of tests/cases/territory.py (the reported cases lie in its east grid), with a
    coordinator at each level, unit members, and everybody assigned where they work and signed in (tokens
    made now do not move the fingerprints)."""
    staffed = staff_territory(create_user, handlers={"gas1": "gas", "police1": "police"})
    add_unit("closed", "property", name="已撤销的物业公司", active=False)
    for username in [*users, *staffed]:
        auth(username)


pytestmark = pytest.mark.usefixtures("users", "territory", "deployed")

REASON = "燃气管道泄漏,需燃气公司处置"


# -- helpers ---------------------------------------------------------------------------------------


def _dt(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _timeline(client: Any, auth: Any, key: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/cases/{key}/timeline?page_size=100", headers=auth("supervisor"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]  # type: ignore[no-any-return]


def _events(client: Any, auth: Any, key: str, action: str) -> list[dict[str, Any]]:
    return [e for e in _timeline(client, auth, key) if e["action"] == action]


def _overdue(client: Any, auth: Any, clock: Any) -> str:
    """A case handled by ``worker`` whose limit passed: the warning, then the overdue timer fire."""
    key = create_case(client, auth, "handle", hours=10)
    while "coordinate_community" not in open_ids(key):
        fire_next_timer(clock, key)
    return key


def _beyond_means(client: Any, auth: Any) -> str:
    key = create_case(client, auth, "handle", hours=10)
    complete(
        client,
        auth,
        "worker",
        key,
        "handle",
        {
            "handle_result": "beyond_means",
            "handle_description": "现场闻到燃气味",
            "beyond_means_reason": REASON,
        },
    )
    return key


def _coordinate(client: Any, auth: Any, who: str, key: str, element: str, **data: Any) -> dict[str, Any]:
    return complete(client, auth, who, key, element, data)


def _report_in(client: Any, auth: Any, who: str, key: str, unit: str) -> dict[str, Any]:
    task = next(t for t in open_tasks(key) if t.element_id == "report_in" and t.candidate_group == unit)
    response = client.post(
        f"/api/v1/tasks/{task.id}/complete",
        json={"data": {"responsible_person": "张工", "report_in_note": "30 分钟内到场"}},
        headers=auth(who),
    )
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    return response.get_json()  # type: ignore[no-any-return]


# -- entering the escalation -------------------------------------------------------------------------


def test_overdue_goes_to_the_community_coordinator(app, client, auth, clock):
    key = _overdue(client, auth, clock)
    escalated_at = clock.now()
    assert open_ids(key) == ["coordinate_community", "handle"]  # beside handling: no supervise any more
    coordinate = open_task(key, "coordinate_community")
    assert coordinate.roles == ["community_staff"]
    assert coordinate.status == TaskStatus.READY
    assert coordinate.case_status is None
    assert open_task(key, "handle").candidate_user == "worker"  # the handler keeps the task
    shown = case(client, auth, key)
    assert shown["escalation_level"] == "community"
    assert _dt(shown["escalated_at"]) == escalated_at
    assert shown["status"] == "handling"
    escalated = _events(client, auth, key, "case.escalated")
    assert len(escalated) == 1
    assert escalated[0]["before"] == {"escalation_level": None}
    assert escalated[0]["after"]["escalation_level"] == "community"
    assert escalated[0]["data"]["trigger"] == "overdue"
    actions = [e["action"] for e in _timeline(client, auth, key)]
    assert actions.index("case.overdue") < actions.index("case.escalated")
    inbox = client.get("/api/v1/tasks?scope=claimable", headers=auth("community")).get_json()
    assert [(t["element_id"], t["case_key"]) for t in inbox["items"]] == [("coordinate_community", key)]


def test_beyond_means_goes_to_the_community_coordinator(app, client, auth):
    key = _beyond_means(client, auth)
    assert open_ids(key) == ["coordinate_community"]  # handling stops until the escalation ends
    shown = case(client, auth, key)
    assert shown["escalation_level"] == "community"
    assert shown["status"] == "handling"
    escalated = _events(client, auth, key, "case.escalated")[0]
    assert escalated["actor"] == "worker"
    assert escalated["data"]["trigger"] == "beyond_means"
    assert escalated["data"]["reason"] == REASON
    assert instance(key).next_timer_at is None  # handling's timers ended with it


def test_beyond_means_needs_a_reason(app, client, auth):
    key = create_case(client, auth, "handle")
    before = fingerprint()
    body = complete(
        client,
        auth,
        "worker",
        key,
        "handle",
        {"handle_result": "beyond_means", "handle_description": "处置不了"},
        expect=422,
    )
    assert body["details"] == {"beyond_means_reason": "this field is required"}
    assert fingerprint() == before
    assert case(client, auth, key)["escalation_level"] is None


# -- summons and report-in ---------------------------------------------------------------------------


def test_summoned_units_report_in_and_the_lead_unit_handles(app, client, auth, clock):
    key = _beyond_means(client, auth)
    clock.advance(minutes=5)
    _coordinate(
        client,
        auth,
        "community",
        key,
        "coordinate_community",
        coordinate_decision="summon",
        summon_units=["gas", "water"],
        coordinate_note="燃气公司牵头,自来水公司配合",
    )
    report_ins = [t for t in open_tasks(key) if t.element_id == "report_in"]
    assert sorted(t.candidate_group for t in report_ins) == ["gas", "water"]
    due = report_in_due(clock.now(), "2wh")  # community level: 2 working hours
    for task in report_ins:
        assert task.roles == ["department_handler"]
        assert task.status == TaskStatus.READY
        assert _dt(task.due_at) == due
    assert _dt(instance(key).next_timer_at) == due
    summoned = _events(client, auth, key, "case.units_summoned")[0]
    assert summoned["data"]["units"] == ["gas", "water"]
    assert summoned["data"]["lead_unit"] == "gas"
    assert summoned["data"]["level"] == "community"
    assert _dt(summoned["data"]["report_in_due"]) == due
    # each unit's members see their own report-in only
    for who in ("gas1", "handler"):  # gas and water
        inbox = client.get("/api/v1/tasks?scope=claimable", headers=auth(who)).get_json()
        assert [(t["element_id"], t["case_key"]) for t in inbox["items"]] == [("report_in", key)], who
    assert client.get("/api/v1/tasks?scope=claimable", headers=auth("police1")).get_json()["items"] == []

    _report_in(client, auth, "handler", key, "water")
    assert [t.candidate_group for t in open_tasks(key)] == ["gas"]
    _report_in(client, auth, "gas1", key, "gas")

    # back to handling, with the lead unit as handler: a re-dispatch
    assert open_ids(key) == ["handle"]
    handle = open_task(key, "handle")
    assert handle.candidate_group == "gas" and handle.candidate_user is None
    assert handle.status == TaskStatus.READY
    shown = case(client, auth, key)
    assert (shown["handler_user"], shown["handler_unit"]) == (None, "gas")
    assert shown["redispatch_count"] == 1
    assert shown["escalation_level"] == "community"
    reported = _events(client, auth, key, "case.reported_in")
    assert [(e["data"]["unit"], e["actor"]) for e in reported] == [("water", "handler"), ("gas", "gas1")]
    assert reported[1]["data"]["responsible_person"] == "张工"
    redispatched = _events(client, auth, key, "case.redispatched")[0]
    assert redispatched["before"] == {"handler_user": "worker", "handler_unit": None}
    assert redispatched["after"] == {"handler_user": None, "handler_unit": "gas", "redispatch_count": 1}
    resolved = _events(client, auth, key, "case.escalation_resolved")[0]
    assert resolved["data"]["outcome"] == "reported_in"
    assert _is_subsequence(
        ["case.units_summoned", "case.reported_in", "case.reported_in", "case.redispatched"],
        [e["action"] for e in _timeline(client, auth, key)],
    )

    # the gas company handles and sends the proof; the case closes
    complete(
        client, auth, "gas1", key, "handle", {"handle_result": "resolved", "handle_description": "已关阀修复"}
    )
    assert open_task(key, "photo_proof").candidate_user == "gas1"
    photo = upload_photo(client, auth, "gas1", key)
    complete(client, auth, "gas1", key, "photo_proof", {"after_photos": [photo["id"]]})
    step = complete(client, auth, "supervisor", key, "review", {"review_decision": "approve"})
    assert step["case_status"] == "closed"


def test_overdue_report_in_hands_the_open_task_to_the_lead_unit(app, client, auth, clock):
    key = _overdue(client, auth, clock)
    handle_id = open_task(key, "handle").id
    _coordinate(
        client,
        auth,
        "community",
        key,
        "coordinate_community",
        coordinate_decision="summon",
        summon_units=["water"],
    )
    _report_in(client, auth, "handler", key, "water")
    assert open_ids(key) == ["handle"]
    handle = open_task(key, "handle")
    assert handle.id == handle_id  # the same task, handed over
    assert (handle.candidate_user, handle.candidate_group, handle.assignee_id) == (None, "water", None)
    assert handle.status == TaskStatus.READY
    moved = _events(client, auth, key, "task.reassigned")
    assert [e["entity_id"] for e in moved] == [str(handle_id)]
    assert moved[0]["after"]["candidate_group"] == "water"
    assert case_row(key).redispatch_count == 1
    # the old handler can no longer complete it
    refused = client.post(
        f"/api/v1/tasks/{handle_id}/complete",
        json={"data": {"handle_result": "resolved", "handle_description": "已处置"}},
        headers=auth("worker"),
    )
    assert refused.status_code in (403, 404), refused.get_json()


def test_missed_report_in_climbs_street_then_district_then_supervisor(app, client, auth, clock):
    key = _overdue(client, auth, clock)
    _coordinate(
        client,
        auth,
        "community",
        key,
        "coordinate_community",
        coordinate_decision="summon",
        summon_units=["water", "gas"],
    )
    _report_in(client, auth, "handler", key, "water")
    fire_next_timer(clock, key)  # gas never reports in

    street_at = clock.now()
    assert open_ids(key) == ["coordinate_street", "handle"]
    assert open_task(key, "coordinate_street").roles == ["street_coordinator"]
    missed = _events(client, auth, key, "case.report_in_missed")
    assert [(e["data"]["unit"], e["data"]["level"], e["actor"]) for e in missed] == [
        ("gas", "community", "system")
    ]
    actions = [e["action"] for e in _timeline(client, auth, key)]
    # the missed unit is recorded, then the case climbs; the timer's own event follows the work it did
    assert actions[actions.index("case.report_in_missed") :] == [
        "case.report_in_missed",
        "case.escalated",
        "timer.fired",
        "task.cancelled",
        "task.created",
    ]
    shown = case(client, auth, key)
    assert shown["escalation_level"] == "street"
    assert _dt(shown["escalated_at"]) == street_at

    # street: 1 hour to report in
    _coordinate(
        client, auth, "street", key, "coordinate_street", coordinate_decision="summon", summon_units=["gas"]
    )
    assert _dt(open_task(key, "report_in").due_at) == street_at + timedelta(hours=1)
    fire_next_timer(clock, key)
    assert clock.now() == street_at + timedelta(hours=1)
    district_at = clock.now()
    assert open_ids(key) == ["coordinate_district", "handle"]
    assert open_task(key, "coordinate_district").roles == ["district_coordinator"]
    assert case(client, auth, key)["escalation_level"] == "district"

    # district: 30 minutes; a miss goes to the supervisor
    _coordinate(
        client,
        auth,
        "district",
        key,
        "coordinate_district",
        coordinate_decision="summon",
        summon_units=["gas"],
    )
    assert _dt(open_task(key, "report_in").due_at) == district_at + timedelta(minutes=30)
    fire_next_timer(clock, key)
    assert open_ids(key) == ["handle", "supervise"]
    assert open_task(key, "supervise").roles == ["supervisor"]
    assert case(client, auth, key)["escalation_level"] == "district"
    referred = _events(client, auth, key, "case.referred_to_supervisor")[0]
    assert referred["data"] == {"level": "district", "reason": "district_report_in_missed", "note": None}
    assert [
        (e["data"]["unit"], e["data"]["level"]) for e in _events(client, auth, key, "case.report_in_missed")
    ] == [
        ("gas", "community"),
        ("gas", "street"),
        ("gas", "district"),
    ]
    levels = [e["after"]["escalation_level"] for e in _events(client, auth, key, "case.escalated")]
    assert levels == ["community", "street", "district"]

    # the supervision path is still there: the supervisor extends the limit
    complete(client, auth, "supervisor", key, "supervise", {"action": "extend", "extend_hours": 4})
    assert open_ids(key) == ["handle"]
    assert case(client, auth, key)["postponed_count"] == 1


# -- the coordinator resolves -------------------------------------------------------------------------


def test_community_returns_the_case_to_its_handler(app, client, auth):
    key = _beyond_means(client, auth)
    _coordinate(
        client,
        auth,
        "community",
        key,
        "coordinate_community",
        coordinate_decision="return",
        coordinate_note="已协调物业配合,请继续处置",
    )
    assert open_ids(key) == ["handle"]
    handle = open_task(key, "handle")
    assert handle.candidate_user == "worker" and handle.status == TaskStatus.CLAIMED
    row = case_row(key)
    assert row.redispatch_count == 0
    assert (row.handler_user, row.handler_unit) == ("worker", None)
    assert row.escalation_level == "community"
    assert "case.redispatched" not in [e["action"] for e in _timeline(client, auth, key)]
    resolved = _events(client, auth, key, "case.escalation_resolved")[0]
    assert resolved["data"] == {
        "level": "community",
        "outcome": "returned",
        "note": "已协调物业配合,请继续处置",
    }
    assert resolved["actor"] == "community"
    assert instance(key).next_timer_at is not None  # a new handling round, with its timers


def test_street_returns_the_case_to_another_worker(app, client, auth, clock):
    key = _overdue(client, auth, clock)
    handle_id = open_task(key, "handle").id
    _coordinate(client, auth, "community", key, "coordinate_community", coordinate_decision="escalate")
    assert open_ids(key) == ["coordinate_street", "handle"]
    _coordinate(
        client,
        auth,
        "street",
        key,
        "coordinate_street",
        coordinate_decision="return",
        handover_user="worker2",
    )
    assert open_ids(key) == ["handle"]
    handle = open_task(key, "handle")
    assert handle.id == handle_id
    assert (handle.candidate_user, handle.status) == ("worker2", TaskStatus.CLAIMED)
    shown = case(client, auth, key)
    assert (shown["handler_user"], shown["redispatch_count"], shown["escalation_level"]) == (
        "worker2",
        1,
        "street",
    )
    redispatched = _events(client, auth, key, "case.redispatched")[0]
    assert redispatched["actor"] == "street"
    assert redispatched["after"]["handler_user"] == "worker2"
    # rework later goes to the current handler, not to the one first dispatched
    handle_and_prove(client, auth, "worker2", key)
    complete(
        client, auth, "supervisor", key, "review", {"review_decision": "reject", "review_comment": "未清干净"}
    )
    assert open_task(key, "handle").candidate_user == "worker2"


def test_district_returns_the_case_to_a_unit(app, client, auth):
    key = _beyond_means(client, auth)
    _coordinate(client, auth, "community", key, "coordinate_community", coordinate_decision="escalate")
    _coordinate(client, auth, "street", key, "coordinate_street", coordinate_decision="escalate")
    assert open_ids(key) == ["coordinate_district"]
    _coordinate(
        client,
        auth,
        "district",
        key,
        "coordinate_district",
        coordinate_decision="return",
        handover_unit="police",
    )
    assert open_ids(key) == ["handle"]
    handle = open_task(key, "handle")
    assert (handle.candidate_user, handle.candidate_group, handle.status) == (
        None,
        "police",
        TaskStatus.READY,
    )
    row = case_row(key)
    assert (row.handler_user, row.handler_unit, row.redispatch_count) == (None, "police", 1)
    assert row.escalation_level == "district"
    assert [e["data"]["trigger"] for e in _events(client, auth, key, "case.escalated")] == [
        "beyond_means"
    ] * 3


def test_district_refers_a_beyond_means_case_to_the_supervisor(app, client, auth):
    key = _beyond_means(client, auth)
    _coordinate(client, auth, "community", key, "coordinate_community", coordinate_decision="escalate")
    _coordinate(client, auth, "street", key, "coordinate_street", coordinate_decision="escalate")
    _coordinate(
        client,
        auth,
        "district",
        key,
        "coordinate_district",
        coordinate_decision="supervise",
        coordinate_note="需督办",
    )
    # handling goes on with the same handler, and the supervisor supervises beside it
    assert open_ids(key) == ["handle", "supervise"]
    assert open_task(key, "handle").candidate_user == "worker"
    referred = _events(client, auth, key, "case.referred_to_supervisor")[0]
    assert referred["data"] == {"level": "district", "reason": "district_decision", "note": "需督办"}
    complete(
        client, auth, "supervisor", key, "supervise", {"action": "reassign", "new_handler_user": "worker2"}
    )
    assert open_task(key, "handle").candidate_user == "worker2"


# -- bad input ---------------------------------------------------------------------------------------


def test_bad_summons_are_refused_and_change_nothing(app, client, auth, clock):
    key = _overdue(client, auth, clock)
    before = fingerprint()

    def refused(data: dict[str, Any]) -> dict[str, Any]:
        return complete(client, auth, "community", key, "coordinate_community", data, expect=422)

    body = refused({"coordinate_decision": "summon", "summon_units": ["water", "nope"]})
    assert body["details"] == {"summon_units.1": "no active unit with code 'nope'"}
    assert "summon_units" in body["message"]
    body = refused({"coordinate_decision": "summon", "summon_units": ["closed"]})
    assert body["details"] == {"summon_units.0": "no active unit with code 'closed'"}
    body = refused({"coordinate_decision": "summon", "summon_units": []})
    assert body["details"] == {"summon_units": "summon at least one unit"}
    body = refused({"coordinate_decision": "summon"})
    assert body["details"] == {"summon_units": "this field is required"}
    body = refused({"coordinate_decision": "summon", "summon_units": ["gas", "gas"]})
    assert body["details"] == {"summon_units": "each unit only once"}
    body = refused({"coordinate_decision": "return", "handover_user": "worker2", "handover_unit": "gas"})
    assert body["details"] == {"data": "give at most one of handover_user or handover_unit"}
    body = refused({"coordinate_decision": "return", "handover_unit": "nope"})
    assert body["details"] == {"handover_unit": "no active unit with code 'nope'"}
    body = refused({"coordinate_decision": "supervise"})  # not offered below the district
    assert "coordinate_decision" in body["details"]
    assert fingerprint() == before
    assert case(client, auth, key)["escalation_level"] == "community"


def _is_subsequence(wanted: list[str], actual: list[str]) -> bool:
    remaining = iter(actual)
    return all(item in remaining for item in wanted)
