"""bpmn/inspection_campaign.bpmn through the API: pass; fail → rectify → re-inspect pass; fail twice →
blacklist; progress per grid; grid workers get only their grids' inspections. Time moves only when a test
says so; the rectification timer fires through ``scheduler.tick()``."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import current_app
from flask.testing import FlaskClient
from sqlalchemy import or_, select

from app.audit.models import AuditEvent
from app.clock import as_utc, now
from app.extensions import db
from app.inspections.models import Campaign, Place
from app.workflow import scheduler
from app.workflow.models import HumanTask, ProcessInstance
from tests.cases.territory import COMMUNITY, EAST_GRID, WEST_GRID
from tests.helpers import complete_by_id as submit
from tests.helpers import jpeg
from tests.inspections.conftest import CHECKLIST, item_of, open_tasks, results

Auth = Callable[[str], dict[str, str]]

pytestmark = pytest.mark.usefixtures("users", "territory", "deployed")


def task_for(
    client: FlaskClient, auth: Auth, who: str, instance_id: int, place_code: str, element: str
) -> int:
    """The open ``element`` task of ``place_code``'s inspection, as ``who`` sees it."""
    for task in open_tasks(instance_id, element):
        response = client.get(f"/api/v1/tasks/{task.id}", headers=auth(who))
        if response.status_code == 200 and response.get_json()["data"]["target"]["place_code"] == place_code:
            return task.id
    raise AssertionError(f"no open {element} task of {place_code} for {who}")


def inspect_place(
    client: FlaskClient, auth: Auth, who: str, instance_id: int, place_code: str, *failed: str
) -> Any:
    """``who`` submits the inspection of ``place_code``: every item passed but ``failed``."""
    task_id = task_for(client, auth, who, instance_id, place_code, "inspect")
    return submit(client, auth, who, task_id, {"results": results(*failed)})


def detail(client: FlaskClient, auth: Auth, campaign_id: int, who: str = "handler") -> dict[str, Any]:
    response = client.get(f"/api/v1/inspections/campaigns/{campaign_id}", headers=auth(who))
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def actions(instance_id: int) -> list[str]:
    return list(
        db.session.execute(
            select(AuditEvent.action)
            .where(
                or_(  # the campaign's instance and its places' (child instances)
                    AuditEvent.instance_id == instance_id,
                    AuditEvent.instance_id.in_(
                        select(ProcessInstance.id).where(ProcessInstance.parent_id == instance_id)
                    ),
                )
            )
            .order_by(AuditEvent.id)
        ).scalars()
    )


def test_pass_closes_the_item_and_the_campaign(client: FlaskClient, auth: Auth, launch: Any) -> None:
    campaign = launch(place_types=["restaurant"], grid_codes=[EAST_GRID])
    assert campaign["counts"] == {
        "total": 2,
        "done": 0,
        "failed": 0,
        "rectifying": 0,
        "pending": 2,
        "overdue": 0,
    }
    instance_id = campaign["instance_id"]
    instance = db.session.get(ProcessInstance, instance_id)
    assert instance is not None and instance.case_id is None  # a campaign is not a case
    tasks = open_tasks(instance_id, "inspect")
    assert len(tasks) == 2 and {t.candidate_user for t in tasks} == {"worker"}
    assert all(t.case_id is None and as_utc(t.due_at) == as_utc(campaign_deadline(campaign)) for t in tasks)

    # The task's form is the campaign's checklist.
    task_id = task_for(client, auth, "worker", instance_id, "R1", "inspect")
    form = client.get(f"/api/v1/tasks/{task_id}", headers=auth("worker")).get_json()["form_schema"]
    checks = form["properties"]["results"]
    assert list(checks["properties"]) == [item["key"] for item in CHECKLIST]
    assert (
        checks["required"] == ["fire_extinguisher", "gas_alarm"] and checks["additionalProperties"] is False
    )
    assert checks["properties"]["gas_alarm"]["title"] == "燃气报警器正常"

    submit(client, auth, "worker", task_id, {"results": results(), "summary": "全部合格"})
    item = item_of(campaign["id"], "R1")
    assert (item.status, item.inspected_by, item.failed_items) == ("passed", "worker", [])
    assert detail(client, auth, campaign["id"])["counts"]["done"] == 1

    other = task_for(client, auth, "worker", instance_id, "R2", "inspect")
    result = submit(client, auth, "worker", other, {"results": results()})
    assert result["instance_status"] == "completed"
    finished = detail(client, auth, campaign["id"])
    assert finished["status"] == "completed" and finished["completed_at"] is not None
    assert finished["counts"] == {
        "total": 2,
        "done": 2,
        "failed": 0,
        "rectifying": 0,
        "pending": 0,
        "overdue": 0,
    }
    history = actions(instance_id)
    assert history.count("inspection.inspected") == 2 and "inspection.campaign_completed" in history
    assert "inspection.notice_issued" not in history


