"""The emergency plan library (应急预案库): validate, list, read, create, replace, deactivate, import (all or
nothing) and export plans, and find the plan a category or an alarm type calls for. Every change is audited;
the caller commits."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select

from app.audit.services import Actor, record
from app.clock import now
from app.devices.types import ALARM_TYPES
from app.emergency.limits import limit_problem
from app.emergency.models import EmergencyPlan
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.inputs import contains_text
from app.units.models import UNIT_KINDS, Unit

PLANS_PATH = Path(__file__).with_name("plans.json")
PLAN_CODE_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
_PLAN_CODE = re.compile(PLAN_CODE_PATTERN)
_CATEGORY_CODE = re.compile(r"^[EP]\d{2}(\d{2})*$")
FIELDS = (
    "code",
    "name",
    "name_en",
    "description",
    "triggers",
    "responders",
    "checklist",
    "contact_call_limit",
)
REQUIRED = ("code", "name", "name_en", "responders", "checklist")
RESPONDER_KEYS = ("unit_kind", "unit_code", "grid_worker", "limit", "label")
MAX_RESPONDERS = 250  # each responder reports in as an instance of its own (app.workflow.children)
MAX_CHECKLIST = 50


# -- checks -----------------------------------------------------------------------------------------


def _text_problem(value: Any, limit: int, required: bool) -> str | None:
    if value is None or value == "":
        return "required" if required else None
    if not isinstance(value, str) or not value.strip():
        return "must be non-blank text"
    if len(value) > limit:
        return f"at most {limit} characters"
    return None


def _responder_problems(index: int, responder: Any, known_units: set[str]) -> dict[str, str]:
    where = f"responders[{index}]"
    if not isinstance(responder, Mapping):
        return {where: "expected an object with unit_kind, unit_code or grid_worker, and limit"}
    problems: dict[str, str] = {}
    unknown = sorted(set(responder) - set(RESPONDER_KEYS))
    if unknown:
        problems[where] = f"unknown field(s) {', '.join(map(str, unknown))}"
    named = [
        key for key in ("unit_kind", "unit_code", "grid_worker") if responder.get(key) not in (None, False)
    ]
    if len(named) != 1:
        problems[where] = "give exactly one of unit_kind, unit_code or grid_worker"
    kind = responder.get("unit_kind")
    if kind is not None and kind not in UNIT_KINDS:
        problems[f"{where}.unit_kind"] = (
            f"unknown unit kind {kind!r}; expected one of {', '.join(UNIT_KINDS)}"
        )
    code = responder.get("unit_code")
    if code is not None and code not in known_units:
        problems[f"{where}.unit_code"] = f"no active unit with code {code!r}"
    grid_worker = responder.get("grid_worker")
    if grid_worker is not None and not isinstance(grid_worker, bool):
        problems[f"{where}.grid_worker"] = "must be true or false"
    if (problem := limit_problem(responder.get("limit"))) is not None:
        problems[f"{where}.limit"] = problem
    if (problem := _text_problem(responder.get("label"), 120, required=False)) is not None:
        problems[f"{where}.label"] = problem
    return problems


def _trigger_problems(triggers: Any) -> dict[str, str]:
    if triggers is None:
        return {}
    if not isinstance(triggers, Mapping) or set(triggers) - {"categories", "alarm_types"}:
        return {"triggers": "expected an object with 'categories' and 'alarm_types' lists"}
    problems: dict[str, str] = {}
    categories = triggers.get("categories") or []
    if not isinstance(categories, list) or not all(
        isinstance(c, str) and _CATEGORY_CODE.match(c) for c in categories
    ):
        problems["triggers.categories"] = "expected a list of category codes such as 'E0403'"
    alarm_types = triggers.get("alarm_types") or []
    if not isinstance(alarm_types, list) or not all(isinstance(a, str) for a in alarm_types):
        problems["triggers.alarm_types"] = "expected a list of alarm types"
    elif unknown := [a for a in alarm_types if a not in ALARM_TYPES]:
        problems["triggers.alarm_types"] = f"unknown alarm type(s) {', '.join(map(repr, unknown))}"
    return problems


def plan_problems(entry: Any, known_units: set[str] | None = None) -> dict[str, str]:
    """Every problem of one plan, by field (``responders[2].limit``); empty when the plan is good."""
    if not isinstance(entry, Mapping):
        return {"plan": "expected an object"}
    problems: dict[str, str] = {}
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        problems["fields"] = f"unknown field(s) {', '.join(map(str, unknown))}"
    for name in REQUIRED:
        if entry.get(name) in (None, ""):
            problems[name] = "required"
    code = entry.get("code")
    if code is not None and (not isinstance(code, str) or not _PLAN_CODE.match(code)):
        problems["code"] = "2-40 lowercase letters, digits or '_', starting with a letter"
    for name, limit, required in (("name", 120, True), ("name_en", 120, True), ("description", 2000, False)):
        if name not in problems and (problem := _text_problem(entry.get(name), limit, required)):
            problems[name] = problem
    problems.update(_trigger_problems(entry.get("triggers")))
    responders = entry.get("responders")
    if responders is not None:
        if not isinstance(responders, list) or not responders:
            problems["responders"] = "a plan needs at least one responder"
        elif len(responders) > MAX_RESPONDERS:
            problems["responders"] = f"at most {MAX_RESPONDERS} responders"
        else:
            units = known_units if known_units is not None else _active_unit_codes(responders)
            for index, responder in enumerate(responders):
                problems.update(_responder_problems(index, responder, units))
    checklist = entry.get("checklist")
    if checklist is not None and (
        not isinstance(checklist, list)
        or not checklist
        or len(checklist) > MAX_CHECKLIST
        or not all(isinstance(item, str) and item.strip() and len(item) <= 200 for item in checklist)
    ):
        problems["checklist"] = f"1-{MAX_CHECKLIST} items of text (at most 200 characters each)"
    call_limit = entry.get("contact_call_limit")
    if call_limit is not None and (
        limit_problem(call_limit) is not None or not str(call_limit).endswith("m")
    ):
        problems["contact_call_limit"] = "expected clock minutes such as '2m'"
    return problems


def _active_unit_codes(responders: Sequence[Any]) -> set[str]:
    codes = {
        r["unit_code"] for r in responders if isinstance(r, Mapping) and isinstance(r.get("unit_code"), str)
    }
    if not codes:
        return set()
    rows = db.session.execute(select(Unit.code).where(Unit.code.in_(codes), Unit.active.is_(True)))
    return set(rows.scalars())


def _checked(entry: Any) -> dict[str, Any]:
    problems = plan_problems(entry)
    if problems:
        raise InvalidInput("invalid emergency plan", problems)
    return _normalized(entry)


def _normalized(entry: Mapping[str, Any]) -> dict[str, Any]:
    triggers = entry.get("triggers") or {}
    return {
        "code": entry["code"],
        "name": entry["name"].strip(),
        "name_en": entry["name_en"].strip(),
        "description": (entry.get("description") or "").strip(),
        "triggers": {
            "categories": list(triggers.get("categories") or []),
            "alarm_types": list(triggers.get("alarm_types") or []),
        },
        "responders": [
            {key: r[key] for key in RESPONDER_KEYS if r.get(key) not in (None, False)}
            for r in entry["responders"]
        ],
        "checklist": [item.strip() for item in entry["checklist"]],
        "contact_call_limit": entry.get("contact_call_limit"),
    }


def as_entry(plan: EmergencyPlan) -> dict[str, Any]:
    """A plan in the data file's format (what export writes and import reads)."""
    return {
        "code": plan.code,
        "name": plan.name,
        "name_en": plan.name_en,
        "description": plan.description,
        "triggers": plan.triggers,
        "responders": plan.responders,
        "checklist": plan.checklist,
        "contact_call_limit": plan.contact_call_limit,
    }


