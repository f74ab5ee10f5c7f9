"""Drafts, publish and rollback: only the published version of a process starts new instances; running
instances keep theirs; publishing and rolling back are audited, for designers and admins only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, current_app
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.errors import NotFound
from app.extensions import db
from app.workflow import decisions, deploy, instances, publication
from app.workflow.models import ProcessDefinition, ProcessInstance
from app.workflow.publication_models import ProcessPublication
from tests.helpers import report
from tests.probes import definitions, deploy_bpmn_folder, one_task_bpmn, upload_diagram

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
# The shipped case process with one visible change: what a designer saves in the studio as version 2.
CASE_V2 = (
    (BPMN / "case_handling.bpmn")
    .read_bytes()
    .replace(
        b'name="\xe6\xa1\x88\xe4\xbb\xb6\xe5\xa4\x84\xe7\xbd\xae\xe6\xb5\x81\xe7\xa8\x8b"',
        'name="案件处置流程 (二版)"'.encode(),
        1,
    )
)
API = "/api/v1/process-definitions"


def _rules() -> Any:
    return current_app.extensions["gridcase.deploy_rules"]()


def _draft(file_name: str, content: bytes) -> ProcessDefinition:
    """Deploy ``content`` as the studio saves: a draft."""
    [result] = deploy.deploy_file(file_name, content, _rules(), publish=False)
    db.session.commit()
    return result.definition


def _case_version(case_key: str) -> int:
    db.session.expire_all()
    version = db.session.execute(
        select(ProcessDefinition.version)
        .join(ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
        .where(ProcessInstance.business_key == case_key)
    ).scalar_one()
    db.session.rollback()  # end the read: SQLite's transactions take the write lock the requests need
    return int(version)


def _audit(action: str) -> list[AuditEvent]:
    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


@pytest.fixture
def postgres_app(make_app: Any) -> Iterator[Flask]:
    app = make_app("postgresql")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_a_draft_starts_nothing_until_published_and_a_rollback_brings_the_old_version_back(
    app: Flask, client: Any, users: Any, auth: Any
) -> None:
    deploy_bpmn_folder()  # the shipped folder is a release: v1 published at once
    draft = _draft("case_handling.bpmn", CASE_V2)
    assert draft.version == 2
    v1 = publication.current("case_handling")
    assert v1 is not None and v1.version == 1
    assert publication.statuses("case_handling") == {v1.id: "published", draft.id: "draft"}
    db.session.rollback()

    # A category mapped to case_handling (E0102) still runs on the published version 1.
    first = report(client, auth)
    assert _case_version(first["key"]) == 1

    # The designer publishes version 2: the next report runs on it, the running case keeps version 1.
    response = client.post(f"{API}/case_handling/versions/2/publish", headers=auth("designer"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "key": "case_handling",
        "version": 2,
        "previous_version": 1,
        "running_kept": 1,
    }
    second = report(client, auth)
    assert (_case_version(first["key"]), _case_version(second["key"])) == (1, 2)
    [published] = [e for e in _audit("process.published") if e.actor_label == "designer"]
    assert (published.before, published.after) == (
        {"key": "case_handling", "version": 1},
        {"key": "case_handling", "version": 2},
    )
    assert published.entity_id == str(draft.id)
    db.session.rollback()

    versions = client.get(f"{API}/case_handling/versions", headers=auth("designer")).get_json()
    assert [(v["version"], v["status"]) for v in versions] == [(2, "published"), (1, "history")]

    # An admin rolls back: version 1 starts new instances again; the case on version 2 keeps it.
    response = client.post(f"{API}/case_handling/rollback", headers=auth("admin"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "key": "case_handling",
        "version": 1,
        "previous_version": 2,
        "running_kept": 1,
    }
    third = report(client, auth)
    assert [_case_version(c["key"]) for c in (first, second, third)] == [1, 2, 1]
    [rolled_back] = _audit("process.rolled_back")
    assert (rolled_back.actor_label, rolled_back.before, rolled_back.after) == (
        "admin",
        {"key": "case_handling", "version": 2},
        {"key": "case_handling", "version": 1},
    )
    db.session.expire_all()
    rows = db.session.execute(
        select(ProcessPublication.definition_id, ProcessPublication.withdrawn_at.is_not(None))
        .where(ProcessPublication.key == "case_handling")
        .order_by(ProcessPublication.id)
    ).all()
    assert [(definition_id == draft.id, withdrawn) for definition_id, withdrawn in rows] == [
        (False, False),  # v1, published by the folder's deploy
        (True, True),  # v2, published by the designer, withdrawn by the rollback
    ]
    db.session.rollback()
    # Nothing was published before version 1: a second rollback is refused and changes nothing.
    response = client.post(f"{API}/case_handling/rollback", headers=auth("designer"))
    assert response.status_code == 409
    assert "没有更早的发布版本" in response.get_json()["message"]
    assert publication.current("case_handling").version == 1  # type: ignore[union-attr]


def test_publish_and_rollback_are_for_designers_and_admins_and_refuse_what_cannot_be(
    app: Flask, client: Any, users: Any, auth: Any, deployed: None
) -> None:
    _draft("case_handling.bpmn", CASE_V2)
    for who in ("dispatcher", "supervisor", "resident", "worker"):
        assert client.post(f"{API}/case_handling/versions/2/publish", headers=auth(who)).status_code == 403
        assert client.post(f"{API}/case_handling/rollback", headers=auth(who)).status_code == 403
    assert publication.current("case_handling").version == 1  # type: ignore[union-attr]
    db.session.rollback()

    already = client.post(f"{API}/case_handling/versions/1/publish", headers=auth("designer"))
    assert already.status_code == 409
    assert already.get_json()["message"] == "流程 case_handling 的第 1 版已是发布版本"
    assert client.post(f"{API}/case_handling/versions/9/publish", headers=auth("designer")).status_code == 404
    assert client.post(f"{API}/no_such_process/rollback", headers=auth("designer")).status_code == 404
    assert _audit("process.rolled_back") == []
    assert [e for e in _audit("process.published") if e.actor_id is not None] == []


def test_a_process_with_drafts_only_is_not_published(app: Flask, client: Any, users: Any, auth: Any) -> None:
    response = upload_diagram(
        client, auth, "designer", one_task_bpmn("draft_probe", "supervisor"), "draft_probe.bpmn"
    )
    assert response.status_code == 201
    assert response.get_json()[0]["definition"]["status"] == "published"  # the API publishes by default

    response = client.post(
        API,
        data={
            "file": (_bytes(one_task_bpmn("draft_only", "supervisor")), "draft_only.bpmn"),
            "publish": "false",
        },
        headers=auth("designer"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()[0]["definition"]["status"] == "draft"
    with pytest.raises(NotFound) as caught:
        deploy.published_definition("draft_only")
    assert caught.value.message == "流程 draft_only 尚未发布"
    assert deploy.latest_definition is deploy.published_definition  # the name other helpers call
    with pytest.raises(NotFound) as caught:
        deploy.published_definition("never_deployed")
    assert "unknown process key" in caught.value.message
    db.session.rollback()

    refused = client.post(f"{API}/draft_only/rollback", headers=auth("designer"))
    assert refused.status_code == 409 and "尚未发布" in refused.get_json()["message"]
    bad = client.post(
        API,
        data={"file": (_bytes(one_task_bpmn("bad_flag", "supervisor")), "bad_flag.bpmn"), "publish": "maybe"},
        headers=auth("designer"),
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "publish" in bad.get_json()["details"]
    assert client.post(f"{API}/draft_only/versions/1/publish", headers=auth("designer")).status_code == 200
    assert deploy.published_definition("draft_only").version == 1


def test_publish_and_rollback_on_postgresql(postgres_app: Flask) -> None:
    """The same rules on PostgreSQL (row locks, the grouping of the published versions)."""
    deploy_bpmn_folder()
    draft = _draft("case_handling.bpmn", CASE_V2)
    assert deploy.published_definition("case_handling").version == 1
    assert deploy.published_definition("case_handling").id in publication.published_ids("bpmn")
    outcome = publication.publish_version("case_handling", 2, None)
    db.session.commit()
    assert (outcome.definition.id, outcome.previous_version) == (draft.id, 1)
    assert deploy.published_definition("case_handling").id == draft.id
    assert publication.rollback_key("case_handling", None).definition.version == 1
    db.session.commit()
    assert deploy.published_definition("case_handling").version == 1
    assert publication.statuses("case_handling")[draft.id] == publication.HISTORY


def _bytes(content: bytes) -> Any:
    import io

    return io.BytesIO(content)


def test_deploying_the_folder_again_publishes_a_newer_draft_but_never_undoes_a_rollback(
    app: Flask, users: Any
) -> None:
    deploy_bpmn_folder()
    v2 = _draft("case_handling.bpmn", CASE_V2)
    # The same bytes deployed as a release (flask deploy of a folder holding them): the draft is published.
    deploy.deploy_file("case_handling.bpmn", CASE_V2, _rules())
    db.session.commit()
    assert publication.current("case_handling").id == v2.id  # type: ignore[union-attr]
    publication.rollback_key("case_handling", users["designer"])
    db.session.commit()
    # Deploying the shipped folder (v1) and v2 again changes nothing: v2 was published once already.
    deploy_bpmn_folder()
    deploy.deploy_file("case_handling.bpmn", CASE_V2, _rules())
    db.session.commit()
    assert publication.current("case_handling").version == 1  # type: ignore[union-attr]


def test_a_draft_decision_table_decides_nothing_until_published(app: Flask, users: Any) -> None:
    deploy_bpmn_folder()
    published = publication.current("sensor_alarm_route", "dmn")
    assert published is not None
    assert decisions.newest_holders()["sensor_alarm_route"] == published.id
    changed = (
        (BPMN / "sensor_alarm_route.dmn")
        .read_bytes()
        .replace(b"</definitions>", b"<!-- v2 --></definitions>")
    )
    draft = _draft("sensor_alarm_route.dmn", changed)
    assert draft.version == 2 and draft.kind == "dmn"
    assert decisions.newest_holders()["sensor_alarm_route"] == published.id
    publication.publish_version("sensor_alarm_route", 2, users["designer"])
    db.session.commit()
    assert decisions.newest_holders()["sensor_alarm_route"] == draft.id


def test_a_draft_callee_is_not_frozen_into_a_caller(app: Flask) -> None:
    """Parsing a caller resolves the other files at their published version, not at a newer draft."""
    deploy_bpmn_folder()
    _draft("case_handling.bpmn", CASE_V2)
    documents = deploy._other_documents("visit_record.bpmn")
    assert "二版".encode() not in documents["case_handling.bpmn"]


def test_flask_deploy_publishes_unless_asked_for_a_draft(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    path = tmp_path / "cli_probe.bpmn"
    path.write_bytes(one_task_bpmn("cli_probe", "supervisor"))
    result = runner.invoke(args=["deploy", "--draft", str(path)])
    assert result.exit_code == 0, result.output
    assert "deployed   cli_probe v1" in result.output
    assert list(publication.statuses("cli_probe").values()) == [publication.DRAFT]
    db.session.rollback()
    result = runner.invoke(args=["deploy", str(path)])  # the same bytes as a release: the draft is published
    assert result.exit_code == 0, result.output
    assert "unchanged  cli_probe v1" in result.output
    assert deploy.published_definition("cli_probe").version == 1


MESSAGE_START = definitions(
    "msg_start_definitions",
    """  <bpmn:message id="msg_hello" name="hello_probe" />
  <bpmn:process id="msg_start_probe" name="msg_start_probe" isExecutable="true">
    <bpmn:startEvent id="start">
      <bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:messageEventDefinition id="start_message" messageRef="msg_hello" />
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
).encode()


