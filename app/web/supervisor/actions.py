"""The case page's supervisor actions (urge, reassign, extend, comment): what the forms offer, reading the
posted fields, and the refusals in the page's language. The work is ``app.tasks.supervision``'s."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.auth.models import User
from app.cases.dispatch import Candidate, department_handler_candidates, grid_worker_candidates
from app.cases.models import Case, CaseStatus
from app.tasks import supervision
from app.workflow.models import HumanTask

ACTIONS = ("urge", "reassign", "extend", "comment")
# Why an action was refused, by SupervisionRefused.code: shown next to the field.
REFUSALS: dict[str, Any] = {
    "required": _l("Please fill this in."),
    "too_long": _l("At most 1000 characters."),
    "nothing_to_urge": _l("The case has no open task to urge."),
    "unknown_user": _l("No such person."),
    "not_a_handler": _l("Choose a grid worker or a department handler."),
    "not_handling": _l("The case is not being handled: there is nothing to reassign."),
    "same_handler": _l("This person handles the case already."),
    "hours_range": _l("A whole number of working hours from 1 to 240."),
    "no_limit": _l("The case has no running handling time limit to extend."),
}
SUCCESS: dict[str, Any] = {
    "urge": _l("Urged."),
    "reassign": _l("Reassigned."),
    "extend": _l("Time limit extended."),
    "comment": _l("Comment added."),
}


@dataclass
class ActionsPanel:
    """What the case page's action forms need; ``errors``/``given`` refill a refused form."""

    current: list[HumanTask]
    supervise_task: HumanTask | None
    candidates: list[Candidate]
    handling: bool
    errors: dict[str, str] = field(default_factory=dict)
    given: dict[str, str] = field(default_factory=dict)
    action: str | None = None  # the refused action


def may_act(user: User) -> bool:
    return user.role in supervision.SUPERVISORS


def panel(case: Case) -> ActionsPanel:
    current = supervision.urgeable_tasks(case)
    return ActionsPanel(
        current=current,
        supervise_task=supervision.open_supervise_task(case),
        # the grid's workers, then the department handlers of the units serving it (the service takes both)
        candidates=grid_worker_candidates(case.grid_code) + department_handler_candidates(case.grid_code)
        if case.grid_code
        else [],
        handling=case.status not in CaseStatus.FINAL
        and any(t.element_id in supervision.HANDLING_ELEMENTS for t in current),
    )


def _hours(raw: str) -> Any:
    try:
        return int(raw.strip())
    except (AttributeError, ValueError):
        return raw  # refused by the service with the field named


def perform(user: User, key: str, action: str, form: dict[str, str]) -> str:
    """Run ``action`` with the posted ``form``; the success message. Raises ``SupervisionRefused``."""
    if action == "urge":
        supervision.urge(user, key, form.get("note"))
    elif action == "reassign":
        supervision.reassign(user, key, form.get("username"), form.get("reason"))
    elif action == "extend":
        supervision.extend(user, key, _hours(form.get("hours", "")), form.get("reason"))
    else:
        supervision.comment(user, key, form.get("body"))
    return str(SUCCESS[action])


def refusal_text(exc: supervision.SupervisionRefused) -> str:
    return str(REFUSALS.get(exc.code, _("Please check this field.")))