# -- reading ----------------------------------------------------------------------------------------


def list_plans(active: bool | None = True, q: str | None = None) -> Select[Any]:
    query = select(EmergencyPlan).order_by(EmergencyPlan.code)
    if active is not None:
        query = query.where(EmergencyPlan.active.is_(active))
    if q:
        query = query.where(contains_text(EmergencyPlan.name, q) | contains_text(EmergencyPlan.code, q))
    return query


def find_plan(code: str | None, active_only: bool = True) -> EmergencyPlan | None:
    if not code:
        return None
    plan = db.session.execute(select(EmergencyPlan).where(EmergencyPlan.code == code)).scalar_one_or_none()
    if plan is None or (active_only and not plan.active):
        return None
    return plan


def get_plan(code: str) -> EmergencyPlan:
    plan = find_plan(code, active_only=False)
    if plan is None:
        raise NotFound(f"no emergency plan {code!r}", {"code": "unknown"})
    return plan


def match_plan(category_code: str | None = None, alarm_type: str | None = None) -> EmergencyPlan | None:
    """The active plan an alarm type or a category calls for: the alarm type first, then the plan naming the
    longest prefix of the category (a plan for E0403 answers E0403 and its sub-classes)."""
    plans = list(db.session.execute(list_plans(active=True)).scalars())
    if alarm_type:
        for plan in plans:
            if alarm_type in (plan.triggers or {}).get("alarm_types", []):
                return plan
    if category_code:
        best: tuple[int, EmergencyPlan] | None = None
        for plan in plans:
            for code in (plan.triggers or {}).get("categories", []):
                if category_code.startswith(code) and (best is None or len(code) > best[0]):
                    best = (len(code), plan)
        if best is not None:
            return best[1]
    return None


