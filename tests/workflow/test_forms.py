"""Tests for the JSON Schema task forms (forms/*.schema.json) and app.workflow.forms."""

from __future__ import annotations

import copy
import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from app.workflow.forms import (
    FormNotFound,
    FormRegistry,
    FormSchemaError,
    FormValidationError,
    validate_schema_document,
)
from tests.emergency.test_forms import VALID as EMERGENCY_VALID

PROJECT = Path(__file__).resolve().parents[2]
FORMS_DIR = PROJECT / "forms"
BPMN_FILE = PROJECT / "bpmn" / "case_handling.bpmn"

CASE_ID = 7
OTHER_CASE_ID = 8


class FakeRefs:
    """Test double for the database look-ups behind x-user-role and x-attachments."""

    def __init__(self) -> None:
        self.users: dict[str, set[str]] = {
            "alice": {"grid_worker"},
            "dora": {"department_handler"},
            "sam": {"supervisor"},
            "retired": set(),  # stands for an inactive user: the real query filters those out
        }
        self.attachments: dict[int, dict[int, str]] = {
            CASE_ID: {11: "before", 12: "report", 13: "other", 21: "after", 22: "after", 23: "after"},
            OTHER_CASE_ID: {31: "after", 32: "before"},
        }
        self.user_calls: list[tuple[set[str], set[str]]] = []
        self.attachment_calls: list[tuple[int, set[int]]] = []

    def existing_users_with_roles(self, usernames: set[str], roles: set[str]) -> set[str]:
        self.user_calls.append((set(usernames), set(roles)))
        return {name for name in usernames if self.users.get(name, set()) & roles}

    def case_attachment_kinds(self, case_id: int, ids: set[int]) -> dict[int, str]:
        self.attachment_calls.append((case_id, set(ids)))
        kinds = self.attachments.get(case_id, {})
        return {i: kinds[i] for i in ids if i in kinds}

    def existing_unit_codes(self, codes: set[str]) -> set[str]:
        return codes & {"water", "gas"}


VALID: dict[str, dict[str, Any]] = {
    "report.schema.json": {
        "title": "井盖缺失",
        "description": "人民路与解放路交叉口东侧井盖缺失,存在安全隐患。",
        "category_code": "P0101",
        "severity": "orange",
        "lat": 30.2741,
        "lon": 120.1551,
        "address": "人民路 18 号",
        "source_channel": "grid_worker",
    },
    "triage.schema.json": {"triage_decision": "accept", "severity": "red", "triage_note": "情况属实"},
    "dispatch.schema.json": {"handler_user": "alice", "time_limit_hours": 24, "dispatch_note": "请尽快处置"},
    "handle.schema.json": {
        "handle_result": "resolved",
        "handle_description": "已更换新井盖",
        "before_photos": [11, 12, 13],
    },
    "photo_proof.schema.json": {"after_photos": [21, 22], "proof_note": "现场已恢复"},
    "review.schema.json": {"review_decision": "approve"},
    "supervise.schema.json": {"action": "urge", "supervise_note": "请今日内完成"},
    "coordinate.schema.json": {
        "coordinate_decision": "summon",
        "summon_units": ["gas", "water"],
        "coordinate_note": "燃气公司牵头",
    },
    "coordinate_district.schema.json": {"coordinate_decision": "return", "handover_unit": "gas"},
    "report_in.schema.json": {"responsible_person": "张工", "report_in_note": "30 分钟内到场"},
    "call_resident.schema.json": {"resident_outcome": "no_answer", "call_note": "响铃无人接听"},
    "call_contact.schema.json": {"contact_outcome": "answered_ok", "call_note": "儿子已到家查看"},
    "confirm_clear.schema.json": {"clear_decision": "cleared"},
    "verify.schema.json": {"verify_decision": "close"},
    # the grid worker's step of bpmn/sensor_alarm.bpmn (behaviour in tests/devices/test_sensor_alarm.py)
    "sensor_handle.schema.json": {
        "alarm_cleared_at": "2026-11-02T09:20:00+00:00",
        "handle_result": "resolved",
        "handle_description": "到场核实,已无漏水",
    },
    # dispute mediation (bpmn/dispute_mediation.bpmn; behaviour in tests/mediation)
    "mediation_intake.schema.json": {"grade": "complex", "dispute_type": "noise", "intake_note": "夜间噪音"},
    "mediation_session.schema.json": {
        "session_at": "2026-11-02T16:00:00+08:00",
        "session_mode": "offline",
        "session_place": "社区解忧聊天室",
        "attendees": [1, 2],
        "session_record": "当事人2同意22点后降低音量",
        "session_outcome": "agreement",
    },
    "mediation_agreement.schema.json": {"agreement_document": 5, "agreement_summary": "22点后不再施工"},
    "mediation_follow_up.schema.json": {
        "follow_up_method": "phone",
        "agreement_kept": "kept",
        "satisfaction": "satisfied",
    },
    "mediation_referral.schema.json": {"referral_to": "legal_aid", "referral_reason": "涉及赔偿,需法律援助"},
    # inspection campaigns (bpmn/inspection_campaign.bpmn; the per-campaign checklist in tests/inspections)
    "inspection_inspect.schema.json": {
        "results": {"fire_extinguisher": {"result": "fail", "note": "灭火器已过期"}},
        "photos": [1],
        "summary": "限期三日整改",
    },
    "inspection_reinspect.schema.json": {"results": {"fire_extinguisher": {"result": "pass"}}},
    "inspection_overdue.schema.json": {"note": "已电话催办相关网格员"},
    # 走访登记 (bpmn/visit_record.bpmn): the start form and its follow-up
    "visit_record.schema.json": {
        "household": "3栋2单元501 王大爷",
        "household_kind": "elderly_alone",
        "findings": "独居,燃气灶软管老化。",
        "needs_follow_up": "yes",
        "follow_up_item": "联系燃气公司更换软管",
    },
    "visit_follow_up.schema.json": {"follow_up_result": "resolved", "follow_up_note": "已更换软管"},
    # 每日网格巡查 (bpmn/daily_patrol.bpmn, started by its timer; tests/test_daily_patrol.py)
    "daily_patrol.schema.json": {"patrol_area": "锦绣小区1-6栋", "issues_found": 0, "issues_reported": "yes"},
}
FORM_NAMES = sorted(VALID)
# The emergency forms have their samples and checks next to their process (tests/emergency/test_forms.py).
ALL_FORM_NAMES = sorted({*VALID, *EMERGENCY_VALID})

