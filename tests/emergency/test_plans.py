"""The emergency plan library: five plans in the data file; import (all or nothing), export and list on the
command line; read, create, replace, deactivate and import through the API (supervisors and admins),
audited; bad plans refused by field with nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.emergency.models import EmergencyPlan
from app.emergency.plans import PLANS_PATH, read_plans
from app.extensions import db
from tests.helpers import fingerprint

pytestmark = pytest.mark.usefixtures("territory")

NEW_PLAN = {
    "code": "elevator_entrapment",
    "name": "电梯困人",
    "name_en": "Elevator entrapment",
    "description": "电梯困人:物业与维保单位限时到场。",
    "triggers": {"categories": [], "alarm_types": ["elevator_entrapment"]},
    "responders": [{"unit_kind": "property", "limit": "10m"}, {"unit_code": "fire", "limit": "0.5h"}],
    "checklist": ["安抚被困人员", "切断电梯电源"],
    "contact_call_limit": None,
}


def _post(client: Any, auth: Any, body: Any, who: str = "admin") -> Any:
    return client.post("/api/v1/emergency-plans", json=body, headers=auth(who))


def test_the_library_holds_the_five_plans():
    codes = [p["code"] for p in read_plans(PLANS_PATH)]
    assert codes == ["high_rise_fire", "urban_flooding", "gas_leak", "school_sewage_overflow", "elderly_fall"]
    names = db.session.execute(select(EmergencyPlan.name).order_by(EmergencyPlan.code)).scalars().all()
    assert sorted(names) == sorted(["高层火灾", "城市内涝", "燃气泄漏", "学校周边污水外溢", "独居老人跌倒"])


def test_plans_are_read_created_replaced_and_deactivated_through_the_api(client, auth):
    listed = client.get("/api/v1/emergency-plans", headers=auth("worker")).get_json()
    assert listed["total"] == 5
    response = _post(client, auth, NEW_PLAN, who="supervisor")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["version"] == 1
    changed = {**NEW_PLAN, "checklist": ["安抚被困人员"]}
    response = client.put("/api/v1/emergency-plans/elevator_entrapment", json=changed, headers=auth("admin"))
    assert response.status_code == 200 and response.get_json()["version"] == 2
    response = client.delete("/api/v1/emergency-plans/elevator_entrapment", headers=auth("admin"))
    assert response.get_json()["active"] is False
    actions = (
        db.session.execute(
            select(AuditEvent.action)
            .where(AuditEvent.entity_id == "elevator_entrapment")
            .order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert actions == ["emergency_plan.created", "emergency_plan.updated", "emergency_plan.deactivated"]
    launch = {"plan_code": "elevator_entrapment"}
    assert client.post("/api/v1/emergencies", json=launch, headers=auth("dispatcher")).status_code == 422


# (change, field): NEW_PLAN with that change is refused, naming the field
BAD_PLANS = [
    ({"responders": []}, "responders"),
    ({"responders": [{"unit_kind": "spaceship", "limit": "10m"}]}, "responders[0].unit_kind"),
    ({"responders": [{"unit_kind": "fire", "limit": "soon"}]}, "responders[0].limit"),
    ({"responders": [{"unit_kind": "fire", "limit": "0m"}]}, "responders[0].limit"),
    ({"responders": [{"unit_code": "nobody", "limit": "5m"}]}, "responders[0].unit_code"),
    ({"responders": [{"unit_kind": "fire", "grid_worker": True, "limit": "5m"}]}, "responders[0]"),
    ({"checklist": []}, "checklist"),
    ({"triggers": {"alarm_types": ["meteor"]}}, "triggers.alarm_types"),
    ({"code": "Bad Code"}, "code"),
    ({"contact_call_limit": "1wh"}, "contact_call_limit"),
]


def test_a_bad_plan_is_refused_by_field(client, auth, subtests):
    """One territory per backend for every bad plan: each is refused and writes nothing (its own fingerprint
    check), so a later plan meets the same library as the first."""
    for change, field in BAD_PLANS:
        with subtests.test(change=change, field=field):
            before = fingerprint()
            response = _post(client, auth, {**NEW_PLAN, **change})
            assert response.status_code == 422, response.get_json()
            assert field in response.get_json()["details"]
            assert fingerprint() == before


def test_only_supervisors_and_admins_change_plans(client, auth):
    before = fingerprint()
    assert _post(client, auth, NEW_PLAN, who="dispatcher").status_code == 403
    assert client.delete("/api/v1/emergency-plans/gas_leak", headers=auth("worker")).status_code == 403
    assert client.get("/api/v1/emergency-plans/nope", headers=auth("worker")).status_code == 404
    assert fingerprint() == before


def test_an_import_with_one_bad_plan_writes_nothing(client, auth):
    before = fingerprint()
    bad = {**NEW_PLAN, "code": "broken", "responders": [{"unit_kind": "fire", "limit": "-3m"}]}
    response = client.post(
        "/api/v1/emergency-plans/import", json={"plans": [NEW_PLAN, bad]}, headers=auth("admin")
    )
    assert response.status_code == 422
    assert list(response.get_json()["details"]) == ["broken"]
    assert fingerprint() == before
    response = client.post(
        "/api/v1/emergency-plans/import", json={"plans": [NEW_PLAN]}, headers=auth("admin")
    )
    assert response.get_json() == {
        "total": 1,
        "created": ["elevator_entrapment"],
        "updated": [],
        "unchanged": 0,
    }


def test_the_command_line_imports_exports_and_lists(app, tmp_path: Path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["emergency", "plans", "import"])
    assert result.exit_code == 0 and "0 created, 0 updated, 5 unchanged" in result.output
    exported = tmp_path / "plans.json"
    assert runner.invoke(args=["emergency", "plans", "export", "-o", str(exported)]).exit_code == 0
    document = json.loads(exported.read_text(encoding="utf-8"))
    shipped = json.loads(PLANS_PATH.read_text(encoding="utf-8"))["plans"]
    assert document["plans"] == sorted(shipped, key=lambda plan: plan["code"])  # exported by code
    listed = runner.invoke(args=["emergency", "plans", "list"]).output
    assert "gas_leak" in listed and "gas/10m" in listed
    document["plans"][0]["responders"][0]["unit_kind"] = "dragon"
    exported.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    before = fingerprint()
    result = runner.invoke(args=["emergency", "plans", "import", str(exported)])
    assert result.exit_code == 2 and "responders[0].unit_kind" in result.output
    assert fingerprint() == before