def test_a_draft_is_started_neither_by_its_message_nor_by_its_key(app: Flask, users: Any) -> None:
    _draft("msg_start_probe.bpmn", MESSAGE_START)
    with pytest.raises(NotFound):
        instances.start_by_message("hello_probe", {}, business_key=None)
    with pytest.raises(NotFound) as caught:
        instances.start_instance("msg_start_probe", business_key=None, variables={})
    assert caught.value.message == "流程 msg_start_probe 尚未发布"
    db.session.rollback()
    publication.publish_version("msg_start_probe", 1, users["designer"])
    outcome = instances.start_by_message("hello_probe", {}, business_key=None)
    db.session.commit()
    assert outcome.instance.definition.version == 1


def test_the_start_catalogue_offers_the_published_version_not_a_draft(app: Flask, create_user: Any) -> None:
    from app.tasks import startable

    deploy_bpmn_folder()
    leader, worker = create_user("grid_leader", "leader"), create_user("grid_worker", "worker")
    db.session.commit()
    # A draft that offers the visit record to grid workers instead of grid leaders.
    # The first candidateRoles of the file is its start event's.
    draft = (
        (BPMN / "visit_record.bpmn").read_bytes().replace(b'value="grid_leader"', b'value="grid_worker"', 1)
    )
    assert _draft("visit_record.bpmn", draft).version == 2
    assert [s.key for s in startable.startable_for(leader)] == ["visit_record"]
    assert startable.startable_for(worker) == []
    publication.publish_version("visit_record", 2, None)
    assert startable.startable_for(leader) == []
    assert [s.version for s in startable.startable_for(worker)] == [2]
