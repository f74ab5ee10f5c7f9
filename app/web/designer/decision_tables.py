"""Decision tables (DMN) edited in the studio: validate and deploy with the same service as the API, a new
table from an empty one, and who uses which version.

A DMN file deploys under its file name's stem as the key (``sensor_alarm_route.dmn`` → ``sensor_alarm_route``)
and versions like a BPMN file (by content). An instance decides with the newest version deployed when it
started (``app.workflow.decisions``), so a deploy here changes the decisions of the next instances only.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from lxml import etree
from sqlalchemy import func, select

from app import runtime
from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.web.designer import diagrams
from app.workflow import decisions, deploy
from app.workflow.models import InstanceStatus, ProcessDefinition, ProcessInstance

DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"
NEW_KEY = re.compile(r"^[a-z][a-z0-9_]{1,60}$")


@dataclass(frozen=True)
class Caller:
    """A process whose newest version calls one of the table's decisions from a business rule task."""

    key: str
    name: str
    element_id: str
    decision_id: str


def decision_ids(xml: bytes) -> list[str]:
    """The decisions a DMN document defines (empty when it is not DMN 1.3 XML)."""
    try:
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return []
    return [str(node.get("id")) for node in root.iter(f"{{{DMN_NS}}}decision") if node.get("id")]


def _rejected(exc: InvalidInput) -> diagrams.DiagramRejected:
    return diagrams.DiagramRejected(diagrams._problems_from(exc))  # the modeler's problem shape


def _content(xml: str) -> bytes:
    if not xml.strip():
        raise diagrams.DiagramRejected([diagrams.DiagramProblem("the decision table is empty")])
    return xml.encode("utf-8")


def _keeps_called_decisions(key: str, content: bytes) -> None:
    """A table a process calls cannot disappear: its next instances would have nothing to decide with."""
    kept = set(decision_ids(content))
    missing = sorted({c.decision_id for c in callers(key)} - kept)
    if missing:
        problems = [
            diagrams.DiagramProblem(f"decision '{d}' is called by a process: it cannot be removed", d)
            for d in missing
        ]
        raise diagrams.DiagramRejected(problems)


def validate(key: str, file_name: str, xml: str) -> list[str]:
    """Every check the deploy makes (DMN cells, FEEL hints, the schema); the decisions the table defines.
    Raises DiagramRejected with every problem."""
    content = _content(xml)
    try:
        deploy.validate_file(file_name, content, runtime.deploy_rules())
    except InvalidInput as exc:
        raise _rejected(exc) from exc
    found = decision_ids(content)
    if not found:
        raise diagrams.DiagramRejected([diagrams.DiagramProblem("the file defines no decision table")])
    _keeps_called_decisions(key, content)
    return found


def deploy_table(key: str, file_name: str, xml: str, actor: object) -> deploy.DeployResult:
    """Validate and deploy as the next version of ``key``, a draft until published (the same bytes: that
    version, unchanged)."""
    validate(key, file_name, xml)
    try:
        [result] = deploy.deploy_file(
            file_name,
            xml.encode("utf-8"),
            runtime.deploy_rules(),
            actor,  # type: ignore[arg-type]
            publish=False,
        )
    except InvalidInput as exc:
        raise _rejected(exc) from exc
    return result


def newest(key: str) -> ProcessDefinition | None:
    return db.session.execute(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key, ProcessDefinition.kind == "dmn")
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def tables() -> list[ProcessDefinition]:
    """The newest version of every decision table, by key."""
    latest = (
        select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
        .where(ProcessDefinition.kind == "dmn")
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    return list(
        db.session.execute(
            select(ProcessDefinition)
            .join(latest, (latest.c.key == ProcessDefinition.key) & (latest.c.v == ProcessDefinition.version))
            .order_by(ProcessDefinition.key)
        ).scalars()
    )


def callers(key: str) -> list[Caller]:
    """The business rule tasks of the newest BPMN versions that call a decision of table ``key``."""
    table = newest(key)
    if table is None:
        return []
    defined = set(decision_ids(deploy.definition_xml(key, table.version).encode("utf-8")))
    found = []
    for process in _newest_processes():
        xml = deploy.definition_xml(process.key, process.version)
        for element_id, decision_id in decisions.called_decisions(xml).items():
            if decision_id in defined:
                found.append(Caller(process.key, process.name, element_id, decision_id))
    return found


def _newest_processes() -> list[ProcessDefinition]:
    latest = (
        select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
        .where(ProcessDefinition.kind == "bpmn")
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    return list(
        db.session.execute(
            select(ProcessDefinition).join(
                latest, (latest.c.key == ProcessDefinition.key) & (latest.c.v == ProcessDefinition.version)
            )
        ).scalars()
    )


def bound_running(definition_ids: list[int]) -> dict[int, int]:
    """How many running instances decide with each of these DMN versions (bound when they started)."""
    wanted = set(definition_ids)
    counts: Counter[int] = Counter()
    rows = db.session.execute(
        select(ProcessInstance.decision_bindings).where(
            ProcessInstance.status.in_([InstanceStatus.RUNNING, InstanceStatus.ERROR]),
            ProcessInstance.decision_bindings.is_not(None),
        )
    ).scalars()
    for bindings in rows:
        for bound in set((bindings or {}).values()) & wanted:
            counts[bound] += 1
    return dict(counts)


def empty_table(key: str, name: str) -> str:
    """A new table: one input, one output, no rule yet (the designer fills them in the editor)."""
    if not NEW_KEY.match(key):
        raise InvalidInput(
            "bad key", {"key": "lower-case letters, digits and _, starting with a letter (2-61 characters)"}
        )
    if not name.strip():
        raise InvalidInput("name is missing", {"name": "give the decision a name"})
    if db.session.execute(select(ProcessDefinition.id).where(ProcessDefinition.key == key).limit(1)).first():
        raise Conflict(f"'{key}' is already deployed", {"key": "already used by a process or a table"})
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{DMN_NS}" xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/" \
xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" id="{key}_definitions" name={quoteattr(name.strip())} \
namespace="https://gridcase.example/dmn">
  <decision id="{key}" name={quoteattr(name.strip())}>
    <decisionTable id="{key}_table" hitPolicy="FIRST">
      <input id="{key}_input_1" label="{escape("输入")}">
        <inputExpression id="{key}_input_1_expr" typeRef="string">
          <text></text>
        </inputExpression>
      </input>
      <output id="{key}_output_1" label="{escape("输出")}" name="" typeRef="string" />
    </decisionTable>
  </decision>
  <dmndi:DMNDI>
    <dmndi:DMNDiagram id="{key}_diagram">
      <dmndi:DMNShape id="{key}_shape" dmnElementRef="{key}">
        <dc:Bounds height="80" width="180" x="160" y="100" />
      </dmndi:DMNShape>
    </dmndi:DMNDiagram>
  </dmndi:DMNDI>
</definitions>
"""
