"""What changed between two versions of a diagram, element by element: added, removed, changed (with the
changed properties) and moved (only the layout changed).

An element is anything the designer places or names: a flow element, lane, participant, message flow,
artifact, or a root element such as a message. Everything inside it that has no place on the canvas of its
own (its event definition, condition, script, loop characteristics, extension properties, operator
parameters) is one of its properties, keyed by what it means (``condition``, ``timer.timeDuration``,
``property:candidateRoles``, ``parameter:status``). Ids of those inner parts are ignored (the modeler makes
them up), and so are ``incoming``/``outgoing``, which only repeat the flows' ``source``/``target``.

Texts compare after dedenting and stripping, so re-indenting a script is not a change.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from app.processes.canonical_xml import is_schema_default

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

Kind = Literal["changed", "added", "removed", "moved"]
KINDS: tuple[Kind, ...] = ("changed", "added", "removed", "moved")

# Elements whose children with an id are elements of their own (on the canvas or in the list).
_CONTAINERS = {
    "definitions",
    "process",
    "subProcess",
    "transaction",
    "adHocSubProcess",
    "collaboration",
    "laneSet",
}
_NOT_ELEMENTS = {"laneSet"}  # a container with an id, but nothing a designer names or places
_DERIVED = {"incoming", "outgoing"}  # repeat the flows' sourceRef/targetRef
_ATTRIBUTE_KEYS = {
    "sourceRef": "source",
    "targetRef": "target",
    "attachedToRef": "attachedTo",
    "default": "defaultFlow",
}
_TEXT_KEYS = {"conditionExpression": "condition", "script": "script", "documentation": "documentation"}


class NotADiagram(ValueError):
    """The XML cannot be read as a BPMN document."""


@dataclass(frozen=True)
class PropertyChange:
    key: str
    old: str | None  # None: the property is new
    new: str | None  # None: the property was removed


@dataclass(frozen=True)
class ElementChange:
    kind: Kind
    element_id: str
    type: str  # the BPMN element's local name: userTask, sequenceFlow, …
    name: str  # the newest name it has ("" when unnamed)
    changes: tuple[PropertyChange, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "element_id": self.element_id,
            "type": self.type,
            "name": self.name,
            "changes": [{"property": c.key, "old": c.old, "new": c.new} for c in self.changes],
        }


@dataclass(frozen=True)
class SemanticDiff:
    entries: list[ElementChange] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.entries

    def of_kind(self, kind: Kind) -> list[ElementChange]:
        return [e for e in self.entries if e.kind == kind]

    def counts(self) -> dict[str, int]:
        return {kind: len(self.of_kind(kind)) for kind in KINDS}

    def as_dict(self) -> dict[str, object]:
        return {"counts": self.counts(), "entries": [e.as_dict() for e in self.entries]}


@dataclass(frozen=True)
class _Element:
    type: str
    name: str
    properties: dict[str, str]


def semantic_diff(old_xml: str | bytes, new_xml: str | bytes) -> SemanticDiff:
    """The elements of ``new_xml`` compared with those of ``old_xml`` by id: changed first, then added,
    removed and moved, each in document order."""
    old_root, new_root = _parse(old_xml), _parse(new_xml)
    old, new = _elements(old_root), _elements(new_root)
    old_layout, new_layout = _layout(old_root), _layout(new_root)
    changed: list[ElementChange] = []
    added: list[ElementChange] = []
    moved: list[ElementChange] = []
    for element_id, element in new.items():
        before = old.get(element_id)
        if before is None:
            added.append(ElementChange("added", element_id, element.type, element.name))
        elif changes := _property_changes(before, element):
            changed.append(ElementChange("changed", element_id, element.type, element.name, changes))
        elif old_layout.get(element_id) != new_layout.get(element_id):
            moved.append(ElementChange("moved", element_id, element.type, element.name))
    removed = [
        ElementChange("removed", element_id, element.type, element.name)
        for element_id, element in old.items()
        if element_id not in new
    ]
    return SemanticDiff(changed + added + removed + moved)


def _parse(xml: str | bytes) -> etree._Element:
    content = xml.encode("utf-8") if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise NotADiagram(f"not well-formed XML: {exc}") from exc
    if etree.QName(root).namespace != BPMN or etree.QName(root).localname != "definitions":
        raise NotADiagram("not a BPMN document (no bpmn:definitions root)")
    return root


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname


def _elements(root: etree._Element) -> dict[str, _Element]:
    found: dict[str, _Element] = {}

    def visit(container: etree._Element) -> None:
        for child in container:
            if not isinstance(child.tag, str) or etree.QName(child).namespace != BPMN:
                continue
            local = _local(child)
            element_id = child.get("id")
            if element_id and local not in _NOT_ELEMENTS:
                properties = _properties(child)
                name = child.get("name") or properties.get("text", "")  # a text annotation: its text
                found[element_id] = _Element(local, name.strip(), properties)
            if local in _CONTAINERS:
                visit(child)

    visit(root)
    return found


def _properties(element: etree._Element) -> dict[str, str]:
    """Every property of an element as ``key → text``; its own child elements (a sub-process's tasks) are
    elements of their own and not part of it."""
    properties: dict[str, str] = {"type": _local(element)}
    for name, value in _attributes(element):
        properties[_attribute_key(name)] = value
    container = _local(element) in _CONTAINERS
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if _local(child) in _DERIVED or (container and (child.get("id") or _local(child) in _NOT_ELEMENTS)):
            continue
        _flatten(child, "", properties)
    if "flowNodeRef" in properties:  # a lane's members: a set, whatever order the file lists them in
        properties["flowNodeRef"] = "\n".join(sorted(properties["flowNodeRef"].split("\n")))
    return properties


def _attributes(node: etree._Element) -> list[tuple[str, str]]:
    """A node's attributes but its id, ``xsi:type`` (the modeler's typing of an expression) and those at their
    schema default (bpmn-js leaves them out)."""
    return [
        (n, v)
        for n, v in node.attrib.items()
        if n != "id" and etree.QName(n).namespace != XSI and not is_schema_default(node, n, v)
    ]


def _attribute_key(qualified: str) -> str:
    name = etree.QName(qualified)
    if name.namespace is None:
        return _ATTRIBUTE_KEYS.get(name.localname, name.localname)
    return f"{_prefix(name.namespace)}:{name.localname}"


def _prefix(namespace: str) -> str:
    return {SPIFF: "spiffworkflow", BPMN: "bpmn"}.get(namespace, namespace)


def _add(properties: dict[str, str], key: str, value: str) -> None:
    properties[key] = f"{properties[key]}\n{value}" if key in properties else value


def _text(node: etree._Element) -> str:
    return textwrap.dedent(node.text or "").strip()


def _flatten(node: etree._Element, path: str, properties: dict[str, str]) -> None:
    """One inner part of an element into ``properties``, keyed by what it means where we know (gridcase's
    extension properties, service-task operators and their parameters, conditions, scripts), by its path
    of local names otherwise."""
    local = _local(node)
    namespace = etree.QName(node).namespace
    if namespace == SPIFF and local == "property":
        _add(properties, f"property:{node.get('name', '')}", node.get("value", ""))
        return
    if namespace == SPIFF and local == "parameter":
        value = node.get("value", "")
        _add(
            properties,
            f"parameter:{node.get('id', '')}",
            f"{value} ({node.get('type')})" if node.get("type") else value,
        )
        return
    if namespace == SPIFF and local == "serviceTaskOperator":
        _add(properties, "operator", node.get("id", ""))
        for name, value in _attributes(node):
            _add(properties, f"operator.{_attribute_key(name)}", value)
        for child in node:
            if isinstance(child.tag, str):
                _flatten(child, "operator", properties)
        return
    if local in ("extensionElements", "properties", "parameters") and namespace in (BPMN, SPIFF):
        key = path  # containers only: their children say what they hold
    elif not path and local in _TEXT_KEYS and namespace == BPMN:
        key = _TEXT_KEYS[local]
    elif local.endswith("EventDefinition"):
        key = "timer" if local == "timerEventDefinition" else local.removesuffix("EventDefinition")
        _add(properties, "event", local.removesuffix("EventDefinition"))
    else:
        key = f"{path}.{local}" if path else local
    for name, value in _attributes(node):
        _add(properties, f"{key}.{_attribute_key(name)}" if key else _attribute_key(name), value)
    text = _text(node)
    children = [c for c in node if isinstance(c.tag, str)]
    if text and key:
        _add(properties, key, text)
    for child in children:
        _flatten(child, key, properties)


def _layout(root: etree._Element) -> dict[str, tuple[tuple[float, ...], ...]]:
    """Each element's shape bounds or edge waypoints by element id (not its label: that follows the name)."""
    layout: dict[str, tuple[tuple[float, ...], ...]] = {}
    for shape in root.iter(f"{{{BPMNDI}}}BPMNShape"):
        bounds = shape.find(f"{{{DC}}}Bounds")
        if bounds is not None:
            layout[shape.get("bpmnElement", "")] = (_numbers(bounds, "x", "y", "width", "height"),)
    for edge in root.iter(f"{{{BPMNDI}}}BPMNEdge"):
        points = tuple(_numbers(p, "x", "y") for p in edge.findall(f"{{{DI}}}waypoint"))
        layout[edge.get("bpmnElement", "")] = points
    return layout


def _numbers(node: etree._Element, *names: str) -> tuple[float, ...]:
    return tuple(round(float(node.get(name, "0")), 1) for name in names)


def _property_changes(old: _Element, new: _Element) -> tuple[PropertyChange, ...]:
    keys = list(new.properties) + [k for k in old.properties if k not in new.properties]
    return tuple(
        PropertyChange(key, old.properties.get(key), new.properties.get(key))
        for key in keys
        if old.properties.get(key) != new.properties.get(key)
    )
