"""The versions pages' publish and rollback forms (server side): designers and admins only, refusals shown
on the page and changing nothing, the DMN table's versions page, and the statuses in both languages."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.services import create_user
from app.extensions import db
from app.workflow import deploy, publication
from tests.conftest import PASSWORD
from tests.probes import deploy_bpmn_folder, one_task_bpmn
from tests.web.pages import csrf_token, page_app, sign_in

app = page_app


def _events() -> list[str]:
    actions = ["process.published", "process.rolled_back"]
    rows = db.session.execute(
        select(AuditEvent.action, AuditEvent.actor_label).where(AuditEvent.action.in_(actions))
    )
    return [f"{action} {actor}" for action, actor in rows if actor != "system"]


def _seed(app: Flask) -> None:
    create_user("designer1", PASSWORD, "designer")
    create_user("dispatcher1", PASSWORD, "dispatcher")
    db.session.commit()
    deploy_bpmn_folder()
    rules = app.extensions["gridcase.deploy_rules"]()
    deploy.deploy_file("draft_probe.bpmn", one_task_bpmn("draft_probe", "supervisor"), rules, publish=False)
    db.session.commit()


def test_only_designers_publish_and_refusals_change_nothing(app: Flask) -> None:
    _seed(app)
    client: Any = app.test_client()
    sign_in(client, "dispatcher1")
    token = csrf_token(client, client.get("/").location)  # the dispatcher's start page
    response = client.post("/design/processes/draft_probe/versions/1/publish", data={"csrf_token": token})
    assert response.status_code == 403
    assert publication.current("draft_probe") is None

    client = app.test_client()
    sign_in(client, "designer1")
    page = client.get("/design/processes/draft_probe").get_data(as_text=True)
    assert "尚未发布任何版本" in page and 'data-status="draft"' in page and 'id="rollback-button"' not in page
    token = csrf_token(client, "/design/processes/draft_probe")
    # Nothing was published before: the rollback is refused, on the page.
    response = client.post("/design/processes/draft_probe/rollback", data={"csrf_token": token})
    assert response.status_code == 302 and response.location.endswith("/design/processes/draft_probe")
    assert "尚未发布, 无法回滚" in client.get(response.location).get_data(as_text=True)
    # case_handling v1 is published already: publishing it again is refused.
    response = client.post("/design/processes/case_handling/versions/1/publish", data={"csrf_token": token})
    assert "已是发布版本" in client.get(response.location).get_data(as_text=True)
    assert _events() == []

    response = client.post("/design/processes/draft_probe/versions/1/publish", data={"csrf_token": token})
    page = client.get(response.location).get_data(as_text=True)
    assert "第 1 版已发布" in page and 'data-status="published"' in page
    assert deploy.published_definition("draft_probe").version == 1
    assert _events() == ["process.published designer1"]


def test_a_decision_table_is_published_from_its_own_versions_page_in_english(app: Flask) -> None:
    _seed(app)
    client: Any = app.test_client()
    sign_in(client, "designer1")
    client.set_cookie("lang", "en")
    rules = app.extensions["gridcase.deploy_rules"]()
    dmn = (app.extensions["gridcase.settings"].bpmn_folder / "sensor_alarm_route.dmn").read_bytes()
    deploy.deploy_file(
        "sensor_alarm_route.dmn",
        dmn.replace(b"</definitions>", b"<!-- 2 --></definitions>"),
        rules,
        publish=False,
    )
    db.session.commit()
    page = client.get("/design/decisions/sensor_alarm_route").get_data(as_text=True)
    assert ">Draft</span>" in page and ">Published</span>" in page
    assert "New instances will start on version 2; the 0 running instances keep their version." in page
    token = csrf_token(client, "/design/decisions/sensor_alarm_route")
    response = client.post(
        "/design/processes/sensor_alarm_route/versions/2/publish", data={"csrf_token": token}
    )
    assert response.location.endswith("/design/decisions/sensor_alarm_route")
    page = client.get(response.location).get_data(as_text=True)
    assert "Version 2 is published" in page and "Roll back to version 1" in page
    assert publication.current("sensor_alarm_route", "dmn").version == 2  # type: ignore[union-attr]
