"""A migration shows on the case's timeline in the supervisor's case page, in the reader's language."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.workflow.models import ProcessDefinition
from tests.factories import app_on_both_backends, create_case
from tests.helpers import instance
from tests.probes import deploy_diagram
from tests.web.pages import post_form, sign_in
from tests.workflow.migration_diagrams import case_handling_compatible

app = app_on_both_backends
pytestmark = pytest.mark.usefixtures("users", "deployed")


def test_the_timeline_names_a_migration_and_its_undo(app, client, auth):
    key = create_case(client, auth, "handle")
    deploy_diagram("case_handling.bpmn", case_handling_compatible())
    moved = client.post(
        f"/api/v1/process-instances/{instance(key).id}/migrate",
        json={"target_version": 2},
        headers=auth("admin"),
    )
    assert moved.status_code == 200, moved.get_json()
    undone = client.post(
        f"/api/v1/instance-migrations/{moved.get_json()['migration_id']}/undo", headers=auth("admin")
    )
    assert undone.status_code == 200, undone.get_json()
    db.session.expire_all()

    page = app.test_client()
    sign_in(page, "admin")
    body = page.get(f"/supervise/cases/{key}").get_data(as_text=True)
    assert "流程已迁移到另一版本" in body and "流程版本迁移已撤销" in body
    page.set_cookie("lang", "en")
    english = page.get(f"/supervise/cases/{key}").get_data(as_text=True)
    assert "Process moved to another version" in english and "Process version change undone" in english


def test_the_migration_page_is_for_designers_and_admins(app, client, auth):
    key = create_case(client, auth, "handle")
    deploy_diagram("case_handling.bpmn", case_handling_compatible())
    for who, home in (("worker", "/m/"), ("resident", "/r/"), ("supervisor", "/supervise/cases")):
        page = app.test_client()
        sign_in(page, who)
        assert page.get("/design/processes/case_handling/migrate?to=2").status_code == 403, who
        refused = post_form(page, "/design/processes/case_handling/migrate", {"to": "2"}, home)
        assert refused.status_code == 403, who
    designer = app.test_client()
    sign_in(designer, "designer")
    body = designer.get("/design/processes/case_handling/migrate?to=2").get_data(as_text=True)
    assert "流程设计员只能迁移不属于案件的实例" in body  # the case's instance is not theirs to move
    assert 'id="migrate-form"' not in body
    admin = app.test_client()
    sign_in(admin, "admin")
    assert "可以迁移到 v2" in admin.get("/design/processes/case_handling/migrate?to=2").get_data(as_text=True)
    moved = post_form(admin, "/design/processes/case_handling/migrate", {"to": "2"})
    assert moved.status_code == 302
    db.session.expire_all()
    assert db.session.get(ProcessDefinition, instance(key).definition_id).version == 2
