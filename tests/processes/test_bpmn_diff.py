"""The semantic diff of two diagram versions: which elements were added, removed, changed (and which of their
properties) or only moved, read from the two XMLs."""

from __future__ import annotations

import pytest

from app.config import PROJECT_ROOT
from app.processes.bpmn_diff import NotADiagram, PropertyChange, semantic_diff

CASE_HANDLING = (PROJECT_ROOT / "bpmn" / "case_handling.bpmn").read_text(encoding="utf-8")
EMERGENCY = (PROJECT_ROOT / "bpmn" / "emergency_escalation.bpmn").read_text(encoding="utf-8")
SENSOR_ALARM = (PROJECT_ROOT / "bpmn" / "sensor_alarm.bpmn").read_text(encoding="utf-8")


def _replace(xml: str, old: str, new: str) -> str:
    assert xml.count(old) == 1, f"{old!r} is not in the diagram exactly once"
    return xml.replace(old, new)


def test_the_same_diagram_has_no_differences() -> None:
    assert semantic_diff(CASE_HANDLING, CASE_HANDLING).identical


def test_a_rename_is_one_changed_element_with_its_old_and_new_name() -> None:
    renamed = _replace(
        CASE_HANDLING,
        '<bpmn:userTask id="triage" name="受理立案">',
        '<bpmn:userTask id="triage" name="受理审核">',
    )
    diff = semantic_diff(CASE_HANDLING, renamed)
    [entry] = diff.entries
    assert (entry.kind, entry.element_id, entry.type, entry.name) == (
        "changed",
        "triage",
        "userTask",
        "受理审核",
    )
    assert entry.changes == (PropertyChange("name", "受理立案", "受理审核"),)
    assert diff.counts() == {"changed": 1, "added": 0, "removed": 0, "moved": 0}


def test_an_added_task_between_two_elements_is_added_with_its_flow_and_the_old_flow_changed() -> None:
    """A task put on the flow from triage to its gateway: the task, its shape and the new flow are added; the
    old flow now ends at the task (its target changed)."""
    added = _replace(
        CASE_HANDLING,
        '<bpmn:sequenceFlow id="flow_triage_gw" sourceRef="triage" targetRef="gw_triage" />',
        '<bpmn:sequenceFlow id="flow_triage_gw" sourceRef="triage" targetRef="check_photos" />'
        '<bpmn:userTask id="check_photos" name="核对照片">'
        "<bpmn:extensionElements><spiffworkflow:properties>"
        '<spiffworkflow:property name="candidateRoles" value="dispatcher" />'
        "</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>"
        '<bpmn:sequenceFlow id="flow_photos_gw" sourceRef="check_photos" targetRef="gw_triage" />',
    )
    added = _replace(
        added,
        '<bpmndi:BPMNShape id="triage_di" bpmnElement="triage">',
        '<bpmndi:BPMNShape id="check_photos_di" bpmnElement="check_photos"><dc:Bounds x="400" y="190" '
        'width="100" height="80" /></bpmndi:BPMNShape><bpmndi:BPMNShape id="triage_di" bpmnElement="triage">',
    )
    diff = semantic_diff(CASE_HANDLING, added)
    assert [(e.kind, e.element_id) for e in diff.entries] == [
        ("changed", "flow_triage_gw"),
        ("added", "check_photos"),
        ("added", "flow_photos_gw"),
    ]
    assert diff.entries[0].changes == (PropertyChange("target", "gw_triage", "check_photos"),)
    assert diff.entries[1].type == "userTask" and diff.entries[1].name == "核对照片"
    # and the other way round, the same elements are removed
    back = semantic_diff(added, CASE_HANDLING)
    assert [(e.kind, e.element_id) for e in back.entries] == [
        ("changed", "flow_triage_gw"),
        ("removed", "check_photos"),
        ("removed", "flow_photos_gw"),
    ]


def test_a_changed_condition_names_the_flow_and_both_conditions() -> None:
    changed = _replace(
        CASE_HANDLING,
        '<bpmn:conditionExpression>triage_decision == "reject"</bpmn:conditionExpression>',
        '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">triage_decision in ("reject", "spam")'
        "</bpmn:conditionExpression>",
    ).replace(
        "<bpmn:definitions ", '<bpmn:definitions xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ', 1
    )
    [entry] = semantic_diff(CASE_HANDLING, changed).entries
    assert (entry.kind, entry.element_id, entry.type, entry.name) == (
        "changed",
        "flow_reject",
        "sequenceFlow",
        "不予立案",
    )
    # the modeler's xsi:type on the expression is typing, not a change
    assert entry.changes == (
        PropertyChange("condition", 'triage_decision == "reject"', 'triage_decision in ("reject", "spam")'),
    )


