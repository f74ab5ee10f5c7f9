"""Canonical XML for reading diffs: two files that differ only in how they are written read the same; a
real change stays one line."""

from __future__ import annotations

import difflib

from app.config import PROJECT_ROOT
from app.processes.canonical_xml import canonical_xml

CASE_HANDLING = (PROJECT_ROOT / "bpmn" / "case_handling.bpmn").read_text(encoding="utf-8")

HAND_WRITTEN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:scriptTask id="s" name="算分">
      <bpmn:incoming>f1</bpmn:incoming>
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="caseStatus" value="triage"/></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:documentation>说明 &amp; 备注</bpmn:documentation>
      <bpmn:script>score = 1
if score &gt; 0:
    score += 1</bpmn:script>
      <bpmn:multiInstanceLoopCharacteristics isSequential="false"></bpmn:multiInstanceLoopCharacteristics>
    </bpmn:scriptTask>
  </bpmn:process>
</bpmn:definitions>
"""

# The same diagram as another tool writes it: default namespace, other prefix, attributes in another order,
# the children in the schema's order, no default attribute, other indentation and empty-element style.
AS_THE_MODELER_WRITES_IT = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
 xmlns:spiff="http://spiffworkflow.org/bpmn/schema/1.0/core" targetNamespace="t" id="d">
    <process isExecutable="true" id="p">
        <scriptTask name="算分" id="s">
            <documentation>说明 &amp; 备注</documentation>
            <extensionElements>
                <spiff:properties>
                    <spiff:property value="triage" name="caseStatus"></spiff:property>
                </spiff:properties>
            </extensionElements>
            <incoming>f1</incoming>
            <multiInstanceLoopCharacteristics />
            <script>score = 1
if score &gt; 0:
    score += 1</script>
        </scriptTask>
    </process>
</definitions>
"""


def _changed_lines(old: str, new: str) -> list[str]:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
    return [line for line in lines if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_two_ways_of_writing_the_same_diagram_read_the_same() -> None:
    canonical = canonical_xml(HAND_WRITTEN)
    assert canonical_xml(AS_THE_MODELER_WRITES_IT) == canonical
    assert canonical.splitlines()[1] == (
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">'
    )
    assert '    <bpmn:scriptTask id="s" name="算分">' in canonical.splitlines()
    assert "      <bpmn:multiInstanceLoopCharacteristics />" in canonical.splitlines()
    # texts as they were (a script's lines and indentation are its meaning), escaped
    assert "      <bpmn:script>score = 1\nif score &gt; 0:\n    score += 1</bpmn:script>" in canonical
    assert "<bpmn:documentation>说明 &amp; 备注</bpmn:documentation>" in canonical


def test_canonical_xml_is_its_own_canonical_form() -> None:
    once = canonical_xml(CASE_HANDLING)
    assert canonical_xml(once) == once


def test_a_one_word_rename_is_one_line_whatever_the_layout_of_the_other_file() -> None:
    renamed = canonical_xml(CASE_HANDLING.replace('name="受理立案"', 'name="受理审核"', 1))
    reformatted = canonical_xml(
        CASE_HANDLING.replace("\n    ", "\n\t").replace(
            ' id="triage" name="受理立案"', ' name="受理立案" id="triage"'
        )
    )
    assert _changed_lines(reformatted, renamed) == [
        '-    <bpmn:userTask id="triage" name="受理立案">',
        '+    <bpmn:userTask id="triage" name="受理审核">',
    ]


def test_attribute_values_keep_their_line_breaks_and_quotes() -> None:
    xml = (
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
        '<bpmn:process id="p" name="两行&#10;名称 &quot;引号&quot;" /></bpmn:definitions>'
    )
    assert '<bpmn:process id="p" name="两行&#10;名称 &quot;引号&quot;" />' in canonical_xml(xml)
