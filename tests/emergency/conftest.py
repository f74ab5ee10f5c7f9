"""Emergency fixtures: the small territory of tests/cases/territory.py with a coordinator at each level, a
unit of every kind the plans name (each with one handler, all serving the district), the plan library
loaded, and helpers that walk an emergency through the API. Time moves only when a test says so."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from app.emergency.plans import sync_plans
from app.extensions import db
from app.workflow.models import HumanTask
from tests.cases.territory import DISTRICT, add_unit
from tests.factories import app_on_both_backends, staff_territory
from tests.helpers import complete_by_id, open_tasks

# unit code (= its kind) → the handler who reports in for it
UNIT_HANDLERS = {
    "fire": "fire1",
    "police": "police1",
    "property": "property1",
    "gas": "gas1",
    "power": "power1",
    "street_office": "office1",
    "sanitation": "sanitation1",
    "district_bureau": "bureau1",
}
GAS_LEAK_UNITS = ["gas", "fire", "property", "police"]  # the gas_leak plan's responders, in order


app = app_on_both_backends


@pytest.fixture
def territory(users: dict[str, Any], create_user: Any, auth: Any, deployed: None) -> None:
    """Everybody assigned where they work and signed in now (tokens made later would move fingerprints)."""
    staffed = staff_territory(create_user, handlers={user: unit for unit, user in UNIT_HANDLERS.items()})
    for unit in [*UNIT_HANDLERS, "water"]:
        add_unit(unit, unit, DISTRICT)
    sync_plans()
    db.session.commit()
    for username in [*users, *staffed]:
        auth(username)


# -- acting through the API ----------------------------------------------------------------------------


def complete_task(
    client: FlaskClient, auth: Any, who: str, task: HumanTask, data: dict[str, Any], expect: int = 200
) -> Any:
    return complete_by_id(client, auth, who, task.id, data, expect)


def task_for(key: str, element_id: str, unit: str | None = None, user: str | None = None) -> HumanTask:
    found = [
        t
        for t in open_tasks(key)
        if t.element_id == element_id
        and (unit is None or t.candidate_group == unit)
        and (user is None or t.candidate_user == user)
    ]
    assert len(found) == 1, f"{len(found)} open {element_id} tasks for {key} ({unit or user})"
    return found[0]


def report_in(client: FlaskClient, auth: Any, key: str, unit: str, who: str | None = None) -> Any:
    task = task_for(key, "emergency_report_in", unit=unit)
    data = {"responsible_person": "张队长", "eta_minutes": 8, "report_in_note": "已出发"}
    return complete_task(client, auth, who or UNIT_HANDLERS[unit], task, data)


def launch(
    client: FlaskClient, auth: Any, plan_code: str = "gas_leak", who: str = "dispatcher", **fields: Any
) -> Any:
    body = {
        "plan_code": plan_code,
        "title": "锦绣花园 3 栋燃气泄漏",
        "lat": 30.7589,
        "lon": 103.9718,
        "address": "锦绣花园 3 栋",
        **fields,
    }
    response = client.post("/api/v1/emergencies", json=body, headers=auth(who))
    assert response.status_code == 201, response.get_json()
    db.session.expire_all()
    return response.get_json()


def emergency(client: FlaskClient, auth: Any, key: str, who: str = "dispatcher") -> Any:
    response = client.get(f"/api/v1/emergencies/{key}", headers=auth(who))
    assert response.status_code == 200, response.get_json()
    return response.get_json()
