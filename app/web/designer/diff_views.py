"""The version diff page: what changed between two versions, drawn on both diagrams (added green, removed
red, changed amber, only moved grey) with the list of changes beside them; the XML text diff is the second
tab, normalized by default (``canonical_xml``) so that how a tool writes its file is not a change."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_babel import lazy_pgettext

from app.errors import InvalidInput
from app.processes import services as processes
from app.processes.bpmn_diff import semantic_diff
from app.processes.canonical_xml import canonical_xml
from app.web.designer import bp
from app.web.designer.diff import xml_diff
from app.web.designer.views import _definition, _version_arg
from app.web.security import allow_inline_style_attributes
from app.workflow import deploy

VIEWS = ("diagram", "text")

KIND_LABELS = {
    "changed": lazy_pgettext("diff", "Changed"),
    "added": lazy_pgettext("diff", "Added"),
    "removed": lazy_pgettext("diff", "Removed"),
    "moved": lazy_pgettext("diff", "Only moved"),
}

TYPE_LABELS = {
    "userTask": lazy_pgettext("bpmn", "User task"),
    "serviceTask": lazy_pgettext("bpmn", "Service task"),
    "scriptTask": lazy_pgettext("bpmn", "Script task"),
    "businessRuleTask": lazy_pgettext("bpmn", "Business rule task"),
    "manualTask": lazy_pgettext("bpmn", "Manual task"),
    "sendTask": lazy_pgettext("bpmn", "Send task"),
    "receiveTask": lazy_pgettext("bpmn", "Receive task"),
    "task": lazy_pgettext("bpmn", "Task"),
    "callActivity": lazy_pgettext("bpmn", "Call activity"),
    "subProcess": lazy_pgettext("bpmn", "Sub-process"),
    "startEvent": lazy_pgettext("bpmn", "Start event"),
    "endEvent": lazy_pgettext("bpmn", "End event"),
    "intermediateCatchEvent": lazy_pgettext("bpmn", "Intermediate catch event"),
    "intermediateThrowEvent": lazy_pgettext("bpmn", "Intermediate throw event"),
    "boundaryEvent": lazy_pgettext("bpmn", "Boundary event"),
    "exclusiveGateway": lazy_pgettext("bpmn", "Exclusive gateway"),
    "parallelGateway": lazy_pgettext("bpmn", "Parallel gateway"),
    "inclusiveGateway": lazy_pgettext("bpmn", "Inclusive gateway"),
    "eventBasedGateway": lazy_pgettext("bpmn", "Event-based gateway"),
    "sequenceFlow": lazy_pgettext("bpmn", "Sequence flow"),
    "messageFlow": lazy_pgettext("bpmn", "Message flow"),
    "lane": lazy_pgettext("bpmn", "Lane"),
    "participant": lazy_pgettext("bpmn", "Pool"),
    "process": lazy_pgettext("bpmn", "Process"),
    "message": lazy_pgettext("bpmn", "Message"),
    "dataObjectReference": lazy_pgettext("bpmn", "Data object"),
    "textAnnotation": lazy_pgettext("bpmn", "Text annotation"),
}

PROPERTY_LABELS = {
    "type": lazy_pgettext("diff", "Element type"),
    "name": lazy_pgettext("diff", "Name"),
    "documentation": lazy_pgettext("diff", "Documentation"),
    "text": lazy_pgettext("diff", "Text"),
    "condition": lazy_pgettext("diff", "Condition"),
    "source": lazy_pgettext("diff", "From"),
    "target": lazy_pgettext("diff", "To"),
    "defaultFlow": lazy_pgettext("diff", "Default flow"),
    "attachedTo": lazy_pgettext("diff", "Attached to"),
    "cancelActivity": lazy_pgettext("diff", "Interrupting"),
    "script": lazy_pgettext("diff", "Script"),
    "operator": lazy_pgettext("diff", "Operator"),
    "operator.resultVariable": lazy_pgettext("diff", "Result variable"),
    "event": lazy_pgettext("diff", "Event type"),
    "timer.timeDuration": lazy_pgettext("diff", "Timer (duration)"),
    "timer.timeDate": lazy_pgettext("diff", "Timer (date)"),
    "timer.timeCycle": lazy_pgettext("diff", "Timer (cycle)"),
    "message.messageRef": lazy_pgettext("diff", "Message"),
    "calledElement": lazy_pgettext("diff", "Called process"),
    "flowNodeRef": lazy_pgettext("diff", "Elements in the lane"),
}
PROPERTY_PREFIXES = {
    "property:": lazy_pgettext("diff", "Property"),
    "parameter:": lazy_pgettext("diff", "Parameter"),
}


def property_label(key: str) -> str:
    """A property key of the semantic diff as the reader says it: ``property:candidateRoles`` → 属性
    candidateRoles; keys with no label (rare attributes, other tools' extensions) as they are."""
    if key in PROPERTY_LABELS:
        return str(PROPERTY_LABELS[key])
    for prefix, label in PROPERTY_PREFIXES.items():
        if key.startswith(prefix):
            return f"{label} {key.removeprefix(prefix)}"
    return key


@bp.route("/processes/<key>/diff")
def version_diff(key: str) -> Any:
    """``?a=N&b=M`` (default: the newest version against the one before it); ``view=diagram`` (default) or
    ``text``; on the text tab ``format=raw`` diffs the stored bytes instead of the normalized XML."""
    latest = _definition(key)
    b = _version_arg("b") or latest.version
    a = _version_arg("a") or max(b - 1, 1)
    view = request.args.get("view") or "diagram"
    if view not in VIEWS:
        raise InvalidInput("bad view", {"view": "expected diagram or text"})
    raw = request.args.get("format") == "raw"
    old, new = _definition(key, a), _definition(key, b)
    old_xml, new_xml = deploy.definition_xml(key, a), deploy.definition_xml(key, b)
    versions = [v.version for v in processes.definition_versions(key) if v.kind == "bpmn"]
    context: dict[str, Any] = {
        "key": key,
        "old": old,
        "new": new,
        "versions": versions,
        "view": view,
        "raw": raw,
        "semantic": semantic_diff(old_xml, new_xml),
        "kind_labels": KIND_LABELS,
        "type_labels": TYPE_LABELS,
        "property_label": property_label,
    }
    if view == "text":
        if not raw:
            old_xml, new_xml = canonical_xml(old_xml), canonical_xml(new_xml)
        context["diff"] = xml_diff(old_xml, new_xml, f"{key} v{a}", f"{key} v{b}")
    else:
        allow_inline_style_attributes("bpmn-js writes style attributes into the SVG of the diagrams")
    return render_template("designer/diff.html", **context)