REQUIRED: list[tuple[str, str]] = [
    ("report.schema.json", "title"),
    ("triage.schema.json", "triage_decision"),
    ("handle.schema.json", "handle_result"),
    ("handle.schema.json", "handle_description"),
    ("photo_proof.schema.json", "after_photos"),
    ("review.schema.json", "review_decision"),
    ("supervise.schema.json", "action"),
    ("call_resident.schema.json", "resident_outcome"),
    ("call_contact.schema.json", "contact_outcome"),
    ("confirm_clear.schema.json", "clear_decision"),
    ("verify.schema.json", "verify_decision"),
]

WRONG_TYPE: list[tuple[str, str, Any]] = [
    ("report.schema.json", "lat", "30.1"),
    ("report.schema.json", "title", 42),
    ("triage.schema.json", "triage_note", ["备注"]),
    ("dispatch.schema.json", "time_limit_hours", "24"),
    ("dispatch.schema.json", "time_limit_hours", 1.5),
    ("handle.schema.json", "handle_description", 5),
    ("handle.schema.json", "before_photos", 11),
    ("photo_proof.schema.json", "after_photos", {"0": 21}),
    ("review.schema.json", "review_comment", True),
    ("supervise.schema.json", "extend_hours", "12"),
]

ENUM_VIOLATIONS: list[tuple[str, str, str]] = [
    ("report.schema.json", "severity", "purple"),
    ("report.schema.json", "source_channel", "fax"),
    ("triage.schema.json", "triage_decision", "maybe"),
    ("triage.schema.json", "severity", "红"),
    ("handle.schema.json", "handle_result", "done"),
    ("review.schema.json", "review_decision", "ok"),
    ("supervise.schema.json", "action", "ignore"),
]


@pytest.fixture
def registry() -> FormRegistry:
    return FormRegistry(FORMS_DIR)


@pytest.fixture
def refs() -> FakeRefs:
    return FakeRefs()


def submit(
    registry: FormRegistry, refs: FakeRefs, name: str, data: Any, case_id: int | None = CASE_ID
) -> dict[str, Any]:
    return registry.validate(name, data, case_id=case_id, refs=refs)


def errors_of(
    registry: FormRegistry, refs: FakeRefs, name: str, data: Any, case_id: int | None = CASE_ID
) -> list[dict[str, str]]:
    with pytest.raises(FormValidationError) as caught:
        submit(registry, refs, name, data, case_id)
    return caught.value.errors


def fields(errors: list[dict[str, str]]) -> set[str]:
    return {e["field"] for e in errors}


def with_(name: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID[name])
    data.update(changes)
    return data


def without(name: str, *keys: str) -> dict[str, Any]:
    data = copy.deepcopy(VALID[name])
    for key in keys:
        data.pop(key, None)
    return data


# --- every form ---------------------------------------------------------------------------------


def test_forms_folder_holds_exactly_the_expected_forms(registry: FormRegistry) -> None:
    assert registry.names() == ALL_FORM_NAMES


