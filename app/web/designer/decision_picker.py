"""The properties panel's decision picker: every decision of the newest version of each deployed decision
table (DMN), with its name and its table, for a business rule task's ``calledDecisionId``. Designers only
(the blueprint's guard); the panel reads it with the other pickers' values (``vocabulary``)."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from lxml import etree

from app.web.designer import bp, decision_tables

_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def deployed_decisions() -> list[dict[str, str]]:
    """``[{value: decision id, label: its name, table: the DMN key, table_name}]`` by decision id; a
    decision two tables define is the newer table's, as an instance binds it (``workflow.decisions``)."""
    found: dict[str, dict[str, str]] = {}
    for table in sorted(decision_tables.tables(), key=lambda t: t.id):
        root = etree.fromstring(table.bpmn_xml.encode("utf-8"), parser=_SAFE_XML)
        for node in root.iter("{*}decision"):
            decision_id = (node.get("id") or "").strip()
            if decision_id:
                found[decision_id] = {
                    "value": decision_id,
                    "label": (node.get("name") or "").strip() or decision_id,
                    "table": table.key,
                    "table_name": table.name,
                }
    return [found[key] for key in sorted(found)]


@bp.route("/decisions.json")
def decisions_json() -> Any:
    """The deployed decisions a business rule task may call (``{items: [...]}``)."""
    return jsonify(items=deployed_decisions())
