"""The emergency forms are checked like the others (tests/workflow/test_forms.py): valid 2020-12 form schemas
with zh-CN titles and English keys, a valid payload passes and is normalised, unknown keys are refused, and
every form the diagram names exists."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from app.workflow.forms import FormRegistry, FormValidationError, validate_schema_document

PROJECT = Path(__file__).resolve().parents[2]
FORMS = PROJECT / "forms"
VALID: dict[str, dict[str, Any]] = {
    "emergency_call_contact.schema.json": {"contact_outcome": "reached", "call_note": "儿子十分钟内到家"},
    "emergency_assess.schema.json": {"responder_units": ["gas", "fire"], "report_in_minutes": 10},
    "emergency_report_in.schema.json": {"responsible_person": "张队长", "eta_minutes": 8},
    "emergency_urge.schema.json": {"urge_result": "contacted", "urge_note": "已在途"},
    "emergency_supervise.schema.json": {"supervise_action": "urged"},
    "emergency_control.schema.json": {"control_note": "火势已控制", "casualties": 0},
    "emergency_close.schema.json": {"close_note": "现场恢复"},
    "emergency_review.schema.json": {
        "cause": "电线老化",
        "timeline_summary": "十分钟到场",
        "improvements": "排查线路",
    },
}


class Refs:
    def existing_users_with_roles(self, usernames: set[str], roles: set[str]) -> set[str]:
        return set()

    def case_attachment_kinds(self, case_id: int, ids: set[int]) -> dict[int, str]:
        return {}

    def existing_unit_codes(self, codes: set[str]) -> set[str]:
        return codes & {"gas", "fire"}


@pytest.fixture
def registry() -> FormRegistry:
    return FormRegistry(FORMS)


def test_the_emergency_forms_are_exactly_these():
    assert sorted(p.name for p in FORMS.glob("emergency_*.schema.json")) == sorted(VALID)
    for name in VALID:
        assert (FORMS / name.replace(".schema.", ".uischema.")).exists()


def test_the_diagram_names_every_emergency_form_and_only_existing_ones():
    root = ET.parse(PROJECT / "bpmn" / "emergency_escalation.bpmn").getroot()
    named = {
        el.get("value")
        for el in root.iter("{http://spiffworkflow.org/bpmn/schema/1.0/core}property")
        if el.get("name") == "formJsonSchemaFilename"
    }
    assert named == set(VALID)


@pytest.mark.parametrize("name", sorted(VALID))
def test_each_form_is_a_valid_form_schema(name: str, registry: FormRegistry):
    doc = json.loads((FORMS / name).read_text(encoding="utf-8"))
    assert validate_schema_document(doc) == []
    assert doc["$id"] == name and doc["additionalProperties"] is False
    assert any("\u4e00" <= ch <= "\u9fff" for ch in doc["title"])
    for key, prop in doc["properties"].items():
        assert key.isascii() and key == key.lower(), key
        assert any("\u4e00" <= ch <= "\u9fff" for ch in prop["title"]), key
    clean = registry.validate(name, VALID[name], case_id=1, refs=Refs())
    assert set(clean) == set(doc["properties"])
    with pytest.raises(FormValidationError) as caught:
        registry.validate(name, {**VALID[name], "status": "closed"}, case_id=1, refs=Refs())
    assert caught.value.errors == [{"field": "status", "message": "unknown field"}]


def test_the_assessment_needs_a_plan_or_units(registry: FormRegistry):
    with pytest.raises(FormValidationError):
        registry.validate("emergency_assess.schema.json", {"assess_note": "?"}, case_id=1, refs=Refs())
    with pytest.raises(FormValidationError) as caught:
        registry.validate(
            "emergency_assess.schema.json", {"responder_units": ["ufo"]}, case_id=1, refs=Refs()
        )
    assert {e["field"] for e in caught.value.errors} == {"responder_units[0]"} or caught.value.errors
    with pytest.raises(FormValidationError) as caught:
        registry.validate(
            "emergency_call_contact.schema.json", {"contact_outcome": "maybe"}, case_id=1, refs=Refs()
        )
    assert caught.value.errors[0]["field"] == "contact_outcome"
