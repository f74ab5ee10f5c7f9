"""Emergencies started before the child layout (their responders as the branches of one multi-instance
activity: the diagram of that time is tests/fixtures/pre_children/emergency_escalation.bpmn) are converted
by the Alembic migration ``*_children`` (app/workflow/relayout.py): a child instance per responder still
out with the same waiting task, due time and escalation, the human tasks re-pointed, the join counting the
ones left; the rest of the emergency then runs to its end through the API. An instance that cannot be
converted stops the migration with its id and nothing converted. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.clock import as_utc
from app.emergency.models import EmergencyResponder, ResponderStatus
from app.extensions import db
from app.workflow import deploy, operations, operators, relayout
from app.workflow.models import (
    HumanTask,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    ProcessJoin,
    TaskStatus,
)
from app.workflow.operators import Operator
from tests.emergency.conftest import complete_task, emergency, launch, report_in, task_for
from tests.factories import app_on_both_backends
from tests.helpers import case_row, fingerprint, fire_next_timer, instance, open_ids, report
from tests.test_migrations import revision_before

app = app_on_both_backends
pytestmark = pytest.mark.usefixtures("territory")

OLD_DIAGRAM = Path(__file__).parents[1] / "fixtures" / "pre_children" / "emergency_escalation.bpmn"
MIGRATIONS = str(Path(__file__).parents[2] / "migrations")
CHILDREN = "c7d8e9f0a1b2"  # the revision converting running instances to the child layout


BEFORE_CHILDREN = revision_before(CHILDREN)


@pytest.fixture
def deployed(app: Any) -> None:
    """Only the diagram of before the child layout (the rest of bpmn/ is deployed by the test, later)."""
    rules = current_app.extensions["gridcase.deploy_rules"]()
    deploy.deploy_file("emergency_escalation.bpmn", OLD_DIAGRAM.read_bytes(), rules)
    db.session.commit()


def _deploy_current() -> None:
    from tests.probes import deploy_bpmn_folder

    deploy_bpmn_folder()


def _old_emergency(client: Any, auth: Any, clock: Any) -> str:
    """Gas reported in; property missed its 5 minutes (the community summoned, a new limit); fire and police
    still out."""
    key = launch(client, auth)["case_key"]
    report_in(client, auth, key, "gas")
    fire_next_timer(clock, key)
    assert instance(key).definition.version == 1
    assert open_ids(key) == ["declare_control", *["emergency_report_in"] * 3, "urge_community"]
    return key


def _children(parent_id: int) -> list[ProcessInstance]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(ProcessInstance).where(ProcessInstance.parent_id == parent_id).order_by(ProcessInstance.id)
        ).scalars()
    )


def _open_tasks(key: str) -> dict[int, tuple[str, str | None, Any]]:
    db.session.expire_all()
    return {
        t.id: (t.element_id, t.candidate_group, t.due_at and as_utc(t.due_at))
        for t in db.session.execute(
            select(HumanTask).where(
                HumanTask.case_id == case_row(key).id, HumanTask.status.in_(TaskStatus.OPEN)
            )
        ).scalars()
    }


def _responder(unit: str) -> tuple[str, str, int]:
    db.session.expire_all()
    row = db.session.execute(
        select(EmergencyResponder).where(EmergencyResponder.unit_code == unit)
    ).scalar_one()
    return row.status, row.level, row.misses


def _finish_through_the_api(client: Any, auth: Any, key: str) -> None:
    for unit in ("fire", "property", "police"):
        report_in(client, auth, key, unit)
    assert open_ids(key) == ["declare_control"]  # the join's message reached the emergency
    complete_task(client, auth, "dispatcher", task_for(key, "declare_control"), {"control_note": "已控制"})
    complete_task(client, auth, "dispatcher", task_for(key, "close_emergency"), {"close_note": "恢复正常"})
    review = {"cause": "软管老化", "timeline_summary": "全部报到", "improvements": "排查软管"}
    complete_task(client, auth, "supervisor", task_for(key, "review_emergency"), review)


def test_a_running_emergency_is_converted_and_runs_to_its_end(client: Any, auth: Any, clock: Any) -> None:
    key = _old_emergency(client, auth, clock)
    tasks_before = _open_tasks(key)
    property_due = task_for(key, "emergency_report_in", unit="property").due_at
    _deploy_current()

    report = relayout.convert_all()
    db.session.commit()

    parent = instance(key)
    assert report.converted == [parent.id] and report.children == 3
    assert parent.definition.version == 2 and parent.status == InstanceStatus.RUNNING
    children = _children(parent.id)
    assert [c.process_key for c in children] == ["emergency_responder"] * 3
    assert {c.case_id for c in children} == {parent.case_id}
    join = db.session.execute(select(ProcessJoin)).scalar_one()
    assert (join.parent_id, join.total, join.pending) == (parent.id, 4, 3)
    assert _open_tasks(key) == tasks_before  # the same rows, names, groups and due times
    out = ("emergency_report_in", "urge_community")
    on_children = db.session.execute(
        select(HumanTask.instance_id).where(
            HumanTask.element_id.in_(out), HumanTask.status.in_(TaskStatus.OPEN)
        )
    ).scalars()
    assert set(on_children) <= {c.id for c in children}
    assert task_for(key, "declare_control").instance_id == parent.id
    property_child = task_for(key, "emergency_report_in", unit="property").instance_id
    assert task_for(key, "urge_community").instance_id == property_child  # its escalation went with it
    timers = {c.id: as_utc(c.next_timer_at) for c in children}
    assert timers[property_child] == as_utc(property_due)
    relayout_events = (
        db.session.execute(select(AuditEvent).where(AuditEvent.action == "instance.relayout")).scalars().all()
    )
    assert [(e.instance_id, e.data["branches"], e.data["finished"]) for e in relayout_events] == [
        (parent.id, 4, 1)
    ]

    _finish_through_the_api(client, auth, key)
    assert instance(key).status == InstanceStatus.COMPLETED
    assert case_row(key).status == "closed"
    assert [c.status for c in _children(parent.id)] == [InstanceStatus.COMPLETED] * 3
    shown = emergency(client, auth, key)
    assert shown["counts"] == {"pending": 0, "acknowledged": 4, "missed": 0}
    assert _responder("property") == (ResponderStatus.ACKNOWLEDGED, "community", 1)
    assert db.session.execute(select(func.count()).select_from(ProcessJoin)).scalar_one() == 0


def test_the_alembic_migration_converts_and_a_timer_goes_on_in_the_child(
    client: Any, auth: Any, clock: Any
) -> None:
    key = _old_emergency(client, auth, clock)
    _deploy_current()
    db.session.remove()  # SQLite: the migration's connection writes
    downgrade(directory=MIGRATIONS, revision=BEFORE_CHILDREN)
    upgrade(directory=MIGRATIONS)
    db.session.remove()

    parent = instance(key)
    assert parent.definition.version == 2 and len(_children(parent.id)) == 3
    fire_next_timer(clock, key)  # fire's first and property's second limit pass, each in its child
    assert _responder("fire") == (ResponderStatus.PENDING, "community", 1)
    assert _responder("property") == (ResponderStatus.PENDING, "street", 2)
    assert "urge_street" in open_ids(key)
    _finish_through_the_api(client, auth, key)
    assert instance(key).status == InstanceStatus.COMPLETED


def _fails(call: Any) -> Any:
    raise RuntimeError("单位库不可用")


def test_an_emergency_whose_responder_is_parked_stops_the_migration(
    client: Any, auth: Any, clock: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    key = launch(client, auth)["case_key"]
    with monkeypatch.context() as patched:
        patched.setitem(
            operators._registry,
            "emergency.report_in_missed",
            Operator("emergency.report_in_missed", _fails, "fails"),
        )
        fire_next_timer(clock, key)  # property's miss fails inside its branch: an incident
    parent_id = instance(key).id
    assert instance(key).status == InstanceStatus.ERROR
    _deploy_current()
    before = fingerprint()

    with pytest.raises(relayout.CannotConvert) as refused:
        relayout.convert_all()
    db.session.rollback()
    assert refused.value.blocked == [(parent_id, "1 branch(es) of 'responder_round' parked with an incident")]
    assert f"process instance {parent_id}" in str(refused.value)
    assert fingerprint() == before  # nothing converted
    db.session.remove()  # SQLite: the migration's connection writes
    downgrade(directory=MIGRATIONS, revision=BEFORE_CHILDREN)
    with pytest.raises(SystemExit):  # flask db upgrade: the message, exit status 1
        upgrade(directory=MIGRATIONS)
    assert f"process instance {parent_id}: 1 branch(es)" in capfd.readouterr().err
    db.session.remove()
    assert instance(key).definition.version == 1

    # The way out: leave it on its version (it runs on as before).
    monkeypatch.setenv("GRIDCASE_KEEP_OLD_LAYOUT", str(parent_id))
    db.session.remove()
    upgrade(directory=MIGRATIONS)
    db.session.remove()
    assert instance(key).definition.version == 1
    assert _children(parent_id) == []
    responder_versions = select(func.count()).where(ProcessDefinition.key == "emergency_responder")
    assert db.session.execute(responder_versions).scalar_one() == 1

    # Later, repaired: flask converts it.
    runner = current_app.test_cli_runner()
    listed = runner.invoke(args=["instances", "children-layout"])
    assert f"#{parent_id} emergency_escalation: blocked (4 of 4 branches open)" in listed.output
    operations.retry(parent_id, None, "单位库已恢复")
    db.session.commit()
    applied = runner.invoke(args=["instances", "children-layout", "--apply"])
    assert applied.exit_code == 0, applied.output
    assert "converted 1 (4 child instances)" in applied.output
    assert instance(key).definition.version == 2
    report_in(client, auth, key, "gas")
    _finish_through_the_api(client, auth, key)
    assert instance(key).status == InstanceStatus.COMPLETED


def test_an_emergency_not_yet_fanned_out_moves_to_the_new_version(client: Any, auth: Any) -> None:
    key = report(client, auth, title="路面塌陷", category_code="E0401", severity="red")["key"]
    assert open_ids(key) == ["assess"] and instance(key).definition.version == 1
    _deploy_current()

    done = relayout.convert_all()
    db.session.commit()

    parent = instance(key)
    assert done.migrated == [parent.id] and done.converted == []
    assert parent.definition.version == 2
    assert db.session.execute(
        select(AuditEvent.action).where(AuditEvent.action == "instance.migrated")
    ).scalars().all() == ["instance.migrated"]  # fmt: skip
    units = {"responder_units": ["district_bureau", "police"], "report_in_minutes": 5}
    complete_task(client, auth, "dispatcher", task_for(key, "assess"), units)
    assert [c.process_key for c in _children(parent.id)] == ["emergency_responder"] * 2  # the new layout


class Crash(BaseException):
    """The migrating process killed half-way: nothing on the way catches it."""


def test_an_upgrade_killed_half_way_converts_nothing(
    client: Any, auth: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _old_emergency(client, auth, clock)
    _deploy_current()
    db.session.remove()
    downgrade(directory=MIGRATIONS, revision=BEFORE_CHILDREN)
    before = fingerprint()
    db.session.remove()
    adopt, calls = relayout._adopt, []

    def dies_at_the_second(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise Crash()
        adopt(*args, **kwargs)

    monkeypatch.setattr(relayout, "_adopt", dies_at_the_second)
    with pytest.raises(Crash):
        upgrade(directory=MIGRATIONS)
    db.session.remove()
    assert len(calls) == 2  # one child was made
    assert fingerprint() == before  # and is gone with the rest: the instance as it was, the revision too
    assert instance(key).definition.version == 1 and _children(instance(key).id) == []


def test_a_suspended_emergency_gets_suspended_children_that_resume_with_it(
    client: Any, auth: Any, clock: Any
) -> None:
    key = _old_emergency(client, auth, clock)
    parent_id = instance(key).id
    operations.suspend(parent_id, None, "核实预案")
    db.session.commit()
    _deploy_current()

    relayout.convert_all()
    db.session.commit()

    assert instance(key).status == InstanceStatus.SUSPENDED
    assert [c.status for c in _children(parent_id)] == [InstanceStatus.SUSPENDED] * 3
    operations.resume(parent_id, None, "继续")
    db.session.commit()
    assert [c.status for c in _children(parent_id)] == [InstanceStatus.RUNNING] * 3
    _finish_through_the_api(client, auth, key)
    assert instance(key).status == InstanceStatus.COMPLETED
