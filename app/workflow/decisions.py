"""Decision tables (DMN) bound when an instance starts: a table deployed later decides for the next instance,
never for a running one.

SpiffWorkflow freezes into a BPMN version, at its deploy, the table each business rule task calls. So that a
designer can change a table without redeploying every diagram that calls it, starting an instance binds the
published DMN version of each decision its process calls: ``{decision id: DMN definition id}`` on the
instance (``ProcessInstance.decision_bindings``). Every load of that instance's spec swaps those tables into
the business rule tasks of its own diagram (a variant of the version's spec, cached per binding). An instance
without bindings (started before DMN binding existed, or whose process calls no decision) runs on the tables
frozen at deploy. Business rule tasks of a called process (call activity) keep the callee's frozen tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import select

from app import runtime
from app.extensions import db
from app.workflow import publication
from app.workflow.engine import LoadedSpec
from app.workflow.models import ProcessDefinition

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def called_decisions(bpmn_xml: str) -> dict[str, str]:
    """Element id of each business rule task in ``bpmn_xml`` -> the decision id it calls."""
    root = etree.fromstring(bpmn_xml.encode("utf-8"), parser=_SAFE_XML)
    found: dict[str, str] = {}
    for task in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        ref = task.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}calledDecisionId")
        if ref is not None and (ref.text or "").strip():
            found[task.get("id")] = ref.text.strip()
    return found


def decision_tables(dmn_xml: str) -> dict[str, Any]:
    """Decision id -> its (first) decision table, parsed as SpiffWorkflow's DMN engine runs it."""
    parser = SpiffBpmnParser()
    parser.add_dmn_xml(etree.fromstring(dmn_xml.encode("utf-8"), parser=_SAFE_XML))
    return {
        decision_id: parser.get_engine(decision_id, None).decision_table for decision_id in parser.dmn_parsers
    }


def _xml(definition_id: int) -> str:
    return str(
        db.session.execute(
            select(ProcessDefinition.bpmn_xml).where(ProcessDefinition.id == definition_id)
        ).scalar_one()
    )


def _own_task_specs(loaded: LoadedSpec) -> list[Any]:
    """The task specs of the version's own file (its embedded subprocesses too, not a called process's)."""
    own_file = getattr(loaded.spec, "file", None)
    specs = [
        loaded.spec,
        *(s for s in loaded.subprocess_specs.values() if getattr(s, "file", None) == own_file),
    ]
    return [task_spec for spec in specs for task_spec in spec.task_specs.values()]


def _calls(definition_id: int, loaded: LoadedSpec) -> dict[str, str]:
    """What ``called_decisions`` says of a BPMN version, once per app (the XML is read only when the spec
    has a business rule task)."""
    cache = runtime.spec_cache()
    key = f"definition:{definition_id}:calls"
    known: dict[str, str] | None = cache.get(key)  # type: ignore[assignment]
    if known is None:
        own = {
            getattr(t, "bpmn_id", None)
            for t in _own_task_specs(loaded)
            if isinstance(getattr(t, "dmnEngine", None), DMNEngine)
        }
        calls = called_decisions(_xml(definition_id)) if own - {None} else {}
        known = cache.remember(key, lambda: {e: d for e, d in calls.items() if e in own})
    return known or {}


def _tables(dmn_definition_id: int) -> dict[str, Any]:
    cache = runtime.spec_cache()
    key = f"definition:{dmn_definition_id}:tables"
    known: dict[str, Any] | None = cache.get(key)  # type: ignore[assignment]
    if known is None:
        tables = decision_tables(_xml(dmn_definition_id))
        known = cache.remember(key, lambda: tables)
    return known or {}


def newest_holders() -> dict[str, int]:
    """Decision id -> the id of the published DMN version that defines it (a draft table decides nothing)."""
    holders: dict[str, int] = {}
    # A decision defined by two files: the newer deploy wins.
    for definition_id in sorted(publication.published_ids("dmn")):
        for decision_id in _tables(definition_id):
            holders[decision_id] = definition_id
    return holders


def bind(definition_id: int, loaded: LoadedSpec) -> dict[str, int] | None:
    """The bindings of an instance starting now on BPMN version ``definition_id``; None when it calls no
    decision."""
    calls = _calls(definition_id, loaded)
    if not calls:
        return None
    holders = newest_holders()
    bound = {d: holders[d] for d in sorted(set(calls.values())) if d in holders}
    return bound or None


def bound_spec(
    definition_id: int,
    bindings: dict[str, int],
    base: Callable[[], LoadedSpec],
    document: Callable[[], dict[str, Any]],
) -> LoadedSpec:
    """BPMN version ``definition_id``'s spec deciding with ``bindings``: on a cache miss, a fresh restore of
    ``document()`` (the version's spec document) with the bound tables swapped in; ``base()`` is the
    version's own spec (which of its tasks call which decision)."""
    cache = runtime.spec_cache()
    key = f"definition:{definition_id}:decisions:" + ",".join(f"{d}={i}" for d, i in sorted(bindings.items()))
    cached = cache.get(key)
    if cached is not None:
        return cached
    calls = _calls(definition_id, base())
    tables = {d: _tables(i)[d] for d, i in bindings.items() if d in _tables(i)}

    def swap(loaded: LoadedSpec) -> None:
        for task_spec in _own_task_specs(loaded):
            decision = calls.get(getattr(task_spec, "bpmn_id", None) or "")
            if decision in tables and isinstance(getattr(task_spec, "dmnEngine", None), DMNEngine):
                task_spec.dmnEngine = DMNEngine(tables[decision])

    return cache.load(key, document(), swap)