def campaign_deadline(campaign: dict[str, Any]) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(campaign["deadline"])


def _fail_first(client: FlaskClient, auth: Auth, launch: Any) -> tuple[dict[str, Any], int]:
    campaign = launch(grid_codes=[WEST_GRID], place_types=["shop"])
    instance_id = campaign["instance_id"]
    task_id = task_for(client, auth, "worker2", instance_id, "S1", "inspect")
    photo = client.post(
        f"/api/v1/inspections/items/{item_of(campaign['id'], 'S1').id}/photos",
        data={"file": (io.BytesIO(jpeg()), "fire.jpg")},
        headers=auth("worker2"),
        content_type="multipart/form-data",
    )
    assert photo.status_code == 201, photo.get_json()
    submit(
        client,
        auth,
        "worker2",
        task_id,
        {"results": results("fire_extinguisher", note="灭火器已过期"), "photos": [photo.get_json()["id"]]},
    )
    return campaign, instance_id


def test_fail_then_rectified_on_reinspection(
    client: FlaskClient, auth: Auth, launch: Any, clock: Any
) -> None:
    failed_at = now()
    campaign, instance_id = _fail_first(client, auth, launch)
    item = item_of(campaign["id"], "S1")
    due = current_app.extensions["gridcase.calendar"].add_working_days(failed_at, 3)
    assert (item.status, item.failed_items) == ("rectifying", ["fire_extinguisher"])
    assert as_utc(item.rectify_due_at) == due and as_utc(item.notice_issued_at) == failed_at
    assert open_tasks(instance_id) == []  # waiting for the rectification deadline
    assert detail(client, auth, campaign["id"])["counts"]["rectifying"] == 1
    notice = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "inspection.notice_issued")
    ).scalar_one()
    assert notice.data["failed_titles"] == ["灭火器在有效期内"]

    clock.set(due - timedelta(minutes=1))
    scheduler.tick()
    assert open_tasks(instance_id) == []
    clock.set(due)
    scheduler.tick()
    reinspect = open_tasks(instance_id, "reinspect")
    assert len(reinspect) == 1 and reinspect[0].candidate_user == "worker2"

    result = submit(client, auth, "worker2", reinspect[0].id, {"results": results()})
    assert result["instance_status"] == "completed"
    item = item_of(campaign["id"], "S1")
    assert (item.status, item.reinspected_by, item.refailed_items) == ("passed", "worker2", [])
    place = db.session.get(Place, item.place_id)
    assert place is not None and not place.blacklisted
    assert detail(client, auth, campaign["id"])["counts"]["done"] == 1
    assert "inspection.reinspected" in actions(instance_id)


def test_second_failure_blacklists_the_place(
    client: FlaskClient, auth: Auth, launch: Any, clock: Any
) -> None:
    campaign, instance_id = _fail_first(client, auth, launch)
    clock.set(as_utc(item_of(campaign["id"], "S1").rectify_due_at) + timedelta(hours=1))
    scheduler.tick()
    (reinspect,) = open_tasks(instance_id, "reinspect")
    submit(client, auth, "worker2", reinspect.id, {"results": results("fire_extinguisher", "gas_alarm")})

    item = item_of(campaign["id"], "S1")
    assert item.status == "blacklisted" and item.refailed_items == ["fire_extinguisher", "gas_alarm"]
    place = db.session.get(Place, item.place_id)
    assert place is not None and place.blacklisted and place.blacklisted_at is not None
    assert (
        "燃气安全专项检查" in place.blacklist_reason
        and "灭火器在有效期内、燃气报警器正常" in place.blacklist_reason
    )
    assert detail(client, auth, campaign["id"])["counts"] == {
        "total": 1,
        "done": 0,
        "failed": 1,
        "rectifying": 0,
        "pending": 0,
        "overdue": 0,
    }
    listed = client.get("/api/v1/inspections/places?blacklisted=true", headers=auth("supervisor")).get_json()
    assert [p["code"] for p in listed["items"]] == ["S1"] and listed["items"][0]["blacklist_reason"]
    assert "place.blacklisted" in [
        e.action for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()
    ]
    campaign_row = db.session.get(Campaign, campaign["id"])
    assert campaign_row is not None and campaign_row.status == "completed"


