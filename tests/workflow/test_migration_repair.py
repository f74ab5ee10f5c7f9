"""A design mistake repaired by a migration (#15): a person's completion leads, after a timer, to an exclusive
gateway where no condition holds; the timer opens an incident; a designer deploys a fixed version and
migrates the errored instance; a retry (the ERROR task set back to READY and run) continues it. On SQLite
and PostgreSQL; and the command line (``flask instances migrate | undo-migration``).

The retry here is a small helper through ``instances`` and ``incidents`` (the operations helper's
``operations.retry`` is not in this branch): it does what the incidents contract says a retry is.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from app.extensions import db
from app.workflow import incidents, instances, scheduler
from app.workflow.engine import EngineError
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


def _keep_failing_task_in_error(instance_id: int) -> None:
    """The incidents contract: the stored state is what SpiffWorkflow left after the failure, the failing
    task in ERROR. Today a timer failure rolls back to the state before the timer fired; this runs that
    state once more so the gateway fails in memory, and stores it (a no-op once the incidents helper
    stores the failed state itself)."""
    row = instances.lock_instance(instance_id)
    engine = instances.restored_engine(row.definition_id, row.state)
    with contextlib.suppress(EngineError):  # the failure leaves the gateway in ERROR: the state to keep
        engine.run()
    instances.persist_replaced_state(row, engine, None)
    db.session.commit()


def _retry(instance_id: int, actor: Any) -> None:
    """What a retry is: the ERROR task set back to READY, the engine run, the incident resolved."""
    row = instances.lock_instance(instance_id)
    engine = instances.restored_engine(row.definition_id, row.state)
    for task in engine._workflow.get_tasks(state=TaskState.ERROR):
        task._set_state(TaskState.READY)
    engine.run()
    incident = incidents.open_incident_of(instance_id)
    assert incident is not None
    incidents.resolve_incident(incident, row, resolution="retried", actor=actor)
    instances.persist_replaced_state(row, engine, actor)
    db.session.commit()


def test_an_errored_instance_is_repaired_by_migrating_it_to_a_fixed_version(client, auth, clock, users):
    deploy_diagram("routed.bpmn", routed_probe('review_decision == "escalate"'))  # approve leads nowhere
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
    _keep_failing_task_in_error(instance_id)
    assert (
        "route"
        in instances.instance_state(db.session.get(type(started.instance), instance_id))["active_element_ids"]
    )

    fixed = deploy_diagram("routed.bpmn", routed_probe('review_decision == "approve"'))[0].definition
    assert fixed.version == 2
    dry = client.post(
        "/api/v1/process-definitions/routed/migrations/dry-run",
        json={"target_version": 2, "statuses": ["error"]},
        headers=auth("designer"),
    ).get_json()
    assert dry["counts"] == {"movable": 1}
    assert dry["items"][0]["changed_elements"] == {"route": ["cond_task_specs"]}  # the fixed conditions
    moved = client.post(
        f"/api/v1/process-instances/{instance_id}/migrate",
        json={"target_version": 2},
        headers=auth("designer"),
    )
    assert moved.status_code == 200, moved.get_json()
    db.session.expire_all()
    row = db.session.get(type(started.instance), instance_id)
    assert row.definition_id == fixed.id
    assert row.status == InstanceStatus.ERROR  # a migration does not resolve the incident
    assert db.session.get(EngineIncident, incident.id).resolved_at is None

    _retry(instance_id, users["admin"])
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