@pytest.mark.parametrize("path", sorted(FORMS_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_file_in_forms_is_valid_json_object(path: Path) -> None:
    assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)


@pytest.mark.parametrize("path", sorted(FORMS_DIR.glob("*.schema.json")), ids=lambda p: p.name)
def test_every_form_file_passes_validate_schema_document(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert validate_schema_document(doc) == []
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"] == path.name
    assert doc["type"] == "object"
    assert doc["additionalProperties"] is False
    assert any("\u4e00" <= ch <= "\u9fff" for ch in doc["title"]), "title must be zh-CN"
    for key, prop in doc["properties"].items():
        assert key.isascii() and key == key.lower(), key
        assert any("\u4e00" <= ch <= "\u9fff" for ch in prop["title"]), key


@pytest.mark.parametrize("name", FORM_NAMES)
def test_valid_payload_passes_and_is_normalised(registry: FormRegistry, refs: FakeRefs, name: str) -> None:
    result = submit(registry, refs, name, VALID[name])
    declared = set(registry.load(name)["properties"])
    assert set(result) == declared
    for key in declared:
        assert result[key] == VALID[name].get(key)


@pytest.mark.parametrize(("name", "key"), REQUIRED)
def test_missing_required_field_names_the_field(
    registry: FormRegistry, refs: FakeRefs, name: str, key: str
) -> None:
    errors = errors_of(registry, refs, name, without(name, key))
    assert {"field": key, "message": "this field is required"} in errors


@pytest.mark.parametrize("name", FORM_NAMES)
def test_unknown_key_is_rejected_by_name(registry: FormRegistry, refs: FakeRefs, name: str) -> None:
    errors = errors_of(registry, refs, name, with_(name, case_status="closed"))
    assert errors == [{"field": "case_status", "message": "unknown field"}]


def test_each_unknown_key_is_its_own_error(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, "review.schema.json", with_("review.schema.json", zeta=1, alpha=2))
    assert errors == [
        {"field": "alpha", "message": "unknown field"},
        {"field": "zeta", "message": "unknown field"},
    ]


@pytest.mark.parametrize(("name", "key", "value"), WRONG_TYPE)
def test_wrong_type_names_the_field(
    registry: FormRegistry, refs: FakeRefs, name: str, key: str, value: Any
) -> None:
    errors = errors_of(registry, refs, name, with_(name, **{key: value}))
    assert key in fields(errors)
    assert any(e["field"] == key and e["message"].startswith("must be of type") for e in errors)


@pytest.mark.parametrize(("name", "key", "value"), ENUM_VIOLATIONS)
def test_enum_violation_lists_the_allowed_values(
    registry: FormRegistry, refs: FakeRefs, name: str, key: str, value: str
) -> None:
    errors = errors_of(registry, refs, name, with_(name, **{key: value}))
    enum = registry.load(name)["properties"][key]["enum"]
    assert {"field": key, "message": "must be one of: " + ", ".join(enum)} in errors


@pytest.mark.parametrize("name", FORM_NAMES)
def test_non_object_payload_is_rejected_at_the_root(
    registry: FormRegistry, refs: FakeRefs, name: str
) -> None:
    assert errors_of(registry, refs, name, ["not", "an", "object"]) == [
        {"field": "", "message": "must be of type object"}
    ]


def test_enum_titles_match_enums(registry: FormRegistry) -> None:
    expected = {
        ("triage.schema.json", "triage_decision"): ["立案", "不予立案", "重复案件"],
        ("triage.schema.json", "severity"): ["红", "橙", "黄", "蓝"],
        ("handle.schema.json", "handle_result"): ["已处置", "部分处置", "无法处置", "超出网格处置能力"],
        ("review.schema.json", "review_decision"): ["通过", "返工"],
        ("supervise.schema.json", "action"): ["催办", "改派", "延期"],
        ("report.schema.json", "severity"): ["红", "橙", "黄", "蓝"],
    }
    for (name, key), titles in expected.items():
        assert registry.load(name)["properties"][key]["x-enum-titles"] == titles


def test_bpmn_forms_and_gateway_keys_exist(registry: FormRegistry) -> None:
    """The diagrams in bpmn/ name every form but the report form, and case_handling's gateways read these
    keys."""
    names = {
        el.get("value", "")
        for path in sorted(BPMN_FILE.parent.glob("*.bpmn"))
        for el in ET.parse(path).getroot().iter("{http://spiffworkflow.org/bpmn/schema/1.0/core}property")
        if el.get("name") == "formJsonSchemaFilename"
    }
    assert names == {n for n in ALL_FORM_NAMES if n != "report.schema.json"}
    assert all(registry.exists(n) for n in names)
    keys = {
        "triage.schema.json": {"triage_decision", "duplicate_of"},
        "dispatch.schema.json": {"handler_user", "handler_unit", "time_limit_hours"},
        "review.schema.json": {"review_decision"},
        "supervise.schema.json": {"action", "new_handler_user", "extend_hours"},
    }
    for name, expected in keys.items():
        assert expected <= set(registry.load(name)["properties"])


# --- triage -------------------------------------------------------------------------------------

TRIAGE = "triage.schema.json"


def test_triage_reject_needs_a_reason(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, TRIAGE, {"triage_decision": "reject"})
    assert errors == [{"field": "reject_reason", "message": "this field is required"}]
    ok = submit(registry, refs, TRIAGE, {"triage_decision": "reject", "reject_reason": "不属于受理范围"})
    assert ok["reject_reason"] == "不属于受理范围"
    assert ok["duplicate_of"] is None


@pytest.mark.parametrize("reason", ["", "x", "   ", "\u3000\u3000", "长" * 501])
def test_triage_reject_reason_length_and_blank(registry: FormRegistry, refs: FakeRefs, reason: str) -> None:
    errors = errors_of(registry, refs, TRIAGE, {"triage_decision": "reject", "reject_reason": reason})
    assert fields(errors) == {"reject_reason"}


def test_triage_duplicate_needs_the_original_case(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, TRIAGE, {"triage_decision": "duplicate"})
    assert errors == [{"field": "duplicate_of", "message": "this field is required"}]
    ok = submit(registry, refs, TRIAGE, {"triage_decision": "duplicate", "duplicate_of": "GC-2024-000123"})
    assert ok["duplicate_of"] == "GC-2024-000123"


@pytest.mark.parametrize(
    "key",
    [
        "GC-24-000123",
        "gc-2024-000123",
        "GC-2024-123",
        "GC-2024-0001234",
        "X GC-2024-000123",
        "GC-2024-000123\n",
        "GC-２０２４-000123",
        "GC-2024-٠٠٠١٢٣",
    ],
)
def test_triage_duplicate_of_must_be_a_case_key(registry: FormRegistry, refs: FakeRefs, key: str) -> None:
    errors = errors_of(registry, refs, TRIAGE, {"triage_decision": "duplicate", "duplicate_of": key})
    assert errors == [{"field": "duplicate_of", "message": "must be a case number like GC-2024-000123"}]


def test_triage_accept_needs_neither_reason_nor_original(registry: FormRegistry, refs: FakeRefs) -> None:
    result = submit(registry, refs, TRIAGE, {"triage_decision": "accept"})
    assert result == {
        "triage_decision": "accept",
        "reject_reason": None,
        "duplicate_of": None,
        "category_code": None,
        "severity": None,
        "triage_note": None,
    }


def test_triage_note_max_length(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, TRIAGE, with_(TRIAGE, triage_note="注" * 1001))
    assert errors == [{"field": "triage_note", "message": "must be at most 1000 characters long"}]
    submit(registry, refs, TRIAGE, with_(TRIAGE, triage_note="注" * 1000))


# --- dispatch -----------------------------------------------------------------------------------

DISPATCH = "dispatch.schema.json"
EXACTLY_ONE = "give exactly one of handler_user or handler_unit (not both, not neither)"


def test_dispatch_to_a_unit(registry: FormRegistry, refs: FakeRefs) -> None:
    result = submit(registry, refs, DISPATCH, {"handler_unit": "water", "time_limit_hours": 72})
    assert result["handler_unit"] == "water"
    assert result["handler_user"] is None
    assert refs.user_calls == []


def test_dispatch_to_a_department_handler(registry: FormRegistry, refs: FakeRefs) -> None:
    submit(registry, refs, DISPATCH, {"handler_user": "dora", "time_limit_hours": 1})
    assert refs.user_calls == [({"dora"}, {"grid_worker", "department_handler"})]


def test_dispatch_with_both_handler_user_and_unit(registry: FormRegistry, refs: FakeRefs) -> None:
    data = {"handler_user": "alice", "handler_unit": "water", "time_limit_hours": 24}
    assert errors_of(registry, refs, DISPATCH, data) == [{"field": "", "message": EXACTLY_ONE}]


def test_dispatch_with_neither_handler_user_nor_unit(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, DISPATCH, {"time_limit_hours": 24, "dispatch_note": "…"})
    assert errors == [{"field": "", "message": EXACTLY_ONE}]


def test_dispatch_none_counts_as_not_given(registry: FormRegistry, refs: FakeRefs) -> None:
    data = {"handler_user": "alice", "handler_unit": None, "time_limit_hours": 24, "dispatch_note": None}
    result = submit(registry, refs, DISPATCH, data)
    assert result == data
    # the normalised result validates again (round trip through task data)
    assert submit(registry, refs, DISPATCH, result) == result


@pytest.mark.parametrize("hours", [0, 721, -5])
def test_dispatch_time_limit_range(registry: FormRegistry, refs: FakeRefs, hours: int) -> None:
    errors = errors_of(registry, refs, DISPATCH, with_(DISPATCH, time_limit_hours=hours))
    assert fields(errors) == {"time_limit_hours"}


def test_dispatch_time_limit_is_optional_working_hours(registry: FormRegistry, refs: FakeRefs) -> None:
    # no default: without it the category's limit applies (app.cases.dispatch.compute_limits)
    assert "default" not in registry.load(DISPATCH)["properties"]["time_limit_hours"]
    assert "工作小时" in registry.load(DISPATCH)["properties"]["time_limit_hours"]["title"]
    assert submit(registry, refs, DISPATCH, {"handler_user": "alice"})["time_limit_hours"] is None


def test_dispatch_handler_unit_must_be_an_active_unit(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, DISPATCH, {"handler_unit": "city_mgmt"})
    assert errors == [{"field": "handler_unit", "message": "no active unit with code 'city_mgmt'"}]


@pytest.mark.parametrize("unit", ["a", "_unit", "City", "unit\n", "街道办", "u" * 41, "ab cd"])
def test_dispatch_handler_unit_code_pattern(registry: FormRegistry, refs: FakeRefs, unit: str) -> None:
    errors = errors_of(registry, refs, DISPATCH, {"handler_unit": unit, "time_limit_hours": 24})
    assert fields(errors) == {"handler_unit"}
    assert errors[0]["message"].startswith("must be a unit code")


@pytest.mark.parametrize("user", ["bob", "sam", "retired"])
def test_dispatch_handler_user_must_be_grid_worker_or_department_handler(
    registry: FormRegistry, refs: FakeRefs, user: str
) -> None:
    errors = errors_of(registry, refs, DISPATCH, with_(DISPATCH, handler_user=user))
    assert errors == [
        {
            "field": "handler_user",
            "message": f"unknown user or not a grid_worker/department_handler: '{user}'",
        }
    ]


def test_error_summary_names_the_fields(registry: FormRegistry, refs: FakeRefs) -> None:
    with pytest.raises(FormValidationError) as caught:
        submit(registry, refs, DISPATCH, {"handler_user": "bob", "time_limit_hours": "24"})
    assert str(caught.value) == "2 fields failed validation: handler_user, time_limit_hours"
    assert caught.value.form == DISPATCH
    with pytest.raises(FormValidationError) as caught:
        submit(registry, refs, DISPATCH, {"time_limit_hours": 24})
    assert str(caught.value) == "1 field failed validation: (form)"


def test_all_errors_are_collected_and_sorted_by_field(registry: FormRegistry, refs: FakeRefs) -> None:
    data = {"time_limit_hours": 0, "handler_user": "bob", "dispatch_note": 3, "zz_unknown": 1}
    errors = errors_of(registry, refs, DISPATCH, data)
    assert [e["field"] for e in errors] == ["dispatch_note", "handler_user", "time_limit_hours", "zz_unknown"]
    assert errors[2] == {"field": "time_limit_hours", "message": "must be at least 1"}


# --- handle -------------------------------------------------------------------------------------

HANDLE = "handle.schema.json"


def test_handle_without_photos(registry: FormRegistry, refs: FakeRefs) -> None:
    result = submit(registry, refs, HANDLE, without(HANDLE, "before_photos"))
    assert result["before_photos"] is None
    assert refs.attachment_calls == []


def test_handle_before_photos_foreign_and_wrong_kind(registry: FormRegistry, refs: FakeRefs) -> None:
    data = with_(HANDLE, before_photos=[11, 32, 21])
    errors = errors_of(registry, refs, HANDLE, data)
    assert errors == [
        {"field": "before_photos.1", "message": "attachment 32 does not belong to this case"},
        {
            "field": "before_photos.2",
            "message": "attachment 21 is a 'after' photo, expected one of: before, report, other",
        },
    ]
    assert refs.attachment_calls == [(CASE_ID, {11, 32, 21})]


def test_handle_before_photos_unique_integers(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, HANDLE, with_(HANDLE, before_photos=[11, 11, "12", True]))
    assert errors == [
        {"field": "before_photos", "message": "must not contain the same item twice"},
        {"field": "before_photos.2", "message": "must be of type integer"},
        {"field": "before_photos.3", "message": "must be of type integer"},
    ]


def test_handle_description_length(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, HANDLE, with_(HANDLE, handle_description="好"))
    assert errors == [{"field": "handle_description", "message": "must be at least 2 characters long"}]


# --- photo proof --------------------------------------------------------------------------------

PROOF = "photo_proof.schema.json"


def test_photo_proof_empty_after_photos(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, PROOF, {"after_photos": []})
    assert errors == [
        {"field": "after_photos", "message": "at least one photo taken after handling is required"}
    ]


def test_photo_proof_at_most_nine(registry: FormRegistry, refs: FakeRefs) -> None:
    refs.attachments[CASE_ID].update({i: "after" for i in range(100, 110)})
    submit(registry, refs, PROOF, {"after_photos": list(range(100, 109))})
    errors = errors_of(registry, refs, PROOF, {"after_photos": list(range(100, 110))})
    assert errors == [{"field": "after_photos", "message": "must have at most 9 items"}]


def test_photo_proof_foreign_attachment(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, PROOF, {"after_photos": [21, 31]})
    assert errors == [{"field": "after_photos.1", "message": "attachment 31 does not belong to this case"}]


def test_photo_proof_wrong_kind(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, PROOF, {"after_photos": [11, 21, 12]})
    assert errors == [
        {"field": "after_photos.0", "message": "attachment 11 is a 'before' photo, expected one of: after"},
        {"field": "after_photos.2", "message": "attachment 12 is a 'report' photo, expected one of: after"},
    ]


def test_photo_proof_same_photos_checked_against_another_case(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, PROOF, {"after_photos": [21]}, case_id=OTHER_CASE_ID)
    assert errors == [{"field": "after_photos.0", "message": "attachment 21 does not belong to this case"}]
    submit(registry, refs, PROOF, {"after_photos": [31]}, case_id=OTHER_CASE_ID)


def test_photo_proof_without_a_case(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, PROOF, {"after_photos": [21]}, case_id=None)
    assert errors == [
        {"field": "after_photos", "message": "attachments can only be given for an existing case"}
    ]
    assert refs.attachment_calls == []


# --- review -------------------------------------------------------------------------------------

REVIEW = "review.schema.json"


def test_review_reject_needs_a_comment(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, REVIEW, {"review_decision": "reject"})
    assert errors == [{"field": "review_comment", "message": "this field is required"}]
    result = submit(
        registry, refs, REVIEW, {"review_decision": "reject", "review_comment": "照片不清晰,请补拍"}
    )
    assert result["review_decision"] == "reject"


def test_review_comment_too_short(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, REVIEW, {"review_decision": "reject", "review_comment": "差"})
    assert errors == [{"field": "review_comment", "message": "must be at least 2 characters long"}]


def test_review_approve_fills_comment_with_none(registry: FormRegistry, refs: FakeRefs) -> None:
    assert submit(registry, refs, REVIEW, {"review_decision": "approve"}) == {
        "review_decision": "approve",
        "review_comment": None,
    }


# --- supervise ----------------------------------------------------------------------------------

SUPERVISE = "supervise.schema.json"


def test_supervise_reassign_needs_new_handler(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, SUPERVISE, {"action": "reassign"})
    assert errors == [{"field": "new_handler_user", "message": "this field is required"}]
    result = submit(registry, refs, SUPERVISE, {"action": "reassign", "new_handler_user": "dora"})
    assert result == {
        "action": "reassign",
        "new_handler_user": "dora",
        "extend_hours": None,
        "supervise_note": None,
    }


def test_supervise_reassign_to_unknown_or_wrong_role(registry: FormRegistry, refs: FakeRefs) -> None:
    for user in ("nobody", "sam"):
        errors = errors_of(registry, refs, SUPERVISE, {"action": "reassign", "new_handler_user": user})
        assert errors == [
            {
                "field": "new_handler_user",
                "message": f"unknown user or not a grid_worker/department_handler: '{user}'",
            }
        ]


def test_supervise_extend_needs_hours(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, SUPERVISE, {"action": "extend"})
    assert errors == [{"field": "extend_hours", "message": "this field is required"}]
    assert submit(registry, refs, SUPERVISE, {"action": "extend", "extend_hours": 240})["extend_hours"] == 240


@pytest.mark.parametrize("hours", [0, 241])
def test_supervise_extend_hours_range(registry: FormRegistry, refs: FakeRefs, hours: int) -> None:
    errors = errors_of(registry, refs, SUPERVISE, {"action": "extend", "extend_hours": hours})
    assert fields(errors) == {"extend_hours"}


def test_supervise_urge_needs_nothing_else(registry: FormRegistry, refs: FakeRefs) -> None:
    assert submit(registry, refs, SUPERVISE, {"action": "urge"})["new_handler_user"] is None


# --- report -------------------------------------------------------------------------------------

REPORT = "report.schema.json"


def test_report_minimal_is_filled_with_none(registry: FormRegistry, refs: FakeRefs) -> None:
    assert submit(registry, refs, REPORT, {"title": "路灯不亮"}, case_id=None) == {
        "title": "路灯不亮",
        "description": None,
        "category_code": None,
        "severity": None,
        "lat": None,
        "lon": None,
        "address": None,
        "source_channel": None,
    }


@pytest.mark.parametrize(("key", "value"), [("lat", 90.5), ("lat", -91), ("lon", 180.01), ("lon", -181)])
def test_report_coordinates_range(registry: FormRegistry, refs: FakeRefs, key: str, value: float) -> None:
    errors = errors_of(registry, refs, REPORT, with_(REPORT, **{key: value}))
    assert fields(errors) == {key}


def test_report_coordinates_come_in_pairs(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, REPORT, without(REPORT, "lon"))
    assert errors == [{"field": "lon", "message": "required when lat is given"}]


@pytest.mark.parametrize("code", ["1", "E1", "E010203", "0102", "e0102", "Ｅ0102", "E0102\n", "X0102"])
def test_report_category_code(registry: FormRegistry, refs: FakeRefs, code: str) -> None:
    errors = errors_of(registry, refs, REPORT, with_(REPORT, category_code=code))
    assert errors == [{"field": "category_code", "message": "must be a category code such as E01 or E0102"}]


def test_report_long_title_is_not_echoed(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = errors_of(registry, refs, REPORT, {"title": "标" * 121})
    assert errors == [{"field": "title", "message": "must be at most 120 characters long"}]


# --- registry -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../pyproject.toml",
        "../forms/triage.schema.json",
        "/etc/passwd",
        "..",
        "triage",
        "TRIAGE.schema.json",
        "triage.schema.json/../../x.schema.json",
        "sub/triage.schema.json",
        "triage.uischema.json",
        "triage.schema.json\x00",
        "",
    ],
)
def test_bad_names_are_rejected(registry: FormRegistry, refs: FakeRefs, name: str) -> None:
    with pytest.raises(FormNotFound) as caught:
        registry.load(name)
    assert repr(name) in str(caught.value)
    with pytest.raises(FormNotFound):
        registry.validate(name, {}, case_id=None, refs=refs)
    with pytest.raises(FormNotFound):
        registry.ui_schema(name)
    assert registry.exists(name) is False


def test_symlink_escaping_the_folder_is_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside.schema.json"
    shutil.copy(FORMS_DIR / "review.schema.json", outside)
    folder = tmp_path / "forms"
    folder.mkdir()
    (folder / "evil.schema.json").symlink_to(outside)
    with pytest.raises(FormNotFound, match=r"evil\.schema\.json"):
        FormRegistry(folder).load("evil.schema.json")


def test_missing_form_names_the_file(registry: FormRegistry) -> None:
    with pytest.raises(FormNotFound, match=r"nosuch\.schema\.json"):
        registry.load("nosuch.schema.json")
    assert registry.exists("nosuch.schema.json") is False
    assert registry.exists("triage.schema.json") is True


def test_ui_schemas(registry: FormRegistry, tmp_path: Path) -> None:
    for name in FORM_NAMES:
        ui = registry.ui_schema(name)
        assert ui is not None
        assert set(ui["ui:order"]) == set(registry.load(name)["properties"]), name
    shutil.copy(FORMS_DIR / "review.schema.json", tmp_path / "review.schema.json")
    assert FormRegistry(tmp_path).ui_schema("review.schema.json") is None


def test_load_returns_a_copy(registry: FormRegistry, refs: FakeRefs) -> None:
    registry.load(REVIEW)["properties"].clear()
    assert "review_comment" in registry.load(REVIEW)["properties"]
    assert submit(registry, refs, REVIEW, {"review_decision": "approve"})["review_comment"] is None


def test_load_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "review.schema.json"
    shutil.copy(FORMS_DIR / "review.schema.json", path)
    registry = FormRegistry(tmp_path)
    first = registry.load("review.schema.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["title"] = "核查结案(新版)"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert first["title"] == "核查结案"
    assert registry.load("review.schema.json")["title"] == "核查结案(新版)"


def test_broken_form_file_raises_form_schema_error(tmp_path: Path) -> None:
    (tmp_path / "broken.schema.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "open.schema.json").write_text(
        json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {"a": {"type": "string"}},
            }
        ),
        encoding="utf-8",
    )
    registry = FormRegistry(tmp_path)
    with pytest.raises(FormSchemaError, match=r"broken\.schema\.json"):
        registry.load("broken.schema.json")
    with pytest.raises(FormSchemaError, match="additionalProperties"):
        registry.load("open.schema.json")


