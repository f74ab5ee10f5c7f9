"""One way to write a diagram's XML, so that a text diff of two versions shows what changed and not how each
tool lays out its file.

A diagram written by hand and the same diagram saved by the modeler (bpmn-js) differ on most lines: the
modeler puts every namespace on the root, orders attributes its own way, indents by two, writes
``<x></x>`` or ``<x />``, orders a task's children by the schema (documentation, extensionElements,
incoming, outgoing, …) and writes each DI shape over three lines. None of that means anything, so both sides
of the diff are written here the same way first:

- namespaces declared once on the root under well-known prefixes (``bpmn``, ``bpmndi``, ``dc``, ``di``,
  ``spiffworkflow``, …), whatever prefixes the file used;
- attributes ``id`` and ``name`` first, then the rest by name; BPMN attributes at their schema default
  (``isSequential="false"``) left out, as bpmn-js leaves them out;
- children of an element ordered as the BPMN schema orders them (stable: flow elements keep their order);
- one element per line, indented by two; an element without children and text as ``<x />``;
- texts (conditions, scripts, documentation) as they are, escaped the same way;
- a plane's shapes and edges in the order of their elements in the model (bpmn-js reorders them on each
  save by how it draws them), and no empty ``<bpmndi:BPMNLabel />`` (bpmn-js adds one on a rename).

The stored bytes of a version are never rewritten: versions are by content and the download is what was
deployed. This is for reading only.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
_PREFIXES = {
    BPMN: "bpmn",
    "http://www.omg.org/spec/BPMN/20100524/DI": "bpmndi",
    "http://www.omg.org/spec/DD/20100524/DC": "dc",
    "http://www.omg.org/spec/DD/20100524/DI": "di",
    "http://spiffworkflow.org/bpmn/schema/1.0/core": "spiffworkflow",
    "http://www.w3.org/2001/XMLSchema-instance": "xsi",
    "http://camunda.org/schema/1.0/bpmn": "camunda",
    "http://camunda.org/schema/modeler/1.0": "modeler",
    "http://bpmn.io/schema/bpmn/biocolor/1.0": "bioc",
    "http://www.omg.org/spec/BPMN/non-normative/color/1.0": "color",
}
# The order bpmn-js writes an element's children in (its schema's property order); others keep theirs.
_CHILD_ORDER = {
    name: rank
    for rank, name in enumerate(
        [
            "documentation",
            "extensionElements",
            "laneSet",
            "incoming",
            "outgoing",
            "ioSpecification",
            "property",
            "dataInputAssociation",
            "dataOutputAssociation",
            "multiInstanceLoopCharacteristics",
            "standardLoopCharacteristics",
        ]
    )
}
# BPMN attributes at their schema default say nothing: bpmn-js leaves them out (isSequential="false").
SCHEMA_DEFAULTS = {
    "gatewayDirection": "Unspecified",
    "instantiate": "false",
    "eventGatewayType": "Exclusive",
    "mustUnderstand": "false",
    "isReference": "false",
    "textFormat": "text/plain",
    "isInterrupting": "true",
    "parallelMultiple": "false",
    "cancelActivity": "true",
    "waitForCompletion": "true",
    "isCollection": "false",
    "isUnlimited": "true",
    "minimum": "0",
    "maximum": "1",
    "loopType": "None",
    "isForCompensation": "false",
    "startQuantity": "1",
    "completionQuantity": "1",
    "triggeredByEvent": "false",
    "isSequential": "false",
    "behavior": "All",
    "testBefore": "false",
    "cancelRemainingInstances": "true",
    "expressionLanguage": "http://www.w3.org/1999/XPath",
    "typeLanguage": "http://www.w3.org/2001/XMLSchema",
}


def is_schema_default(node: etree._Element, attribute: str, value: str) -> bool:
    """An attribute of a BPMN element left at the schema's default (the same as not writing it)."""
    return etree.QName(node).namespace == BPMN and SCHEMA_DEFAULTS.get(attribute) == value


_AFTER_FLOW_ELEMENTS = {"textAnnotation": 1, "association": 1, "group": 1, "BPMNDiagram": 2}
INDENT = "  "


