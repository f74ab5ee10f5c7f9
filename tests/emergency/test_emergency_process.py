"""bpmn/emergency_escalation.bpmn through the API, time by the injected clock, on SQLite and PostgreSQL: a
plan launched by the command centre dispatches every responder at once; all report in; a responder that
misses its limit climbs community → street (→ district → supervisor) and summons each level's
coordinator; on-scene updates; control, close and the after-action review; the timings in the
timeline and in the API."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.clock import as_utc
from app.extensions import db
from app.workflow import scheduler
from app.workflow.models import ProcessInstance
from tests.emergency.conftest import (
    GAS_LEAK_UNITS,
    UNIT_HANDLERS,
    complete_task,
    emergency,
    launch,
    report_in,
    task_for,
)
from tests.helpers import (
    case_events,
    case_row,
    fingerprint,
    fire_next_timer,
    open_ids,
    timeline_actions,
    upload_photo,
)

pytestmark = pytest.mark.usefixtures("territory")


def _dt(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value))


def _control_close_review(client: Any, auth: Any, key: str) -> None:
    complete_task(
        client, auth, "dispatcher", task_for(key, "declare_control"), {"control_note": "阀门已关闭,浓度下降"}
    )
    complete_task(
        client, auth, "dispatcher", task_for(key, "close_emergency"), {"close_note": "现场恢复正常"}
    )
    review = {
        "cause": "燃气软管老化",
        "timeline_summary": "5 分钟内全部报到,20 分钟控制",
        "improvements": "排查老旧软管",
    }
    complete_task(client, auth, "supervisor", task_for(key, "review_emergency"), review)


def test_a_launched_plan_dispatches_every_responder_and_all_report_in(app, client, auth, clock):
    started = clock.now()
    shown = launch(client, auth)
    key = shown["case_key"]
    assert (shown["trigger"], shown["plan_code"], shown["status"]) == ("plan", "gas_leak", "active")
    assert [r["unit"] for r in shown["responders"]] == GAS_LEAK_UNITS
    assert [r["status"] for r in shown["responders"]] == ["pending"] * 4
    assert [_dt(r["report_in_due"]) - started for r in shown["responders"]] == [
        timedelta(minutes=m) for m in (10, 10, 5, 15)
    ]
    assert shown["counts"] == {"pending": 4, "acknowledged": 0, "missed": 0}
    assert shown["checklist"][0] == "关闭燃气总阀"
    assert open_ids(key) == ["declare_control"] + ["emergency_report_in"] * 4
    task = task_for(key, "emergency_report_in", unit="gas")
    assert (task.candidate_group, task.roles, as_utc(task.due_at)) == (
        "gas",
        ["department_handler", "grid_worker"],
        started + timedelta(minutes=10),
    )
    case = case_row(key)
    assert (case.severity, case.status, case.handler_unit) == ("red", "handling", "gas")

    clock.advance(minutes=3)
    report_in(client, auth, key, "property")
    clock.advance(minutes=2)
    report_in(client, auth, key, "gas")
    report_in(client, auth, key, "fire")
    middle = emergency(client, auth, key)
    assert middle["counts"] == {"pending": 1, "acknowledged": 3, "missed": 0}
    # Each report-in ends its branch at a terminate end; nothing catches that event, and it must not pile up
    # in the stored state (it grew it at every report-in and stopped the live workflow's reuse).
    # Each responder reports in in an instance of its own, a child of the emergency's (app.workflow.children):
    # the three that reported in have completed, the emergency waits for the fourth.
    found = list(
        db.session.execute(
            select(ProcessInstance).where(ProcessInstance.case_id == case.id).order_by(ProcessInstance.id)
        ).scalars()
    )
    parent, responders = found[0], found[1:]
    assert parent.parent_id is None and [r.parent_id for r in responders] == [parent.id] * 4
    assert sorted(r.status for r in responders) == ["completed"] * 3 + ["running"]
    assert parent.status == "running"
    for instance in (parent, *[r for r in responders if r.status == "running"]):
        assert json.loads(instance.state)["bpmn_events"] == []
    assert {r["unit"]: r["status"] for r in middle["responders"]}["police"] == "pending"
    assert middle["timings"]["first_ack_seconds"] == 180 and middle["timings"]["all_ack_seconds"] is None

    # an on-scene update with a photo, from a responder
    photo = upload_photo(client, auth, "gas1", key, kind="before")
    response = client.post(
        f"/api/v1/emergencies/{key}/updates",
        json={"note": "已关闭总阀,正在通风", "attachment_ids": [photo["id"]]},
        headers=auth("gas1"),
    )
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["unit"], response.get_json()["attachment_ids"]) == ("gas", [photo["id"]])

    clock.advance(minutes=4)
    report_in(client, auth, key, "police")
    clock.advance(minutes=11)
    _control_close_review(client, auth, key)

    assert open_ids(key) == []
    final = emergency(client, auth, key)
    assert final["status"] == "reviewed" and final["case_status"] == "closed"
    assert final["counts"] == {"pending": 0, "acknowledged": 4, "missed": 0}
    assert final["timings"] == {
        **final["timings"],
        "first_ack_seconds": 180,
        "all_ack_seconds": 540,
        "control_seconds": 1200,
        "close_seconds": 1200,
    }
    assert final["review"]["cause"] == "燃气软管老化"
    assert [u["note"] for u in final["updates"]] == ["已关闭总阀,正在通风"]
    police = next(r for r in final["responders"] if r["unit"] == "police")
    assert (police["acknowledged_by"], police["responsible_person"], police["eta_minutes"]) == (
        "police1",
        "张队长",
        8,
    )
    actions = timeline_actions(client, auth, key)
    for action in (
        "emergency.opened",
        "emergency.responders_dispatched",
        "emergency.first_acknowledged",
        "emergency.all_acknowledged",
        "emergency.scene_update",
        "emergency.controlled",
        "emergency.closed",
        "emergency.reviewed",
    ):
        assert action in actions, action
    assert actions.count("emergency.responder_acknowledged") == 4
    assert [e.data["seconds"] for e in case_events(key, "emergency.first_acknowledged")] == [180]
    assert [e.data["seconds"] for e in case_events(key, "emergency.all_acknowledged")] == [540]
    assert [e.data["seconds"] for e in case_events(key, "emergency.controlled")] == [1200]
    assert case_events(key, "emergency.closed")[0].data["seconds"] == 1200
    assert case_row(key).closed_at is not None


def test_a_missed_report_in_climbs_twice_and_summons_each_levels_coordinator(app, client, auth, clock):
    key = launch(client, auth)["case_key"]
    for unit in ("gas", "fire", "property"):
        report_in(client, auth, key, unit)
    fire_next_timer(clock, key)  # police's 15 minutes pass
    assert open_ids(key) == ["declare_control", "emergency_report_in", "urge_community"]
    police = task_for(key, "emergency_report_in", unit="police")
    assert as_utc(police.due_at) == clock.now() + timedelta(minutes=15)  # a new limit, as long as the first
    urge = task_for(key, "urge_community")
    assert urge.roles == ["community_staff"]
    assert case_row(key).escalation_level == "community"
    inbox = client.get("/api/v1/tasks?scope=claimable", headers=auth("community")).get_json()
    assert [t["element_id"] for t in inbox["items"]] == ["urge_community"]
    complete_task(
        client, auth, "community", urge, {"urge_result": "contacted", "urge_note": "派出所称警力在途"}
    )

    fire_next_timer(clock, key)  # missed again: the street
    assert open_ids(key) == ["declare_control", "emergency_report_in", "urge_street"]
    assert task_for(key, "urge_street").roles == ["street_coordinator"]
    assert case_row(key).escalation_level == "street"
    shown = emergency(client, auth, key)
    police_row = next(r for r in shown["responders"] if r["unit"] == "police")
    assert (police_row["status"], police_row["level"], police_row["misses"]) == ("pending", "street", 2)
    assert shown["escalation_level"] == "street"

    clock.advance(minutes=3)
    report_in(client, auth, key, "police")  # reporting in withdraws the street's open summons
    assert open_ids(key) == ["declare_control"]
    missed = case_events(key, "emergency.report_in_missed")
    assert [(e.data["unit"], e.data["level"], e.data["summoned_role"]) for e in missed] == [
        ("police", "community", "community_staff"),
        ("police", "street", "street_coordinator"),
    ]
    assert [e.after["escalation_level"] for e in case_events(key, "case.escalated")] == [
        "community",
        "street",
    ]
    assert emergency(client, auth, key)["counts"] == {"pending": 0, "acknowledged": 4, "missed": 0}
    _control_close_review(client, auth, key)
    assert emergency(client, auth, key)["timings"]["all_ack_seconds"] == 15 * 60 * 2 + 180


def test_a_unit_missing_every_level_goes_to_the_supervisor(app, client, auth, clock):
    key = launch(client, auth)["case_key"]
    for unit in ("gas", "fire", "property"):
        report_in(client, auth, key, unit)
    for expected in ("urge_community", "urge_street", "urge_district"):
        fire_next_timer(clock, key)
        assert expected in open_ids(key)
    fire_next_timer(clock, key)  # the district's limit passes too
    assert "emergency_report_in" not in open_ids(key)
    assert "supervise_report_in" in open_ids(key)
    row = next(r for r in emergency(client, auth, key)["responders"] if r["unit"] == "police")
    assert (row["status"], row["level"], row["misses"]) == ("missed", "supervisor", 4)
    complete_task(client, auth, "street", task_for(key, "urge_street"), {"urge_result": "unreachable"})
    assert open_ids(key) == ["declare_control", "supervise_report_in", "urge_community", "urge_district"]
    complete_task(
        client, auth, "supervisor", task_for(key, "supervise_report_in"), {"supervise_action": "stood_down"}
    )
    assert open_ids(key) == ["declare_control"]  # the supervisor took over: the open summonses are withdrawn
    _control_close_review(client, auth, key)
    final = emergency(client, auth, key)
    assert final["counts"] == {"pending": 0, "acknowledged": 3, "missed": 1}
    assert final["timings"]["all_ack_seconds"] is None and final["timings"]["close_seconds"] is not None
    assert [e.data["action"] for e in case_events(key, "emergency.supervised")] == ["stood_down"]


# -- bad input ------------------------------------------------------------------------------------------


def test_launching_an_unknown_plan_or_as_a_wrong_role_changes_nothing(app, client, auth):
    before = fingerprint()
    body = {"plan_code": "alien_invasion", "title": "外星人入侵"}
    response = client.post("/api/v1/emergencies", json=body, headers=auth("dispatcher"))
    assert response.status_code == 422
    assert "alien_invasion" in response.get_json()["details"]["plan_code"]
    response = client.post("/api/v1/emergencies", json={"plan_code": "gas_leak"}, headers=auth("worker"))
    assert response.status_code == 403
    response = client.post("/api/v1/emergencies", json={"plan_code": "gas_leak"}, headers=auth("resident"))
    assert response.status_code == 403
    response = client.post("/api/v1/emergencies", json={"title": "无预案"}, headers=auth("supervisor"))
    assert response.status_code == 422 and "plan_code" in response.get_json()["details"]
    assert fingerprint() == before


def test_a_plan_without_an_available_responder_is_refused(app, client, auth):
    plan = {
        "code": "ghost_plan",
        "name": "无单位预案",
        "name_en": "No unit",
        "responders": [{"unit_kind": "fire", "limit": "10m"}],
        "checklist": ["检查"],
    }
    assert client.post("/api/v1/emergency-plans", json=plan, headers=auth("admin")).status_code == 201
    from app.extensions import db
    from app.units.models import Unit

    db.session.execute(Unit.__table__.update().where(Unit.kind == "fire").values(active=False))
    db.session.commit()
    before = fingerprint()
    response = client.post(
        "/api/v1/emergencies", json={"plan_code": "ghost_plan"}, headers=auth("supervisor")
    )
    assert response.status_code == 422
    assert "no available responder" in response.get_json()["details"]["plan_code"]
    assert fingerprint() == before


def test_on_scene_updates_need_a_responder_and_a_visible_case(app, client, auth):
    key = launch(client, auth)["case_key"]
    before = fingerprint()
    note = {"note": "现场情况"}
    assert (
        client.post(f"/api/v1/emergencies/{key}/updates", json=note, headers=auth("power1")).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/emergencies/{key}/updates", json=note, headers=auth("worker")).status_code
        == 403
    )
    bad = {"note": "照片", "attachment_ids": [9999]}
    response = client.post(f"/api/v1/emergencies/{key}/updates", json=bad, headers=auth("gas1"))
    assert response.status_code == 422 and "attachment_ids" in response.get_json()["details"]
    assert client.get("/api/v1/emergencies/GC-2026-999999", headers=auth("dispatcher")).status_code == 404
    assert client.get(f"/api/v1/emergencies/{key}", headers=auth("resident")).status_code == 404
    assert fingerprint() == before


def test_the_emergency_list_shows_what_you_may_see(app, client, auth):
    key = launch(client, auth)["case_key"]
    items = client.get("/api/v1/emergencies", headers=auth("supervisor")).get_json()["items"]
    assert [(i["case_key"], i["plan_code"], i["status"]) for i in items] == [(key, "gas_leak", "active")]
    assert client.get("/api/v1/emergencies", headers=auth("resident")).get_json()["total"] == 0
    assert scheduler.tick() == 0  # nothing due yet
    assert UNIT_HANDLERS["gas"] == "gas1"