def test_user_lookup_once_per_value(registry: FormRegistry, refs: FakeRefs) -> None:
    submit(registry, refs, SUPERVISE, {"action": "reassign", "new_handler_user": "alice"})
    assert refs.user_calls == [({"alice"}, {"grid_worker", "department_handler"})]


# --- validate_schema_document ---------------------------------------------------------------------


def minimal_form(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "x.schema.json",
        "title": "测试",
        "type": "object",
        "additionalProperties": False,
        "properties": {"a": {"type": "string"}},
    }
    doc.update(changes)
    return doc


def test_minimal_form_is_valid() -> None:
    assert validate_schema_document(minimal_form()) == []


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ([], "JSON object"),
        (minimal_form(type="array"), '"type": "object"'),
        (minimal_form(additionalProperties=True), '"additionalProperties": false'),
        ({k: v for k, v in minimal_form().items() if k != "additionalProperties"}, "additionalProperties"),
        (minimal_form(**{"$schema": "http://json-schema.org/draft-07/schema#"}), "$schema"),
        (minimal_form(properties={"a": {"type": "string", "minLength": -1}}), "/properties/a/minLength"),
        (minimal_form(properties={"a": {"type": "text"}}), "/properties/a/type"),
        (minimal_form(required="a"), "/required"),
        (minimal_form(required=["b"]), "'b' is not declared"),
        (
            minimal_form(**{"if": {"required": ["a"]}, "then": {"required": ["c"]}}),
            "/then: required property 'c'",
        ),
        (minimal_form(properties={"a": {"type": "string", "pattern": "("}}), "invalid regular expression"),
        (minimal_form(properties={"a": {"type": "string", "x-user-role": "grid_worker"}}), "x-user-role"),
        (
            minimal_form(properties={"a": {"type": "array", "x-attachments": {"kinds": ["after"]}}}),
            "x-attachments",
        ),
        (minimal_form(properties={"a": {"enum": ["x", "y"], "x-enum-titles": ["甲"]}}), "x-enum-titles"),
        (minimal_form(properties={}), "properties"),
    ],
)
def test_validate_schema_document_problems(doc: Any, fragment: str) -> None:
    problems = validate_schema_document(doc)
    assert any(fragment in p for p in problems), problems


