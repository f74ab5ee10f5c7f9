"""What a task page shows above its form so the person whose turn it is can decide without the API: the
engine's dispatch proposal by name (and pre-selected in the form), the summons of a 部门报到 task (which
level summoned which units, the lead unit, the report-in deadline, the coordinator's words), and for
coordination and report-in the handler's own account of why the grid could not handle the case.

Everything comes from the process data the open task sees (``app.tasks.services.task_data``); names are
looked up here, codes are never what people read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import select

from app.auth.models import User
from app.clock import as_utc
from app.extensions import db
from app.grids.models import Grid
from app.units.models import Unit
from app.web.i18n import current_language

LEVEL_LABELS = {"community": _l("Community"), "street": _l("Street"), "district": _l("District")}
HANDLE_RESULT_LABELS = {
    "resolved": lazy_pgettext("handling", "Resolved"),  # "Resolved" alone is an incident's (operations)
    "partially_resolved": _l("Partly resolved"),
    "cannot_resolve": _l("Cannot be resolved"),
    "beyond_means": _l("Beyond the grid's means"),
}


@dataclass(frozen=True)
class Candidate:
    label: str  # a person's or unit's name
    grid: str  # the grid that makes them a candidate, by name
    load: int  # open tasks


@dataclass(frozen=True)
class ProposalView:
    handler: str  # who the engine proposes, by name
    is_unit: bool
    reason: str
    candidates: list[Candidate]
    start_values: dict[str, str]  # the form's handler field, pre-selected


@dataclass(frozen=True)
class SummonsView:
    unit: str  # this task's unit, by name
    level: str
    due_at: datetime | None
    units: list[str]  # every unit summoned in this round, by name, the lead first
    is_lead: bool
    note: str


@dataclass(frozen=True)
class HandlerAccount:
    result: str
    description: str
    reason: str


@dataclass
class TaskContext:
    proposal: ProposalView | None = None
    summons: SummonsView | None = None
    handler_account: HandlerAccount | None = None
    start_values: dict[str, Any] = field(default_factory=dict)  # the form's values it pre-fills


def _names(model: Any, key: Any, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    label = model.display_name if model is User else model.name
    rows = db.session.execute(select(key, label).where(key.in_(codes))).all()
    return {code: name or code for code, name in rows}


def user_names(usernames: set[str]) -> dict[str, str]:
    return _names(User, User.username, usernames)


def unit_names(codes: set[str]) -> dict[str, str]:
    return _names(Unit, Unit.code, codes)


def grid_names(codes: set[str]) -> dict[str, str]:
    return _names(Grid, Grid.code, codes)


def in_language(text: str) -> str:
    """The proposal's reasons are written "中文 / English": the half of the page's language."""
    zh, _sep, en = text.partition(" / ")
    return (en or zh) if current_language() == "en" else zh


def proposal_view(proposal: dict[str, Any], declared: dict[str, Any]) -> ProposalView | None:
    user, unit = proposal.get("handler_user"), proposal.get("handler_unit")
    if not (user or unit) and not proposal.get("reason"):
        return None
    is_unit = bool(unit) and not user
    raw = list(proposal.get("candidates") or [])
    grids = grid_names({str(c.get("grid_code")) for c in raw if c.get("grid_code")})
    chosen = str(unit if is_unit else user or "")
    names = (unit_names if is_unit else user_names)({chosen} | {str(c.get("name")) for c in raw})
    field_name = "handler_unit" if is_unit else "handler_user"
    return ProposalView(
        handler=names.get(chosen, chosen),
        is_unit=is_unit,
        reason=_why(chosen, raw, grids) or in_language(str(proposal.get("reason") or "")),
        candidates=[
            Candidate(
                label=str(c.get("label") or names.get(str(c.get("name")), c.get("name"))),
                grid=grids.get(str(c.get("grid_code")), str(c.get("grid_code") or "")),
                load=int(c.get("open_tasks") or 0),
            )
            for c in raw
        ],
        start_values={field_name: chosen} if chosen and field_name in declared else {},
    )


def _why(chosen: str, candidates: list[dict[str, Any]], grids: dict[str, str]) -> str:
    """The proposal's reason in names: its grid, its open load, how many others could take it."""
    for candidate in candidates:
        if candidate.get("name") == chosen:
            grid_code = str(candidate.get("grid_code") or "")
            grid, load, others = (
                grids.get(grid_code, grid_code),
                int(candidate.get("open_tasks") or 0),
                len(candidates) - 1,
            )
            if others == 0:
                return str(_("Only candidate on %(grid)s: %(n)s open tasks", grid=grid, n=load))
            return str(
                _(
                    "Least loaded on %(grid)s: %(n)s open tasks, %(others)s other candidates",
                    grid=grid,
                    n=load,
                    others=others,
                )
            )
    return ""


def summons_view(data: dict[str, Any]) -> SummonsView | None:
    entry = data.get("summoned_unit")
    if not isinstance(entry, dict) or not entry.get("unit"):
        return None
    round_ = [s.get("unit") for s in data.get("summoned") or [] if isinstance(s, dict) and s.get("unit")]
    codes = [str(u) for u in round_] or [str(entry["unit"])]
    names = unit_names(set(codes) | {str(entry["unit"])})
    due = entry.get("report_in_due")
    level = str(entry.get("level") or "")
    return SummonsView(
        unit=names.get(str(entry["unit"]), str(entry["unit"])),
        level=str(LEVEL_LABELS.get(level, level)),
        due_at=as_utc(datetime.fromisoformat(due)) if isinstance(due, str) else None,
        units=[names.get(code, code) for code in codes],
        is_lead=codes[0] == entry["unit"],
        note=str(data.get("coordinate_note") or ""),
    )


def handler_account(data: dict[str, Any]) -> HandlerAccount | None:
    result = data.get("handle_result")
    if not result:
        return None
    return HandlerAccount(
        result=str(HANDLE_RESULT_LABELS.get(result, result)),
        description=str(data.get("handle_description") or ""),
        reason=str(data.get("beyond_means_reason") or ""),
    )


COORDINATION_FORMS = ("coordinate", "report_in")


def task_context(form_key: str | None, data: dict[str, Any], declared: dict[str, Any]) -> TaskContext:
    """The context for one open task: ``data`` is what the task sees, ``declared`` its form's properties."""
    context = TaskContext()
    proposal = data.get("proposal")
    if isinstance(proposal, dict) and ("handler_user" in declared or "handler_unit" in declared):
        context.proposal = proposal_view(proposal, declared)
        if context.proposal is not None and not any(data.get(k) for k in ("handler_user", "handler_unit")):
            context.start_values = context.proposal.start_values
    context.summons = summons_view(data)
    if (form_key or "").startswith(COORDINATION_FORMS):
        context.handler_account = handler_account(data)
    return context
