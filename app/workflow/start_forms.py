"""Start forms: what a process's start event declares so that people start it from the 发起流程 catalogue.

A none start event (no message, no timer) of an executable process may carry, as ``spiffworkflow:property``
entries, ``formJsonSchemaFilename`` (its form in ``forms/``), ``candidateRoles`` (who may start it),
``startsCase`` (``true``: the submission opens a case first, as a report does) and ``caseCategory`` (that
case's category code). Read from the XML, as the designer wrote it; every problem is a deploy finding
reported with the others (``engine.parse_documents``), never a refusal on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from app.workflow.checks import Finding

_NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
_START_PROPERTIES = ("formJsonSchemaFilename", "candidateRoles", "startsCase", "caseCategory")
_EVENT_DEFINITIONS = (
    "messageEventDefinition",
    "timerEventDefinition",
    "signalEventDefinition",
    "conditionalEventDefinition",
    "errorEventDefinition",
    "escalationEventDefinition",
)


@dataclass(frozen=True)
class StartForm:
    """A process's start form as stored with its version (``ProcessDefinition.start_form``)."""

    element_id: str
    form: str
    candidate_roles: list[str]
    starts_case: bool
    case_category: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _properties(event: Any) -> dict[str, str]:
    found = {}
    for node in event.xpath(
        "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=_NS
    ):
        if node.get("name") in _START_PROPERTIES:
            found[node.get("name")] = (node.get("value") or "").strip()
    return found


def _is_none_start(event: Any) -> bool:
    return not any(event.find(f"{{{_NS['bpmn']}}}{kind}") is not None for kind in _EVENT_DEFINITIONS)


def read_start_form(
    process: Any, form_exists: Callable[[str], bool], known_roles: Iterable[str]
) -> tuple[StartForm | None, list[Finding]]:
    """The start form ``process`` (an lxml ``bpmn:process``) declares, and every problem of it."""
    declared = [
        (event, props)
        for event in process.xpath("./bpmn:startEvent", namespaces=_NS)
        if (props := _properties(event))
    ]
    if not declared:
        return None, []
    findings: list[Finding] = []
    if len(declared) > 1:
        for event, _props in declared[1:]:
            findings.append(
                Finding(event.get("id"), "only one start event of a process may declare a start form")
            )
    event, props = declared[0]
    element_id = event.get("id")
    if not _is_none_start(event):
        findings.append(
            Finding(element_id, "a start form belongs on a plain start event (no message, timer or signal)")
        )
    form = props.get("formJsonSchemaFilename", "")
    roles = sorted({r.strip() for r in props.get("candidateRoles", "").split(",") if r.strip()})
    if not form:
        findings.append(Finding(element_id, "start event has no 'formJsonSchemaFilename' property"))
    elif not form_exists(form):
        findings.append(Finding(element_id, f"form '{form}' does not exist in forms/"))
    if not roles:
        findings.append(Finding(element_id, "start event has no 'candidateRoles' property"))
    unknown = set(roles) - set(known_roles)
    if unknown:
        findings.append(Finding(element_id, f"unknown role(s) in candidateRoles: {sorted(unknown)}"))
    starts_case_text = props.get("startsCase", "false").lower() or "false"
    if starts_case_text not in ("true", "false"):
        findings.append(Finding(element_id, f"startsCase must be true or false, not '{props['startsCase']}'"))
    starts_case = starts_case_text == "true"
    category = props.get("caseCategory") or None
    if starts_case and category is None:
        findings.append(Finding(element_id, "startsCase is true but the start event has no 'caseCategory'"))
    if category is not None and not starts_case:
        findings.append(Finding(element_id, "caseCategory is given but startsCase is not true"))
    if findings:
        return None, findings
    return StartForm(element_id, form, roles, starts_case, category), []
