"""The properties panel's pickers: the values a gridcase property can name, in one small JSON document.

Forms in ``forms/``, roles with their labels, active units, registered service-task operators with their
documentation, the BPMN processes a call activity can call and the deployed DMN decisions a business rule task
can call (``decision_picker``). Designers only (the blueprint's guard).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from sqlalchemy import select

from app.auth.roles import ROLE_LABELS
from app.extensions import db
from app.processes import services as processes
from app.units.models import Unit
from app.web.designer import bp, decision_picker, forms
from app.web.i18n import current_language
from app.workflow import operators


def _label(labels: tuple[str, str]) -> str:
    zh, en = labels
    return en if current_language() == "en" else zh


def vocabulary() -> dict[str, Any]:
    units = db.session.execute(select(Unit.code, Unit.name).where(Unit.active).order_by(Unit.code)).all()
    return {
        "forms": forms.form_names(),
        "roles": [{"value": role.value, "label": _label(labels)} for role, labels in ROLE_LABELS.items()],
        "units": [{"value": code, "label": name} for code, name in units],
        "operators": [{"value": op.name, "description": op.description} for op in operators.catalogue()],
        "processes": [
            {"value": p.key, "label": p.name} for p in processes.process_summaries() if p.kind == "bpmn"
        ],
        "decisions": decision_picker.deployed_decisions(),
    }


@bp.route("/vocabulary.json")
def vocabulary_json() -> Any:
    return jsonify(vocabulary())
