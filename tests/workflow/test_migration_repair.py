"""A design mistake repaired by a migration (#15): a person's completion leads, after a timer, to an exclusive
gateway where no condition holds; the timer opens an incident; a designer deploys a fixed version and
migrates the errored instance; a retry (the ERROR task set back to READY and run) continues it. On SQLite
and PostgreSQL; and the command line (``flask instances migrate | undo-migration``).

The retry is the operator's, through the operations API.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.workflow import incidents, instances, scheduler
from app.workflow.models import EngineIncident, HumanTask, InstanceStatus, ProcessDefinition, TaskStatus
from tests.factories import app_on_both_backends, create_case
from tests.helpers import complete_by_id, instance, open_tasks
from tests.probes import deploy_diagram
from tests.workflow.migration_diagrams import case_handling_compatible, routed_probe

app = app_on_both_backends
pytestmark = pytest.mark.usefixtures("users", "deployed")


def _open_elements(instance_id: int) -> list[str]:
    db.session.expire_all()
    return sorted(
        db.session.execute(
            select(HumanTask.element_id).where(
                HumanTask.instance_id == instance_id, HumanTask.status.in_(TaskStatus.OPEN)
            )
        ).scalars()
    )


def _retry(client: Any, auth: Any, instance_id: int) -> None:
    """The operator's retry (operations API): the ERROR task back where it failed, the engine run on."""
    response = client.post(
        f"/api/v1/process-instances/{instance_id}/retry",
        json={"reason": "按修复后的版本重试"},
        headers=auth("admin"),
    )
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()


def _migrate_to_fixed_version(client: Any, auth: Any, instance_id: int, fixed_xml: bytes) -> Any:
    fixed = deploy_diagram("routed.bpmn", fixed_xml)[0].definition
    dry = client.post(
        "/api/v1/process-definitions/routed/migrations/dry-run",
        json={"target_version": fixed.version, "statuses": ["error"]},
        headers=auth("designer"),
    ).get_json()
    assert dry["counts"] == {"movable": 1}
    assert dry["items"][0]["changed_elements"] == {"route": ["cond_task_specs"]}  # the fixed conditions
    moved = client.post(
        f"/api/v1/process-instances/{instance_id}/migrate",
        json={"target_version": fixed.version},
        headers=auth("designer"),
    )
    assert moved.status_code == 200, moved.get_json()
    db.session.expire_all()
    return fixed


FIXED_CONDITION = 'review_decision == "approve"'
BROKEN_CONDITION = 'review_decision == "escalate"'  # approve leads nowhere


def test_a_persons_completion_into_a_broken_gateway_is_kept_then_repaired(client, auth, users):
    """#15's first done-when: the completion is committed with a 2xx, one incident at the gateway; a fixed
    version deployed, the instance migrated and retried: the case continues to the next task."""
    deploy_diagram("routed.bpmn", routed_probe(BROKEN_CONDITION, timer=False))
    started = instances.start_instance(
        "routed", business_key="probe-2", variables={}, actor=users["designer"]
    )
    db.session.commit()
    instance_id = started.instance.id
    fill = started.created_tasks[0]
    response = complete_by_id(client, auth, "supervisor", fill.id, {"review_decision": "approve"})
    assert "notice" in response  # a 2xx (checked by complete_by_id), no internals for the person
    db.session.expire_all()
    assert db.session.get(HumanTask, fill.id).status == TaskStatus.COMPLETED
    incident = incidents.open_incident_of(instance_id)
    assert incident is not None and incident.kind == "step" and incident.element_id == "route"
    assert incident.actor_id == users["supervisor"].id

    fixed = _migrate_to_fixed_version(client, auth, instance_id, routed_probe(FIXED_CONDITION, timer=False))
    row = db.session.get(type(started.instance), instance_id)
    assert row.definition_id == fixed.id and row.status == InstanceStatus.ERROR

    _retry(client, auth, instance_id)
    assert _open_elements(instance_id) == ["after"]
    resolved = db.session.get(EngineIncident, incident.id)
    assert resolved.resolution == "retried" and resolved.resolved_at is not None


def test_an_errored_instance_is_repaired_by_migrating_it_to_a_fixed_version(client, auth, clock, users):
    deploy_diagram("routed.bpmn", routed_probe(BROKEN_CONDITION))
    started = instances.start_instance(
        "routed", business_key="probe-1", variables={}, actor=users["designer"]
    )
    db.session.commit()
    instance_id = started.instance.id
    fill = started.created_tasks[0]
    complete_by_id(client, auth, "supervisor", fill.id, {"review_decision": "approve"})
    assert db.session.get(HumanTask, fill.id).status == TaskStatus.COMPLETED  # the person's step is kept

    clock.advance(timedelta(hours=1, seconds=1))
    assert scheduler.tick() == 1  # the timer fires, the gateway finds no true condition: an incident
    db.session.expire_all()
    incident = incidents.open_incident_of(instance_id)
    assert incident is not None and incident.kind == "timer" and incident.element_id == "route"
    assert db.session.get(type(started.instance), instance_id).status == InstanceStatus.ERROR
    assert (
        "route"
        in instances.instance_state(db.session.get(type(started.instance), instance_id))["active_element_ids"]
    )

    fixed = _migrate_to_fixed_version(client, auth, instance_id, routed_probe(FIXED_CONDITION))
    assert fixed.version == 2
    row = db.session.get(type(started.instance), instance_id)
    assert row.definition_id == fixed.id
    assert row.status == InstanceStatus.ERROR  # a migration does not resolve the incident
    assert db.session.get(EngineIncident, incident.id).resolved_at is None

    _retry(client, auth, instance_id)
    assert _open_elements(instance_id) == ["after"]  # the case continues to the next task
    after = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.element_id == "after")
    ).scalar_one()
    complete_by_id(client, auth, "supervisor", after.id, {"review_decision": "approve"})
    db.session.expire_all()
    assert db.session.get(type(started.instance), instance_id).status == InstanceStatus.COMPLETED
    assert db.session.get(EngineIncident, incident.id).resolution == "retried"


def test_the_command_line_dry_runs_migrates_and_undoes_a_batch(app, client, auth):
    keys = [create_case(client, auth, "handle") for _ in range(2)]
    deploy_diagram("case_handling.bpmn", case_handling_compatible())
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["instances", "migrate", "case_handling", "--to", "2", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "movable 2" in dry.output

    moved = runner.invoke(args=["instances", "migrate", "case_handling", "--to", "2", "--as", "admin"])
    assert moved.exit_code == 0, moved.output
    assert "migrated 2" in moved.output
    db.session.expire_all()
    versions = {db.session.get(ProcessDefinition, instance(key).definition_id).version for key in keys}
    assert versions == {2}
    batch_id = moved.output.split("batch ")[1].split()[0]

    undone = runner.invoke(args=["instances", "undo-migration", "--batch", batch_id])
    assert undone.exit_code == 0, undone.output
    assert "undone 2" in undone.output
    db.session.expire_all()
    assert {db.session.get(ProcessDefinition, instance(key).definition_id).version for key in keys} == {1}
    assert [t.element_id for t in open_tasks(keys[0])] == ["handle"]

    nobody = runner.invoke(args=["instances", "migrate", "case_handling", "--to", "2", "--as", "worker"])
    assert nobody.exit_code == 2 and "needs an admin or a designer" in nobody.output