def test_a_changed_extension_property_and_a_new_one_are_listed_by_property_name() -> None:
    changed = _replace(
        CASE_HANDLING,
        '<spiffworkflow:property name="candidateRoles" value="dispatcher" />\n'
        '          <spiffworkflow:property name="caseStatus" value="triage" />',
        '<spiffworkflow:property name="candidateRoles" value="dispatcher,supervisor" />\n'
        '          <spiffworkflow:property name="caseStatus" value="triage" />\n'
        '          <spiffworkflow:property name="dueAt" value="due_at" />',
    )
    [entry] = semantic_diff(CASE_HANDLING, changed).entries
    assert entry.element_id == "triage"
    assert entry.changes == (
        PropertyChange("property:candidateRoles", "dispatcher", "dispatcher,supervisor"),
        PropertyChange("property:dueAt", None, "due_at"),
    )


def test_operator_parameters_timers_and_scripts_are_properties_of_their_element() -> None:
    changed = _replace(
        CASE_HANDLING,
        '<spiffworkflow:parameter id="status" type="str" value="&quot;withdrawn&quot;" />',
        '<spiffworkflow:parameter id="status" type="str" value="&quot;cancelled&quot;" />',
    )
    [entry] = semantic_diff(CASE_HANDLING, changed).entries
    assert entry.element_id == "finish_withdrawn"
    assert entry.changes == (PropertyChange("parameter:status", '"withdrawn" (str)', '"cancelled" (str)'),)

    duration = "<bpmn:timeDuration>call_time_limit</bpmn:timeDuration>"
    timer = SENSOR_ALARM.replace(
        duration, '<bpmn:timeDuration>"PT2H"</bpmn:timeDuration>', 1
    )  # the first of two
    [entry] = semantic_diff(SENSOR_ALARM, timer).entries
    assert (entry.element_id, entry.type) == ("resident_timeout", "boundaryEvent")
    assert entry.changes == (PropertyChange("timer.timeDuration", "call_time_limit", '"PT2H"'),)

    script = _replace(
        EMERGENCY,
        '<bpmn:script>call_round = {"index": None, "outcome": None, "next_index": 0}</bpmn:script>',
        '<bpmn:script>\n          call_round = {"index": None, "outcome": None, "next_index": 1}\n'
        "        </bpmn:script>",
    )
    [entry] = semantic_diff(EMERGENCY, script).entries
    assert (entry.element_id, entry.type) == ("cr_init", "scriptTask")
    assert entry.changes == (
        PropertyChange(
            "script",
            'call_round = {"index": None, "outcome": None, "next_index": 0}',
            'call_round = {"index": None, "outcome": None, "next_index": 1}',
        ),
    )


def test_a_reindented_script_and_reordered_lane_members_are_not_changes() -> None:
    script = _replace(
        EMERGENCY,
        '<bpmn:script>call_round = {"index": None, "outcome": None, "next_index": 0}</bpmn:script>',
        '<bpmn:script>\n    call_round = {"index": None, "outcome": None, "next_index": 0}\n</bpmn:script>',
    )
    assert semantic_diff(EMERGENCY, script).identical
    lanes = _replace(
        CASE_HANDLING,
        "<bpmn:flowNodeRef>start_report</bpmn:flowNodeRef>\n"
        "        <bpmn:flowNodeRef>triage</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>triage</bpmn:flowNodeRef>\n"
        "        <bpmn:flowNodeRef>start_report</bpmn:flowNodeRef>",
    )
    assert semantic_diff(CASE_HANDLING, lanes).identical


def test_a_moved_shape_is_moved_not_changed_and_a_new_flow_source_is_a_change() -> None:
    moved = _replace(
        CASE_HANDLING,
        '<bpmndi:BPMNShape id="triage_di" bpmnElement="triage"><dc:Bounds x="250" y="190"',
        '<bpmndi:BPMNShape id="triage_di" bpmnElement="triage"><dc:Bounds x="270" y="190"',
    )
    [entry] = semantic_diff(CASE_HANDLING, moved).entries
    assert (entry.kind, entry.element_id, entry.changes) == ("moved", "triage", ())

    rewired = _replace(
        CASE_HANDLING,
        '<bpmn:sequenceFlow id="flow_triage_gw" sourceRef="triage" targetRef="gw_triage" />',
        '<bpmn:sequenceFlow id="flow_triage_gw" sourceRef="start_report" targetRef="gw_triage" />',
    )
    [entry] = semantic_diff(CASE_HANDLING, rewired).entries
    assert entry.changes == (PropertyChange("source", "triage", "start_report"),)


def test_as_dict_is_what_the_api_answers() -> None:
    renamed = CASE_HANDLING.replace('name="受理立案"', 'name="受理审核"', 1)
    assert semantic_diff(CASE_HANDLING, renamed).as_dict() == {
        "counts": {"changed": 1, "added": 0, "removed": 0, "moved": 0},
        "entries": [
            {
                "kind": "changed",
                "element_id": "triage",
                "type": "userTask",
                "name": "受理审核",
                "changes": [{"property": "name", "old": "受理立案", "new": "受理审核"}],
            }
        ],
    }


@pytest.mark.parametrize("xml", ["<not-closed", "<html/>"])
def test_what_is_not_a_diagram_is_refused(xml: str) -> None:
    with pytest.raises(NotADiagram):
        semantic_diff(CASE_HANDLING, xml)