# -- changes ----------------------------------------------------------------------------------------


def _apply(plan: EmergencyPlan, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(plan, name, value)


def create_plan(actor: Actor | None, entry: Any) -> EmergencyPlan:
    values = _checked(entry)
    if find_plan(values["code"], active_only=False) is not None:
        raise Conflict(f"emergency plan {values['code']!r} already exists", {"code": "taken"})
    timestamp = now()
    plan = EmergencyPlan(active=True, version=1, created_at=timestamp, updated_at=timestamp)
    _apply(plan, values)
    db.session.add(plan)
    db.session.flush()
    record(
        "emergency_plan.created", entity_type="emergency_plan", entity_id=plan.code, actor=actor, after=values
    )
    return plan


def replace_plan(actor: Actor | None, code: str, entry: Any) -> EmergencyPlan:
    """Replace a plan's content (the code stays; a body naming another code is refused). Reactivates it."""
    plan = get_plan(code)
    if isinstance(entry, Mapping) and entry.get("code", code) != code:
        raise InvalidInput("the code cannot change", {"code": f"expected {code!r}"})
    values = _checked({**entry, "code": code} if isinstance(entry, Mapping) else entry)
    _change(plan, values, actor)
    return plan


def _change(plan: EmergencyPlan, values: dict[str, Any], actor: Actor | None) -> bool:
    before = as_entry(plan)
    if before == values and plan.active:
        return False
    _apply(plan, values)
    plan.active = True
    plan.version += 1
    plan.updated_at = now()
    record(
        "emergency_plan.updated",
        entity_type="emergency_plan",
        entity_id=plan.code,
        actor=actor,
        before=before,
        after={**values, "version": plan.version},
    )
    return True


def deactivate_plan(actor: Actor | None, code: str) -> EmergencyPlan:
    plan = get_plan(code)
    if plan.active:
        plan.active = False
        plan.updated_at = now()
        record(
            "emergency_plan.deactivated",
            entity_type="emergency_plan",
            entity_id=plan.code,
            actor=actor,
            before={"active": True},
            after={"active": False},
        )
    return plan


# -- import / export --------------------------------------------------------------------------------


@dataclass
class PlanImportReport:
    total: int
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


def read_plans(path: Path) -> list[Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read {path.name}: {exc}", {"file": str(exc)}) from exc
    plans = document.get("plans") if isinstance(document, dict) else document
    if not isinstance(plans, list):
        raise InvalidInput('expected {"plans": [...]}', {"file": "no list of plans"})
    return plans


def import_plans(entries: list[Any], actor: Actor | None = None) -> PlanImportReport:
    """Create or replace every plan of ``entries``, or none: a 422 whose details name each rejected plan
    (by code, or ``#index``) and its fields."""
    rejected: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        code = entry.get("code") if isinstance(entry, Mapping) else None
        key = code if isinstance(code, str) and code else f"#{index}"
        problems = plan_problems(entry)
        if isinstance(code, str) and code in seen:
            problems["code"] = "appears twice in the file"
        seen.add(key)
        if problems:
            rejected[key] = problems
    if rejected:
        raise InvalidInput(
            f"{len(rejected)} of {len(entries)} plans rejected; nothing was imported", rejected
        )
    report = PlanImportReport(total=len(entries))
    for entry in entries:
        values = _normalized(entry)
        plan = find_plan(values["code"], active_only=False)
        if plan is None:
            create_plan(actor, values)
            report.created.append(values["code"])
        elif _change(plan, values, actor):
            report.updated.append(values["code"])
        else:
            report.unchanged += 1
    return report


def sync_plans(path: Path = PLANS_PATH, actor: Actor | None = None) -> PlanImportReport:
    """Load the plan library from the data file (default: ``app/emergency/plans.json``)."""
    return import_plans(read_plans(path), actor)


def export_plans(active_only: bool = False) -> dict[str, Any]:
    plans = db.session.execute(list_plans(active=True if active_only else None)).scalars()
    return {"plans": [as_entry(plan) for plan in plans]}
