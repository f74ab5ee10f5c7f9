"""A campaign started before places ran as child instances (its places as the branches of one multi-instance
sub-process: tests/fixtures/pre_children/inspection_campaign.bpmn) is converted by the migration's
``relayout.convert_all``: a place waiting for its rectification deadline keeps its timer in its own child,
an open inspection keeps its task, a passed place counts as done in the join; the campaign then finishes
with every result. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import current_app
from flask.testing import FlaskClient
from sqlalchemy import select

from app.clock import as_utc
from app.extensions import db
from app.inspections.models import ItemStatus
from app.workflow import deploy, relayout, scheduler
from app.workflow.models import HumanTask, InstanceStatus, ProcessInstance, ProcessJoin
from tests.cases.territory import EAST_GRID, WEST_GRID
from tests.helpers import complete_by_id as submit
from tests.inspections.conftest import item_of, open_tasks, results
from tests.inspections.test_inspection_campaign import inspect_place, task_for

pytestmark = pytest.mark.usefixtures("users", "territory", "deployed")

OLD_DIAGRAM = Path(__file__).parents[1] / "fixtures" / "pre_children" / "inspection_campaign.bpmn"


@pytest.fixture
def deployed(app: Any) -> None:
    """Only the campaign diagram of before the child layout (the current one is deployed by the test)."""
    rules = current_app.extensions["gridcase.deploy_rules"]()
    deploy.deploy_file("inspection_campaign.bpmn", OLD_DIAGRAM.read_bytes(), rules)
    db.session.commit()


def _instance(instance_id: int) -> ProcessInstance:
    db.session.expire_all()
    found = db.session.get(ProcessInstance, instance_id)
    assert found is not None
    return found


def test_a_running_campaign_is_converted_and_finishes_with_every_result(
    client: FlaskClient, auth: Any, launch: Any, clock: Any
) -> None:
    campaign = launch(place_types=["restaurant", "shop"], grid_codes=[EAST_GRID, WEST_GRID])  # R1 R2 S1
    parent_id = campaign["instance_id"]
    assert _instance(parent_id).definition.version == 1
    inspect_place(client, auth, "worker", parent_id, "R1")  # passed: this branch is done
    inspect_place(client, auth, "worker2", parent_id, "S1", "fire_extinguisher")  # waits to be rectified
    rectify_due = as_utc(item_of(campaign["id"], "S1").rectify_due_at)
    r2_task = task_for(client, auth, "worker", parent_id, "R2", "inspect")
    from tests.probes import deploy_bpmn_folder

    deploy_bpmn_folder()

    report = relayout.convert_all()
    db.session.commit()

    assert report.converted == [parent_id] and report.children == 2
    assert _instance(parent_id).definition.version == 2
    children = list(
        db.session.execute(select(ProcessInstance).where(ProcessInstance.parent_id == parent_id)).scalars()
    )
    assert sorted(c.process_key for c in children) == ["inspection_place"] * 2
    join = db.session.execute(select(ProcessJoin)).scalar_one()
    assert (join.total, join.pending) == (3, 2)
    task = db.session.get(HumanTask, r2_task)
    assert task is not None and task.instance_id in {c.id for c in children}  # the same task, re-pointed
    assert rectify_due in {as_utc(c.next_timer_at) for c in children if c.next_timer_at}  # S1's timer kept

    submit(client, auth, "worker", r2_task, {"results": results()})
    assert _instance(parent_id).status == InstanceStatus.RUNNING  # S1 still to be re-inspected
    clock.set(rectify_due + timedelta(minutes=1))
    scheduler.tick()
    (reinspect,) = open_tasks(parent_id, "reinspect")
    submit(client, auth, "worker2", reinspect.id, {"results": results()})

    assert _instance(parent_id).status == InstanceStatus.COMPLETED  # the campaign finished
    assert {code: item_of(campaign["id"], code).status for code in ("R1", "R2", "S1")} == {
        "R1": ItemStatus.PASSED,
        "R2": ItemStatus.PASSED,
        "S1": ItemStatus.PASSED,
    }
    assert db.session.execute(select(ProcessJoin)).first() is None
