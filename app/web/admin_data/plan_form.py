"""An emergency plan between the page's form and the plan library's entry (``app.emergency.plans``): text
fields as typed, the checklist and the trigger categories one per line, the alarm types as checkboxes, and
the responders as rows (who: a unit kind, one unit, or the grid's worker; the time to report in; a label).
Empty rows are left out; the rows keep their numbers so a refusal of ``responders[2].limit`` marks row 3."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from app.emergency.models import EmergencyPlan

GRID_WORKER = "grid_worker"
UNIT_PREFIX = "unit:"
SPARE_ROWS = 3


@dataclass
class ResponderRow:
    who: str = ""  # a unit kind, "unit:<code>" or "grid_worker"
    limit: str = ""
    label: str = ""

    def as_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"limit": self.limit or None}
        if self.who == GRID_WORKER:
            entry["grid_worker"] = True
        elif self.who.startswith(UNIT_PREFIX):
            entry["unit_code"] = self.who[len(UNIT_PREFIX) :]
        else:
            entry["unit_kind"] = self.who or None
        if self.label:
            entry["label"] = self.label
        return entry


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def rows_of(plan_responders: list[dict[str, Any]]) -> list[ResponderRow]:
    rows = []
    for responder in plan_responders:
        if responder.get("grid_worker"):
            who = GRID_WORKER
        elif responder.get("unit_code"):
            who = UNIT_PREFIX + str(responder["unit_code"])
        else:
            who = str(responder.get("unit_kind") or "")
        rows.append(ResponderRow(who, str(responder.get("limit") or ""), str(responder.get("label") or "")))
    return rows + [ResponderRow() for _ in range(SPARE_ROWS)]


def values_of(plan: EmergencyPlan) -> dict[str, Any]:
    triggers = plan.triggers or {}
    return {
        "code": plan.code,
        "name": plan.name,
        "name_en": plan.name_en,
        "description": plan.description or "",
        "checklist": "\n".join(plan.checklist or []),
        "categories": "\n".join(triggers.get("categories") or []),
        "alarm_types": list(triggers.get("alarm_types") or []),
        "contact_call_limit": plan.contact_call_limit or "",
        "rows": rows_of(plan.responders or []),
    }


def read_form(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, Any], list[int]]:
    """(the values to show again, the plan entry, each entry responder's row index)."""
    rows = [
        ResponderRow(who.strip(), limit.strip(), label.strip())
        for who, limit, label in zip(
            form.getlist("who"), form.getlist("limit"), form.getlist("label"), strict=False
        )
    ]
    used = [index for index, row in enumerate(rows) if row.who or row.limit or row.label]
    values: dict[str, Any] = {
        "code": (form.get("code") or "").strip(),
        "name": (form.get("name") or "").strip(),
        "name_en": (form.get("name_en") or "").strip(),
        "description": (form.get("description") or "").strip(),
        "checklist": form.get("checklist") or "",
        "categories": form.get("categories") or "",
        "alarm_types": form.getlist("alarm_types"),
        "contact_call_limit": (form.get("contact_call_limit") or "").strip(),
        "rows": rows,
    }
    entry = {
        "code": values["code"] or None,
        "name": values["name"] or None,
        "name_en": values["name_en"] or None,
        "description": values["description"] or None,
        "triggers": {
            "categories": [c for c in re.split(r"[\s,，;；]+", values["categories"]) if c],
            "alarm_types": values["alarm_types"],
        },
        "responders": [rows[index].as_entry() for index in used],
        "checklist": _lines(values["checklist"]),
        "contact_call_limit": values["contact_call_limit"] or None,
    }
    return values, entry, used


def row_errors(details: dict[str, str], used: list[int]) -> dict[str, str]:
    """The service's ``responders[i]...`` keys renamed to the form's rows (``row-<n>``, ``row-<n>.limit``)."""
    errors = {}
    for key, message in details.items():
        match = re.match(r"^responders\[(\d+)\](.*)$", key)
        if match is not None and int(match.group(1)) < len(used):
            key = f"row-{used[int(match.group(1))]}{match.group(2)}"
        errors[key] = message
    return errors