def canonical_xml(xml: str | bytes) -> str:
    """``xml`` written the one canonical way (see the module's docstring). Raises ``etree.XMLSyntaxError``."""
    content = xml.encode("utf-8") if isinstance(xml, str) else xml
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    root = etree.fromstring(content, parser)
    prefixes = _namespace_prefixes(root)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    declarations = [
        f"xmlns:{prefix}={_attribute(uri)}" for uri, prefix in sorted(prefixes.items(), key=lambda p: p[1])
    ]
    _drop_empty_labels(root)
    _order_diagram_like_the_model(root)
    _write(root, 0, prefixes, lines, declarations)
    return "\n".join(lines) + "\n"


def _drop_empty_labels(root: etree._Element) -> None:
    """``<bpmndi:BPMNLabel />`` without bounds says nothing (bpmn-js adds one to a task it renames)."""
    for label in list(root.iter(f"{{{BPMNDI}}}BPMNLabel")):
        if len(label) == 0 and not label.attrib and label.getparent() is not None:
            label.getparent().remove(label)


def _order_diagram_like_the_model(root: etree._Element) -> None:
    """Shapes and edges in the order of their elements in the model: bpmn-js reorders a plane's shapes on
    every save (by how it draws them: lanes, boundary events after their hosts), hand-written files follow
    their author."""
    order = {
        node.get("id"): index
        for index, node in enumerate(root.iter())
        if isinstance(node.tag, str) and etree.QName(node).namespace == BPMN and node.get("id")
    }
    for plane in root.iter(f"{{{BPMNDI}}}BPMNPlane"):
        shapes = sorted(plane, key=lambda n: order.get(n.get("bpmnElement"), len(order)))
        plane[:] = shapes


def _namespace_prefixes(root: etree._Element) -> dict[str, str]:
    """Every namespace the document uses (in tags and attributes) with its canonical prefix."""
    used: dict[str, str] = {}
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        names = [node.tag, *node.attrib]
        for name in names:
            namespace = etree.QName(name).namespace
            if namespace and namespace not in used:
                used[namespace] = (
                    _PREFIXES.get(namespace) or _source_prefix(node, namespace) or f"ns{len(used)}"
                )
    return used


def _source_prefix(node: etree._Element, namespace: str) -> str | None:
    for prefix, uri in node.nsmap.items():
        if uri == namespace and prefix and prefix not in _PREFIXES.values():
            return str(prefix)
    return None


def _name(qualified: str, prefixes: dict[str, str]) -> str:
    name = etree.QName(qualified)
    return f"{prefixes[name.namespace]}:{name.localname}" if name.namespace else name.localname


def _attribute_order(item: tuple[str, str]) -> tuple[int, str]:
    name = item[0]
    return ({"id": 0, "name": 1}.get(name, 2), name)


def _child_rank(child: etree._Element) -> int:
    local = etree.QName(child).localname
    if local in _CHILD_ORDER:
        return _CHILD_ORDER[local]
    return len(_CHILD_ORDER) + _AFTER_FLOW_ELEMENTS.get(local, 0)


def _write(
    node: etree._Element,
    depth: int,
    prefixes: dict[str, str],
    lines: list[str],
    extra: list[str] | None = None,
) -> None:
    pad = INDENT * depth
    if not isinstance(node.tag, str):  # a comment or processing instruction: as it was
        lines.append(pad + etree.tostring(node, encoding="unicode", with_tail=False).strip())
        return
    tag = _name(node.tag, prefixes)
    attributes = sorted(
        ((_name(n, prefixes), v) for n, v in node.attrib.items() if not is_schema_default(node, n, v)),
        key=_attribute_order,
    )
    opening = " ".join([tag, *(extra or []), *(f"{n}={_attribute(v)}" for n, v in attributes)])
    children = sorted(node, key=lambda c: _child_rank(c) if isinstance(c.tag, str) else len(_CHILD_ORDER))
    text = node.text if node.text and (not children or node.text.strip()) else None
    if not children and text is None:
        lines.append(f"{pad}<{opening} />")
    elif not children:
        lines.append(f"{pad}<{opening}>{escape(text or '')}</{tag}>")
    else:
        lines.append(f"{pad}<{opening}>" + (escape(text.strip()) if text else ""))
        for child in children:
            _write(child, depth + 1, prefixes, lines)
        lines.append(f"{pad}</{tag}>")


def _attribute(value: str) -> str:
    """Always in double quotes (``quoteattr`` would switch to single ones around a value with a ``"``)."""
    return '"' + escape(value, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}) + '"'
