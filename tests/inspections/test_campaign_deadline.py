"""The campaign deadline (bpmn/inspection_campaign.bpmn, ``campaign_deadline``): inspections still not done
become overdue, the launcher gets a follow-up task, and the campaign runs on until every place is done. The
timer fires only through ``scheduler.tick()`` with the injected clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.inspections.models import Campaign
from app.workflow import scheduler
from app.workflow.models import HumanTask, ProcessInstance
from tests.cases.territory import COMMUNITY, EAST_GRID, WEST_GRID
from tests.inspections.conftest import item_of, open_tasks, results
from tests.inspections.test_inspection_campaign import actions, detail, inspect_place, submit, task_for

Auth = Callable[[str], dict[str, str]]

pytestmark = pytest.mark.usefixtures("users", "territory", "deployed")


def _three_places(client: FlaskClient, auth: Auth, launch: Any) -> dict[str, Any]:
    """R1 and R2 (east grid) and S1 (west grid); R1 and S1 inspected and passed, R2 left open."""
    campaign = launch(grid_codes=[COMMUNITY], place_types=["restaurant", "shop"])
    instance_id = campaign["instance_id"]
    inspect_place(client, auth, "worker", instance_id, "R1")
    inspect_place(client, auth, "worker2", instance_id, "S1")
    return campaign


def test_deadline_marks_open_inspections_overdue_and_tells_the_launcher(
    client: FlaskClient, auth: Auth, launch: Any, clock: Any
) -> None:
    campaign = _three_places(client, auth, launch)
    instance_id, deadline = campaign["instance_id"], datetime.fromisoformat(campaign["deadline"])

    clock.set(deadline - timedelta(minutes=1))
    scheduler.tick()
    assert item_of(campaign["id"], "R2").status == "pending"
    assert "inspection.overdue" not in actions(instance_id)

    clock.set(deadline)
    scheduler.tick()
    item = item_of(campaign["id"], "R2")
    assert item.status == "overdue"
    progress = detail(client, auth, campaign["id"])
    assert progress["status"] == "running"  # the campaign runs on
    assert progress["counts"] == {
        "total": 3,
        "done": 2,
        "failed": 0,
        "rectifying": 0,
        "pending": 0,
        "overdue": 1,
    }
    rows = {g["grid_code"]: g for g in progress["grids"]}
    assert (rows[EAST_GRID]["overdue"], rows[EAST_GRID]["done"]) == (1, 1)
    assert (rows[WEST_GRID]["overdue"], rows[WEST_GRID]["done"]) == (0, 1)
    overdue_items = client.get(
        f"/api/v1/inspections/campaigns/{campaign['id']}/items?status=overdue", headers=auth("handler")
    ).get_json()
    assert [i["place"]["code"] for i in overdue_items["items"]] == ["R2"]

    events = (
        db.session.execute(
            select(AuditEvent).where(
                AuditEvent.action.in_(["inspection.overdue", "inspection.campaign_overdue"])
            )
        )
        .scalars()
        .all()
    )
    by_action = {e.action: e for e in events}
    assert len(events) == 2
    assert by_action["inspection.overdue"].entity_id == str(item.id)
    assert by_action["inspection.overdue"].before == {"status": "pending"}
    assert by_action["inspection.overdue"].after == {"status": "overdue"}
    assert by_action["inspection.campaign_overdue"].data["overdue"] == 1
    assert by_action["inspection.campaign_overdue"].data["notified"] == "handler"

    # The launcher is told: a follow-up task offered to them by name, in their inbox.
    (follow_up,) = open_tasks(instance_id, "follow_up_overdue")
    assert follow_up.candidate_user == "handler"
    inbox = client.get("/api/v1/tasks?scope=all", headers=auth("handler")).get_json()
    assert [t["id"] for t in inbox["items"]] == [follow_up.id]
    assert follow_up.id not in [
        t["id"] for t in client.get("/api/v1/tasks?scope=all", headers=auth("gas1")).get_json()["items"]
    ]
    # The overdue inspection is still offered and done as usual; the timer does not fire twice.
    r2 = task_for(client, auth, "worker", instance_id, "R2", "inspect")
    clock.advance(days=1)
    scheduler.tick()
    assert actions(instance_id).count("inspection.overdue") == 1
    submit(client, auth, "worker", r2, {"results": results()})
    assert item_of(campaign["id"], "R2").status == "passed"
    finished = db.session.get(Campaign, campaign["id"])
    assert finished is not None and finished.status == "completed"
    submit(client, auth, "handler", follow_up.id, {"note": "已催办"})
    instance = db.session.get(ProcessInstance, instance_id)
    assert instance is not None and instance.status == "completed"


def test_overdue_inspection_that_fails_gets_its_notice(
    client: FlaskClient, auth: Auth, launch: Any, clock: Any
) -> None:
    campaign = _three_places(client, auth, launch)
    clock.set(datetime.fromisoformat(campaign["deadline"]))
    scheduler.tick()
    r2 = task_for(client, auth, "worker", campaign["instance_id"], "R2", "inspect")
    submit(client, auth, "worker", r2, {"results": results("gas_alarm")})
    item = item_of(campaign["id"], "R2")
    assert item.status == "rectifying"
    notice = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "inspection.notice_issued")
    ).scalar_one()
    assert notice.before == {"status": "overdue"}
    assert detail(client, auth, campaign["id"])["counts"]["overdue"] == 0


def test_nothing_fires_when_all_is_done_before_the_deadline(
    client: FlaskClient, auth: Auth, launch: Any, clock: Any
) -> None:
    campaign = _three_places(client, auth, launch)
    instance_id = campaign["instance_id"]
    inspect_place(client, auth, "worker", instance_id, "R2")
    assert db.session.get(Campaign, campaign["id"]).status == "completed"  # type: ignore[union-attr]
    clock.set(datetime.fromisoformat(campaign["deadline"]) + timedelta(days=1))
    scheduler.tick()
    history = actions(instance_id)
    assert "inspection.overdue" not in history and "inspection.campaign_overdue" not in history
    assert (
        db.session.execute(select(HumanTask).where(HumanTask.element_id == "follow_up_overdue")).first()
        is None
    )
    assert detail(client, auth, campaign["id"])["counts"]["overdue"] == 0


def test_only_rectifications_left_at_the_deadline_tell_no_one(
    client: FlaskClient, auth: Auth, launch: Any, clock: Any
) -> None:
    """A rectification under way has its own deadline: nothing is overdue, no follow-up task."""
    campaign = launch(grid_codes=[WEST_GRID], place_types=["shop"], rectify_days=10)
    instance_id = campaign["instance_id"]
    s1 = task_for(client, auth, "worker2", instance_id, "S1", "inspect")
    submit(client, auth, "worker2", s1, {"results": results("gas_alarm")})
    clock.set(datetime.fromisoformat(campaign["deadline"]))
    scheduler.tick()
    assert item_of(campaign["id"], "S1").status == "rectifying"
    assert "inspection.campaign_overdue" in actions(instance_id)
    assert open_tasks(instance_id, "follow_up_overdue") == []