def test_progress_per_grid_and_by_scope(client: FlaskClient, auth: Auth, launch: Any, clock: Any) -> None:
    """Four places in two grids: counts per grid move as inspections pass, fail and rectify; a grid worker
    sees their grid's row, community staff and the unit every row."""
    campaign = launch(grid_codes=[COMMUNITY], place_types=None)
    instance_id = campaign["instance_id"]
    assert {(g["grid_code"], g["total"], g["pending"]) for g in campaign["grids"]} == {
        (EAST_GRID, 2, 2),
        (WEST_GRID, 2, 2),
    }
    inspect_place(client, auth, "worker", instance_id, "R1")
    inspect_place(client, auth, "worker2", instance_id, "S1", "gas_alarm")
    inspect_place(client, auth, "worker2", instance_id, "G1", "gas_alarm")
    clock.advance(days=10)
    scheduler.tick()
    reinspections = {t.id for t in open_tasks(instance_id, "reinspect")}
    assert len(reinspections) == 2
    s1 = task_for(client, auth, "worker2", instance_id, "S1", "reinspect")
    submit(client, auth, "worker2", s1, {"results": results("gas_alarm")})

    rows = {g["grid_code"]: g for g in detail(client, auth, campaign["id"])["grids"]}
    assert rows[EAST_GRID] | {} == {
        **rows[EAST_GRID],
        "total": 2,
        "done": 1,
        "pending": 0,
        "overdue": 1,  # ten days on, past the campaign's seven-day deadline
        "failed": 0,
    }
    assert (rows[WEST_GRID]["failed"], rows[WEST_GRID]["rectifying"], rows[WEST_GRID]["done"]) == (1, 1, 0)
    assert rows[EAST_GRID]["grid_name"] == "第2网格"
    assert {g["grid_code"] for g in detail(client, auth, campaign["id"], "community")["grids"]} == {
        EAST_GRID,
        WEST_GRID,
    }
    east_only = detail(client, auth, campaign["id"], "worker")
    assert [g["grid_code"] for g in east_only["grids"]] == [EAST_GRID] and east_only["counts"]["total"] == 2
    # Outside the campaign's territory and unit: a 404 like a missing campaign.
    for who in ("gas1", "resident"):
        assert (
            client.get(f"/api/v1/inspections/campaigns/{campaign['id']}", headers=auth(who)).status_code
            == 404
        )

    second = launch(grid_codes=[EAST_GRID], place_types=["restaurant"], title="餐饮油烟检查")
    page = client.get("/api/v1/inspections/campaigns?page_size=1", headers=auth("handler")).get_json()
    assert (page["total"], page["pages"], [c["id"] for c in page["items"]]) == (2, 2, [second["id"]])
    page2 = client.get("/api/v1/inspections/campaigns?page_size=1&page=2", headers=auth("handler")).get_json()
    assert [c["id"] for c in page2["items"]] == [campaign["id"]] and page2["items"][0]["counts"][
        "failed"
    ] == 1
    mine = client.get("/api/v1/inspections/campaigns", headers=auth("worker2")).get_json()
    assert [c["id"] for c in mine["items"]] == [campaign["id"]]
    items = client.get(
        f"/api/v1/inspections/campaigns/{campaign['id']}/items?status=rectifying", headers=auth("supervisor")
    ).get_json()
    assert [i["place"]["code"] for i in items["items"]] == ["G1"]


