"""The field list the task page draws (app/web/task_form.py), for every form in forms/: every property is
there, labels in the page's language (zh-CN from the schema, English from the UI schema's ui:locales), the
pickers' choices, and the conditional rules the page shows and checks."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app.auth.services import create_user
from app.config import PROJECT_ROOT
from app.extensions import db
from app.web.task_form import FormView
from tests.conftest import PASSWORD

FORMS = sorted(p.name for p in (PROJECT_ROOT / "forms").glob("*.schema.json"))
BILINGUAL = re.compile(r"[\u4e00-\u9fff].*\([A-Za-z][^)]*\)\s*$")


def _load(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = json.loads((PROJECT_ROOT / "forms" / name).read_text(encoding="utf-8"))
    ui = json.loads((PROJECT_ROOT / "forms" / name.replace(".schema.", ".uischema.")).read_text("utf-8"))
    return schema, ui


def _labels(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for field in fields:
        out.append(field)
        out.extend(_labels(field.get("fields", [])))
        if "entry" in field:
            out.extend(_labels(field["entry"].get("fields", [])))
    return out


@pytest.mark.parametrize("name", FORMS)
@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_every_property_is_described_in_the_language(app, name: str, language: str) -> None:
    schema, ui = _load(name)
    with app.app_context():
        view = FormView(schema, ui, language)
        described = view.describe()
    assert [f["name"] for f in described["fields"]] == [
        *[n for n in ui.get("ui:order", []) if n in schema["properties"]],
        *[n for n in schema["properties"] if n not in ui.get("ui:order", [])],
    ]
    assert view.title() and view.description()
    for field in _labels(described["fields"]):
        if not field["name"]:
            continue
        assert field["label"] != field["name"], f"{name}: {field['name']} has no title"
        assert not BILINGUAL.search(field["label"]), field["label"]
        has_cjk = bool(re.search(r"[\u4e00-\u9fff]", field["label"]))
        assert has_cjk == (language == "zh_CN"), f"{name}: {field['name']} label {field['label']!r}"


def test_pickers_offer_people_units_and_categories(app) -> None:
    from app.units.models import Unit
    from tests.helpers import ensure_catalogue

    schema, ui = _load("coordinate.schema.json")
    with app.app_context():
        worker = create_user("w1", PASSWORD, "grid_worker")
        worker.display_name = "张三"
        create_user("d1", PASSWORD, "dispatcher")
        db.session.add(
            Unit(
                code="water", name="水务局", kind="district_bureau", active=True, created_at=worker.created_at
            )
        )
        db.session.add(
            Unit(
                code="old",
                name="撤销单位",
                kind="district_bureau",
                active=False,
                created_at=worker.created_at,
            )
        )
        db.session.commit()
        fields = {f["name"]: f for f in FormView(schema, ui, "zh_CN").describe()["fields"]}
        ensure_catalogue()
        triage_schema, triage_ui = _load("triage.schema.json")
        triage = {f["name"]: f for f in FormView(triage_schema, triage_ui, "zh_CN").describe()["fields"]}
    assert fields["handover_user"]["options"] == [{"value": "w1", "label": "张三 · w1"}]  # not the dispatcher
    assert fields["handover_unit"]["options"] == [{"value": "water", "label": "水务局 · water"}]
    assert fields["summon_units"]["widget"] == "list"
    assert fields["summon_units"]["item"]["options"] == [{"value": "water", "label": "水务局 · water"}]
    assert triage["category_code"]["widget"] == "select" and triage["category_code"]["options"]
    assert triage["triage_decision"]["options"][1] == {"value": "reject", "label": "不予立案"}


def test_conditionals_become_rules(app) -> None:
    with app.app_context():
        triage = FormView(*_load("triage.schema.json"), "en").describe()
        dispatch = FormView(*_load("dispatch.schema.json"), "en").describe()
        coordinate = FormView(*_load("coordinate.schema.json"), "zh_CN").describe()
    assert triage["rules"] == [
        {"kind": "when", "if": {"triage_decision": "reject"}, "require": ["reject_reason"]},
        {"kind": "when", "if": {"triage_decision": "duplicate"}, "require": ["duplicate_of"]},
    ]
    assert dispatch["rules"] == [
        {
            "kind": "one_of",
            "groups": [["handler_user"], ["handler_unit"]],
            "message": "give exactly one of handler_user or handler_unit (not both, not neither)",
        }
    ]
    assert {
        "kind": "not_all",
        "fields": ["handover_user", "handover_unit"],
        "message": "改派处置人和改派责任单位最多填写一项",
    } in coordinate["rules"]
