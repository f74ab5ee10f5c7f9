"""The properties panel's decision picker through the Flask test client: a business rule task picks one of
the decisions the newest version of each deployed table defines (id, name and table), designers only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from app.config import PROJECT_ROOT
from app.extensions import db
from app.workflow import deploy
from tests.web import test_pages_designer as pages
from tests.web.test_pages_designer import Browser

# The designer pages' fixtures: the app on both databases (case_handling, sensor_alarm and its table).
app = pages.app
sign_in = pages.sign_in

ROUTE = {
    "value": "sensor_alarm_route",
    "label": "报警分流:先电话核实还是直接派遣",
    "table": "sensor_alarm_route",
}


def _deploy_noise_table(app: Flask, name: str) -> None:
    """A second table (a copy of the shipped one under another key and decision name)."""
    xml = (PROJECT_ROOT / "bpmn" / "sensor_alarm_route.dmn").read_text(encoding="utf-8")
    xml = xml.replace("sensor_alarm_route", "noise_grade").replace("报警分流:先电话核实还是直接派遣", name)
    deploy.deploy_file("noise_grade.dmn", xml.encode("utf-8"), app.extensions["gridcase.deploy_rules"]())
    db.session.commit()  # in the fixture's app context


def test_the_picker_lists_the_deployed_decisions_by_id(app: Flask, sign_in: Callable[[str], Browser]) -> None:
    browser = sign_in("designer")
    [route] = browser.get("/design/decisions.json").get_json()["items"]
    assert {k: route[k] for k in ROUTE} == ROUTE and route["table_name"]

    _deploy_noise_table(app, "噪音分级")
    _deploy_noise_table(app, "噪音等级")  # a new version of the table: its decision's new name
    items = browser.get("/design/decisions.json").get_json()["items"]
    assert [(d["value"], d["label"], d["table"]) for d in items] == [
        ("noise_grade", "噪音等级", "noise_grade"),
        ("sensor_alarm_route", ROUTE["label"], "sensor_alarm_route"),
    ]
    # the panel reads them with the other pickers' values
    assert browser.get("/design/vocabulary.json").get_json()["decisions"] == items


@pytest.mark.parametrize("username", ["resident", "worker", "supervisor"])
def test_only_designers_read_the_decisions(sign_in: Callable[[str], Browser], username: str) -> None:
    response = sign_in(username).client.get("/design/decisions.json", headers={"Accept": "application/json"})
    assert response.status_code == 403