# --- pointers and messages in both languages ------------------------------------------------------


def field_errors_of(registry: FormRegistry, refs: FakeRefs, name: str, data: Any) -> list[dict[str, Any]]:
    with pytest.raises(FormValidationError) as caught:
        submit(registry, refs, name, data, CASE_ID)
    return caught.value.field_errors


def test_errors_carry_the_json_pointer_and_zh_cn_messages(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = field_errors_of(registry, refs, TRIAGE, {"triage_decision": "duplicate", "duplicate_of": "GC-1"})
    assert errors == [
        {
            "field": "duplicate_of",
            "pointer": "/duplicate_of",
            "message": "must be a case number like GC-2024-000123",
            "messages": {
                "zh-CN": "须为案件编号,如 GC-2024-000123",
                "en": "must be a case number like GC-2024-000123",
            },
        }
    ]
    missing = field_errors_of(registry, refs, HANDLE, {"handle_result": "beyond_means"})
    assert [(e["pointer"], e["messages"]["zh-CN"]) for e in missing] == [
        ("/beyond_means_reason", "此项必填"),
        ("/handle_description", "此项必填"),
    ]


def test_nested_pointers_and_type_messages(registry: FormRegistry, refs: FakeRefs) -> None:
    errors = field_errors_of(
        registry, refs, "coordinate.schema.json", {"coordinate_decision": "summon", "summon_units": ["A/B"]}
    )
    assert [(e["pointer"], e["messages"]["zh-CN"]) for e in errors] == [
        ("/summon_units/0", "单位编码为 2-40 位小写字母、数字、“_”或“-”"),
        ("/summon_units/0", "没有该编码的在用单位"),  # our keyword x-unit-code, in zh-CN too
    ]
    wrong = field_errors_of(registry, refs, HANDLE, {"handle_result": 3, "handle_description": "ok"})
    assert [(e["pointer"], e["messages"]["zh-CN"]) for e in wrong] == [("/handle_result", "应为文本")]


def test_x_error_messages_take_both_languages_or_a_string() -> None:
    both = minimal_form(
        properties={"a": {"type": "string", "x-error-messages": {"pattern": {"zh-CN": "甲", "en": "a"}}}}
    )
    assert validate_schema_document(both) == []
    half = minimal_form(properties={"a": {"type": "string", "x-error-messages": {"pattern": {"en": "a"}}}})
    assert any("x-error-messages" in problem for problem in validate_schema_document(half))


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"^\w+$", "中文", False),  # ECMA \w is ASCII (Python's would match)
        (r"^\s$", "\u0085", False),  # NEL is no ECMA whitespace (Python's \s matches it)
        (r"^(?<year>\d{4})$", "2024", True),  # ECMA named groups (Python spells them (?P<…>))
        (r"^\d+$", "１２", False),  # full-width digits from a Chinese IME
        (r"^a$", "a\n", False),  # $ is the end, not before a final newline
    ],
)
def test_pattern_is_matched_as_ecma_262_like_the_browser(
    registry: FormRegistry, refs: FakeRefs, pattern: str, value: str, matches: bool
) -> None:
    form = minimal_form(properties={"a": {"type": "string", "pattern": pattern}})
    assert validate_schema_document(form) == []
    if matches:
        assert registry.validate_document(form, {"a": value}, case_id=None, refs=refs)["a"] == value
    else:
        with pytest.raises(FormValidationError):
            registry.validate_document(form, {"a": value}, case_id=None, refs=refs)
