"""Migrating running instances to another version (#15 item 3), through the API, on SQLite and PostgreSQL:
dry run, batch, a refused instance with its reason, undo, roles, and an errored instance repaired by a
migration to a fixed version."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import as_utc
from app.extensions import db
from app.workflow import incidents, instances, migration_undo
from app.workflow.migration_models import InstanceMigration
from app.workflow.models import EngineIncident, HumanTask, InstanceStatus, ProcessDefinition, TaskStatus
from tests.factories import app_on_both_backends, create_case
from tests.helpers import complete, fire_next_timer, handle_and_prove, instance, open_tasks, upload_photo
from tests.probes import deploy_diagram
from tests.workflow.migration_diagrams import (
    case_handling_compatible,
    case_handling_handle_as_manual_task,
    case_handling_warning_at_the_limit,
    case_handling_without_photo_proof,
    case_handling_without_warning,
    case_handling_without_withdrawal,
)

app = app_on_both_backends
pytestmark = pytest.mark.usefixtures("users", "deployed")

KEY = "case_handling"


def _deploy_v2(content: bytes) -> ProcessDefinition:
    definition: ProcessDefinition = deploy_diagram("case_handling.bpmn", content)[0].definition
    assert definition.version == 2
    return definition


def _post(client: Any, auth: Any, who: str, url: str, body: dict[str, Any] | None = None, **kw: Any) -> Any:
    response = client.post(url, json=body or {}, headers={**auth(who), **kw.pop("headers", {})})
    db.session.expire_all()
    return response


def _version(case_key: str) -> int:
    return db.session.get(ProcessDefinition, instance(case_key).definition_id).version


def _open(case_key: str) -> list[tuple[int, str, str]]:
    return [(t.id, t.element_id, t.spiff_task_id) for t in open_tasks(case_key)]


def _events(action: str) -> list[AuditEvent]:
    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


# -- dry run and batch ---------------------------------------------------------------------------------


def test_dry_run_then_batch_migration_and_the_cases_go_on_on_the_new_version(client, auth):
    at_handle = [create_case(client, auth, "handle") for _ in range(2)]
    at_dispatch = create_case(client, auth, "dispatch")
    before = {key: _open(key) for key in [*at_handle, at_dispatch]}
    timers = {key: instance(key).next_timer_at for key in at_handle}
    _deploy_v2(case_handling_compatible())

    dry = _post(
        client, auth, "admin", f"/api/v1/process-definitions/{KEY}/migrations/dry-run", {"target_version": 2}
    )
    assert dry.status_code == 200, dry.get_json()
    body = dry.get_json()
    assert body["total"] == 3 and body["counts"] == {"movable": 3}
    by_id = {item["instance_id"]: item for item in body["items"]}
    handle_item = by_id[instance(at_handle[0]).id]
    assert handle_item["from_version"] == 1 and handle_item["to_version"] == 2
    assert handle_item["message"] == "可以迁移到 v2"
    assert "handle" in handle_item["active_element_ids"]
    assert "bpmn_name" in handle_item["changed_elements"]["handle"]
    # the dry run changed nothing
    assert all(_version(key) == 1 for key in [*at_handle, at_dispatch])
    assert _events("instance.migrated") == []

    moved = _post(
        client, auth, "admin", f"/api/v1/process-definitions/{KEY}/migrations", {"target_version": 2}
    )
    assert moved.status_code == 200, moved.get_json()
    result = moved.get_json()
    assert result["counts"] == {"migrated": 3} and result["next_after_id"] is None and result["batch_id"]
    for key in [*at_handle, at_dispatch]:
        assert _version(key) == 2
        assert _open(key) == before[key]  # same open tasks, same ids
    for key in at_handle:
        assert instance(key).next_timer_at == timers[key]  # the handling timers kept their due time
        assert open_tasks(key)[0].name == "现场处置"  # the new label on the same task row
    events = _events("instance.migrated")
    assert len(events) == 3
    assert events[0].before["version"] == 1 and events[0].after["version"] == 2
    assert events[0].data["batch_id"] == result["batch_id"]
    assert db.session.execute(select(InstanceMigration)).scalars().all().__len__() == 3

    # the cases go on on the new version: handle, proof (then the added script task), review
    first = at_handle[0]
    handle_and_prove(client, auth, "worker", first)
    assert [t.element_id for t in open_tasks(first)] == ["review"]
    completed = instances.instance_state(instance(first))["completed_element_ids"]
    assert "note_proof" in completed
    complete(
        client, auth, "dispatcher", at_dispatch, "dispatch", {"handler_user": "worker", "time_limit_hours": 8}
    )
    assert [t.element_id for t in open_tasks(at_dispatch)] == ["handle"]


def test_batch_pages_by_after_id(client, auth):
    keys = [create_case(client, auth) for _ in range(3)]  # each waits at triage
    _deploy_v2(case_handling_compatible())
    url = f"/api/v1/process-definitions/{KEY}/migrations"
    first = _post(client, auth, "admin", url, {"target_version": 2, "limit": 2}).get_json()
    assert first["total"] == 3 and first["counts"] == {"migrated": 2} and first["next_after_id"] is not None
    second = _post(
        client,
        auth,
        "admin",
        url,
        {"target_version": 2, "limit": 2, "after_id": first["next_after_id"], "batch_id": first["batch_id"]},
    ).get_json()
    assert second["counts"] == {"migrated": 1} and second["next_after_id"] is None
    assert second["batch_id"] == first["batch_id"]
    assert all(_version(key) == 2 for key in keys)


def test_an_instance_at_a_removed_element_is_refused_with_its_reason(client, auth):
    at_proof = create_case(client, auth, "photo_proof")
    at_handle = create_case(client, auth, "handle")
    at_review = create_case(client, auth, "review")
    _deploy_v2(case_handling_without_photo_proof())
    proof_before, handle_before = instance(at_proof), _open(at_handle)
    state_before = proof_before.state

    dry = _post(
        client, auth, "admin", f"/api/v1/process-definitions/{KEY}/migrations/dry-run", {"target_version": 2}
    )
    items = {item["instance_id"]: item for item in dry.get_json()["items"]}
    refused = items[proof_before.id]
    assert refused["code"] == "active_removed" and refused["element_id"] == "photo_proof"
    assert refused["message"] == "当前所在环节「处置反馈(照片)」(photo_proof)在 v2 中已不存在"
    assert items[instance(at_review).id]["code"] == "history_removed"
    assert items[instance(at_handle).id]["code"] == "movable"
    english = _post(
        client,
        auth,
        "admin",
        f"/api/v1/process-definitions/{KEY}/migrations/dry-run",
        {"target_version": 2, "instance_ids": [proof_before.id]},
        headers={"Accept-Language": "en"},
    ).get_json()["items"][0]
    assert english["message"] == "its active element '处置反馈(照片)' (photo_proof) no longer exists in v2"

    moved = _post(
        client, auth, "admin", f"/api/v1/process-definitions/{KEY}/migrations", {"target_version": 2}
    )
    assert moved.get_json()["counts"] == {"migrated": 1, "active_removed": 1, "history_removed": 1}
    assert _version(at_proof) == 1 and instance(at_proof).state == state_before  # untouched
    assert _version(at_handle) == 2 and _open(at_handle) == handle_before
    # the moved one skips the removed proof: handling ends after handle, review is next
    complete(
        client,
        auth,
        "worker",
        at_handle,
        "handle",
        {"handle_result": "resolved", "handle_description": "已清"},
    )
    assert [t.element_id for t in open_tasks(at_handle)] == ["review"]
    # one instance: 409 with the reason
    single = _post(
        client, auth, "admin", f"/api/v1/process-instances/{proof_before.id}/migrate", {"target_version": 2}
    )
    assert single.status_code == 409
    assert single.get_json()["details"]["reason"] == "active_removed"
    assert single.get_json()["details"]["element_id"] == "photo_proof"


# -- undo ----------------------------------------------------------------------------------------------


def _migrate_one(client: Any, auth: Any, key: str) -> int:
    response = _post(
        client, auth, "admin", f"/api/v1/process-instances/{instance(key).id}/migrate", {"target_version": 2}
    )
    assert response.status_code == 200, response.get_json()
    return int(response.get_json()["migration_id"])


def test_undo_restores_the_previous_version_and_state(client, auth):
    key = create_case(client, auth, "handle")
    state, tasks = instance(key).state, _open(key)
    _deploy_v2(case_handling_compatible())
    migration_id = _migrate_one(client, auth, key)
    assert _version(key) == 2 and open_tasks(key)[0].name == "现场处置"

    undone = _post(client, auth, "admin", f"/api/v1/instance-migrations/{migration_id}/undo")
    assert undone.status_code == 200, undone.get_json()
    assert undone.get_json()["code"] == "undone" and undone.get_json()["from_version"] == 1
    assert _version(key) == 1 and _open(key) == tasks
    assert open_tasks(key)[0].name == "处置"
    assert instances.restored_engine(instance(key).definition_id, instance(key).state).dump() == state
    event = _events("instance.migration_undone")[0]
    assert event.before["version"] == 2 and event.after["version"] == 1
    again = _post(client, auth, "admin", f"/api/v1/instance-migrations/{migration_id}/undo")
    assert again.status_code == 409 and again.get_json()["details"]["reason"] == "already_undone"
    # and the case goes on on version 1
    handle_and_prove(client, auth, "worker", key)
    assert "note_proof" not in instances.instance_state(instance(key))["completed_element_ids"]


def test_undo_is_refused_after_a_step_or_after_its_time(client, auth, clock):
    stepped, waited = create_case(client, auth, "handle"), create_case(client, auth, "handle")
    _deploy_v2(case_handling_compatible())
    stepped_id, waited_id = _migrate_one(client, auth, stepped), _migrate_one(client, auth, waited)
    complete(
        client, auth, "worker", stepped, "handle", {"handle_result": "resolved", "handle_description": "已清"}
    )
    response = _post(client, auth, "admin", f"/api/v1/instance-migrations/{stepped_id}/undo")
    assert response.status_code == 409
    assert response.get_json()["details"]["reason"] == "stepped"
    assert "无法撤销" in response.get_json()["message"]
    assert _version(stepped) == 2

    clock.advance(timedelta(hours=24, minutes=1))  # MIGRATION_UNDO_HOURS defaults to 24
    assert migration_undo.expire_undo_states() == 2  # the scheduler's round drops the kept states
    db.session.commit()
    response = _post(client, auth, "admin", f"/api/v1/instance-migrations/{waited_id}/undo")
    assert response.status_code == 409 and response.get_json()["details"]["reason"] == "expired"
    assert _version(waited) == 2


def test_a_batch_is_undone_at_once(client, auth):
    keys = [create_case(client, auth, "dispatch") for _ in range(2)]
    _deploy_v2(case_handling_compatible())
    batch = _post(
        client, auth, "admin", f"/api/v1/process-definitions/{KEY}/migrations", {"target_version": 2}
    )
    undone = _post(client, auth, "admin", f"/api/v1/migration-batches/{batch.get_json()['batch_id']}/undo")
    assert undone.status_code == 200, undone.get_json()
    assert undone.get_json()["counts"] == {"undone": 2}
    assert all(_version(key) == 1 for key in keys)


# -- roles ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["worker", "resident", "dispatcher", "supervisor"])
def test_people_who_are_not_admins_or_designers_get_403(client, auth, who):
    key = create_case(client, auth, "handle")
    _deploy_v2(case_handling_compatible())
    migration_id = _migrate_one(client, auth, key)
    instance_id = instance(key).id
    for url, body in [
        (f"/api/v1/process-definitions/{KEY}/migrations/dry-run", {"target_version": 2}),
        (f"/api/v1/process-definitions/{KEY}/migrations", {"target_version": 2}),
        (f"/api/v1/process-instances/{instance_id}/migrate", {"target_version": 2}),
        (f"/api/v1/instance-migrations/{migration_id}/undo", None),
    ]:
        assert _post(client, auth, who, url, body).status_code == 403, url
    assert (
        client.get(f"/api/v1/process-instances/{instance_id}/migrations", headers=auth(who)).status_code
        == 403
    )
    assert _version(key) == 2


def test_designers_migrate_only_instances_without_a_case(client, auth):
    key = create_case(client, auth, "handle")
    _deploy_v2(case_handling_compatible())
    case_instance = instance(key).id
    single = _post(
        client, auth, "designer", f"/api/v1/process-instances/{case_instance}/migrate", {"target_version": 2}
    )
    assert single.status_code == 403
    batch = _post(
        client, auth, "designer", f"/api/v1/process-definitions/{KEY}/migrations", {"target_version": 2}
    )
    assert batch.get_json()["counts"] == {"forbidden": 1}
    assert "流程设计员只能迁移不属于案件的实例" in batch.get_json()["items"][0]["message"]
    assert _version(key) == 1


def test_unknown_version_and_unknown_fields(client, auth):
    create_case(client, auth, "handle")
    url = f"/api/v1/process-definitions/{KEY}/migrations/dry-run"
    assert _post(client, auth, "admin", url, {"target_version": 9}).status_code == 404
    assert _post(client, auth, "admin", url, {"target_version": 1, "colour": "red"}).status_code == 422
    assert (
        _post(client, auth, "admin", url, {"target_version": 1, "statuses": ["completed"]}).status_code == 422
    )


# -- the open tasks of a migrated instance ---------------------------------------------------------------


def test_a_claimed_task_keeps_its_holder_and_the_instance_its_history(client, auth):
    key = create_case(client, auth, "photo_proof")
    upload_photo(client, auth, "worker", key)
    task = open_tasks(key)[0]
    assert task.status == TaskStatus.CLAIMED
    _deploy_v2(case_handling_compatible())
    _migrate_one(client, auth, key)
    same = db.session.get(HumanTask, task.id)
    assert same.status == TaskStatus.CLAIMED and same.assignee_id == task.assignee_id
    completed = instances.instance_state(instance(key))["completed_element_ids"]
    assert {"triage", "dispatch", "handle"} <= set(completed)


def test_an_errored_instance_can_be_migrated_and_keeps_its_incident(client, auth):
    key = create_case(client, auth, "handle")
    row = instance(key)
    instances.mark_failed(row.id, "timer", "boom", "timer_warn")
    db.session.commit()
    _deploy_v2(case_handling_compatible())
    _migrate_one(client, auth, key)
    assert _version(key) == 2 and instance(key).status == InstanceStatus.ERROR
    assert incidents.open_incident_of(row.id) is not None
    assert db.session.execute(select(EngineIncident.resolved_at)).scalar_one() is None


def test_the_kept_timers_fire_after_migration(client, auth, clock):
    key = create_case(client, auth, "handle", hours=4)
    _deploy_v2(case_handling_compatible())
    _migrate_one(client, auth, key)
    fire_next_timer(clock, key)  # the 80 % warning
    assert len(_events("case.due_warning")) == 1
    assert [t.element_id for t in open_tasks(key)] == ["handle"] and _version(key) == 2


def test_a_waiting_timer_whose_expression_changed_is_computed_again(client, auth):
    key = create_case(client, auth, "handle", hours=4)
    warn_at = instance(key).next_timer_at
    data = instances.task_data(instance(key).id, open_tasks(key)[0].spiff_task_id)
    _deploy_v2(case_handling_warning_at_the_limit())
    _migrate_one(client, auth, key)
    due = as_utc(datetime.fromisoformat(data["time_limit"]["due_at"]))
    assert as_utc(instance(key).next_timer_at) == due > as_utc(warn_at)
    assert _events("instance.migrated")[0].data["next_timer_at"] == due.isoformat()


def test_an_active_element_that_became_another_kind_is_refused(client, auth):
    key = create_case(client, auth, "handle")
    _deploy_v2(case_handling_handle_as_manual_task())
    dry = _post(
        client, auth, "admin", f"/api/v1/process-definitions/{KEY}/migrations/dry-run", {"target_version": 2}
    ).get_json()
    item = dry["items"][0]
    assert item["code"] == "active_changed_kind" and item["element_id"] == "handle"
    assert item["message"] == "当前所在环节「处置」(handle)在 v2 中变成了另一种元素，无法对应"
    assert _version(key) == 1


def test_undo_is_refused_once_the_instance_has_ended(client, auth):
    key = create_case(client, auth, "review")
    _deploy_v2(case_handling_compatible())
    migration_id = _migrate_one(client, auth, key)
    row = instance(key)
    row.status = InstanceStatus.TERMINATED  # as an operator's terminate leaves it (no step: same state)
    db.session.commit()
    response = _post(client, auth, "admin", f"/api/v1/instance-migrations/{migration_id}/undo")
    assert response.status_code == 409 and response.get_json()["details"]["reason"] == "ended"
    assert response.get_json()["message"] == "实例已结束(terminated)，无法撤销迁移"
    assert _version(key) == 2 and open_tasks(key)[0].element_id == "review"


def test_a_removed_event_that_never_ran_does_not_hold_an_instance_back(client, auth):
    at_handle = create_case(client, auth, "handle")  # the warning timer waits: it would vanish
    at_review = create_case(client, auth, "review")  # its warning timer was cancelled when handling ended
    tasks = _open(at_review)
    _deploy_v2(case_handling_without_warning())
    result = _post(
        client, auth, "admin", f"/api/v1/process-definitions/{KEY}/migrations", {"target_version": 2}
    ).get_json()
    codes = {item["instance_id"]: (item["code"], item["element_id"]) for item in result["items"]}
    assert codes[instance(at_handle).id] == ("active_removed", "timer_warn")
    assert codes[instance(at_review).id] == ("migrated", None)
    assert _version(at_review) == 2 and _open(at_review) == tasks
    complete(client, auth, "supervisor", at_review, "review", {"review_decision": "approve"})
    assert instance(at_review).status == InstanceStatus.COMPLETED


def test_a_changed_structure_around_a_passed_element_is_named_after_that_element(client, auth):
    key = create_case(client, auth, "handle")  # triage is done; v2 drops triage's only boundary event
    _deploy_v2(case_handling_without_withdrawal())
    item = _post(
        client, auth, "admin", f"/api/v1/process-definitions/{KEY}/migrations/dry-run", {"target_version": 2}
    ).get_json()["items"][0]
    assert item["code"] == "structure_changed" and item["element_id"] == "triage"
    assert item["message"].startswith("已经过的环节「受理立案」(triage)周围的结构在 v2 中已改变")
    assert _version(key) == 1