def test_grid_workers_get_only_their_grids_inspections(client: FlaskClient, auth: Auth, launch: Any) -> None:
    campaign = launch(grid_codes=[COMMUNITY], place_types=None)
    instance_id = campaign["instance_id"]

    def inbox(who: str) -> set[str]:
        response = client.get("/api/v1/tasks?scope=all&page_size=100", headers=auth(who))
        assert response.status_code == 200
        codes = set()
        for task in response.get_json()["items"]:
            data = client.get(f"/api/v1/tasks/{task['id']}", headers=auth(who)).get_json()["data"]
            codes.add(data["target"]["place_code"])
        return codes

    assert inbox("worker") == {"R1", "R2"}
    assert inbox("worker2") == {"S1", "G1"}
    west = task_for(client, auth, "worker2", instance_id, "S1", "inspect")
    assert client.get(f"/api/v1/tasks/{west}", headers=auth("worker")).status_code == 404
    submit(client, auth, "worker", west, {"results": results()}, expect=404)
    assert db.session.get(HumanTask, west).status == "claimed"  # type: ignore[union-attr]


def test_inspectors_share_a_grid_by_load(
    client: FlaskClient, auth: Auth, launch: Any, create_user: Any
) -> None:
    """Two workers on the east grid: its two inspections go one to each (least loaded first)."""
    from tests.cases.territory import assign

    create_user("grid_worker", "worker3")
    assign("worker3", EAST_GRID)
    campaign = launch(grid_codes=[EAST_GRID], place_types=None)
    assert sorted(t.candidate_user for t in open_tasks(campaign["instance_id"], "inspect")) == [
        "worker",
        "worker3",
    ]


def _tasks(client: FlaskClient, auth: Auth, who: str, scope: str = "all") -> tuple[int, set[int]]:
    response = client.get(f"/api/v1/tasks?scope={scope}&page_size=100", headers=auth(who))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["total"], {task["id"] for task in body["items"]}


def test_a_handed_back_inspection_is_offered_in_its_grid_only(
    client: FlaskClient, auth: Auth, launch: Any, create_user: Any
) -> None:
    """Handed back, an inspection is offered by role to the grid workers of the place's grid (the task's
    ``grid_code``, the scope rule of case tasks), not to another grid's: it is not in their inbox, they cannot
    see or claim it. Reassigned to another grid's worker anyway, its completion is refused (422)."""
    from tests.cases.territory import assign
    from tests.helpers import fingerprint

    create_user("grid_worker", "worker3")
    assign("worker3", EAST_GRID)
    auth("worker3")
    campaign = launch(grid_codes=[EAST_GRID], place_types=["restaurant"])
    task_id = task_for(client, auth, "supervisor", campaign["instance_id"], "R1", "inspect")
    task = db.session.get(HumanTask, task_id)
    assert task is not None and task.grid_code == item_of(campaign["id"], "R1").place.grid_code
    holder = task.candidate_user
    grid_mate = ({"worker", "worker3"} - {holder}).pop()
    assert client.post(f"/api/v1/tasks/{task_id}/unclaim", headers=auth(holder)).status_code == 200

    for who in (holder, grid_mate):
        total, ids = _tasks(client, auth, who, "claimable")
        assert task_id in ids and total == len(ids)
    total, ids = _tasks(client, auth, "worker2", "claimable")
    assert task_id not in ids and total == len(ids) == 0
    assert _tasks(client, auth, "worker2")[0] == 0
    before = fingerprint()
    assert client.get(f"/api/v1/tasks/{task_id}", headers=auth("worker2")).status_code == 404
    assert client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth("worker2")).status_code == 404
    assert fingerprint() == before

    reassigned = client.post(
        f"/api/v1/tasks/{task_id}/reassign", json={"username": "worker2"}, headers=auth("supervisor")
    )
    assert reassigned.status_code == 200, reassigned.get_json()
    before = fingerprint()
    refused = submit(client, auth, "worker2", task_id, {"results": results()}, expect=422)
    assert "inspector" in refused["details"]
    assert fingerprint() == before
    back = client.post(
        f"/api/v1/tasks/{task_id}/reassign", json={"username": grid_mate}, headers=auth("supervisor")
    )
    assert back.status_code == 200, back.get_json()
    submit(client, auth, grid_mate, task_id, {"results": results()})
    assert item_of(campaign["id"], "R1").inspected_by == grid_mate
