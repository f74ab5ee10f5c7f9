"""What the person whose turn it is needs beside the form to decide, for the processes other than case
handling: whom to call (the sensor's resident or the next emergency contact), which responder missed its
report-in and how the others stand, the dispute's parties by number and the proposed mediator, the place an
inspection is for and what failed last time. Shown on the task page (``_process_context.html``) as sections of
facts; people and units by name, codes turned into words in the page language.

Read-only: it reads the task's process data and the rows its process keeps; it changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.models import User
from app.cases.models import Case
from app.emergency.models import Emergency, EmergencyResponder
from app.emergency.plans import find_plan
from app.extensions import db
from app.inspections.models import PLACE_TYPES, Campaign, CampaignItem, ItemStatus, campaign_instance
from app.mediation.models import DISPUTE_TYPES, GRADES, PARTY_ROLES, Dispute
from app.mediation.privacy import sees_personal_data
from app.mediation.redaction import cut_address, mask_name, mask_phone
from app.units.models import Unit
from app.web.i18n import current_language, datetime_filter
from app.workflow.models import HumanTask


@dataclass(frozen=True)
class Fact:
    key: str  # what the fact is about, for the page's data-fact (tests, styling)
    label: str
    value: str


@dataclass(frozen=True)
class Section:
    key: str
    heading: str
    facts: list[Fact] = field(default_factory=list)


def _english() -> bool:
    return current_language() == "en"


def _word(table: Mapping[str, tuple[str, str]], code: str | None) -> str:
    """A code's word from a ``{code: (zh, en)}`` table, in the page language; the code when unknown."""
    if not code:
        return "—"
    pair = table.get(code)
    return (pair[1] if _english() else pair[0]) if pair else code


def display_names(usernames: set[str]) -> dict[str, str]:
    """username → the name people know them by (the username when the user has none or is unknown)."""
    names = {u for u in usernames if u}
    if not names:
        return {}
    rows = db.session.execute(select(User.username, User.display_name).where(User.username.in_(names)))
    found = {username: display or username for username, display in rows}
    return {u: found.get(u, u) for u in names}


def _username_of(user_id: int | None) -> str | None:
    person = db.session.get(User, user_id) if user_id is not None else None
    return person.username if person else None


def display_name_of(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    person = db.session.get(User, user_id)
    return (person.display_name or person.username) if person else None


def unit_names(codes: set[str]) -> dict[str, str]:
    """unit code → its name (the code when unknown)."""
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    rows = db.session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(wanted)))
    found = {code: name for code, name in rows}
    return {c: found.get(c) or c for c in wanted}


# -- whom to call ------------------------------------------------------------------------------------


def _contact_line(contact: Mapping[str, Any]) -> str:
    relation = f"({contact['relation']})" if contact.get("relation") else ""
    return f"{contact.get('name') or '—'}{relation} {contact.get('phone') or ''}".strip()


def _calls(task: HumanTask, data: Mapping[str, Any]) -> list[Section]:
    if task.element_id == "call_resident":
        notes = f"({data['resident_notes']})" if data.get("resident_notes") else ""
        person = f"{data.get('resident_name') or '—'}{notes} {data.get('resident_phone') or ''}".strip()
        return [Section("call", _("Whom to call"), [Fact("callee", _("Resident"), person)])]
    if task.element_id not in ("call_contact", "emergency_call_contact"):
        return []
    contacts = data.get("emergency_contacts") or (data.get("emergency") or {}).get("contacts") or []
    index = int((data.get("call_round") or {}).get("next_index") or 0)
    if not 0 <= index < len(contacts):
        return []
    facts = [
        Fact(
            "callee",
            _("Emergency contact %(n)s of %(total)s", n=index + 1, total=len(contacts)),
            _contact_line(contacts[index]),
        )
    ]
    facts += [
        Fact("later", _("Then contact %(n)s", n=later + 1), _contact_line(contacts[later]))
        for later in range(index + 1, len(contacts))
    ]
    return [Section("call", _("Whom to call"), facts)]


# -- emergency responders ------------------------------------------------------------------------------

RESPONDER_STATUS = {
    "pending": ("待报到", "Not yet reported in"),
    "acknowledged": ("已报到", "Reported in"),
    "missed": ("逾期未报到", "Missed"),
}
LEVELS = {
    "community": ("社区", "Community"),
    "street": ("街道", "Street"),
    "district": ("区", "District"),
    "supervisor": ("督办员", "Supervisor"),
}


def _responder_name(row: EmergencyResponder, units: Mapping[str, str], people: Mapping[str, str]) -> str:
    who = units.get(row.unit_code or "") or people.get(row.username or "") or _("Grid worker (to claim)")
    return f"{who} · {row.label}" if row.label and row.label not in who else who


def _responder_state(row: EmergencyResponder) -> str:
    state = _word(RESPONDER_STATUS, row.status)
    if row.status == "acknowledged" and row.responsible_person:
        state += " · " + _("in charge: %(name)s", name=row.responsible_person)
    elif row.status != "acknowledged":
        state += " · " + _("due %(t)s", t=datetime_filter(row.report_in_due))
    if row.misses:
        state += " · " + _(
            "urged at %(level)s level, missed %(n)s times", level=_word(LEVELS, row.level), n=row.misses
        )
    return state


def _emergency(case: Case, data: Mapping[str, Any]) -> list[Section]:
    emergency = db.session.execute(select(Emergency).where(Emergency.case_id == case.id)).scalar_one_or_none()
    if emergency is None:
        return []
    rows = sorted(emergency.responders, key=lambda r: r.position)
    units = unit_names({r.unit_code for r in rows if r.unit_code})
    people = display_names({r.username for r in rows if r.username})
    plan = find_plan(emergency.plan_code, active_only=False)
    plan_name = (plan.name_en if _english() and plan.name_en else plan.name) if plan else None
    sections = []
    responder = data.get("responder") if isinstance(data.get("responder"), Mapping) else None
    mine = next((r for r in rows if responder and r.position == responder.get("position")), None)
    if mine is not None:
        sections.append(
            Section(
                "responder",
                _("Responder"),
                [
                    Fact("responder", _("Unit or person"), _responder_name(mine, units, people)),
                    Fact("responder-state", _("Report-in"), _responder_state(mine)),
                ],
            )
        )
    facts = [Fact("plan", _("Plan"), plan_name)] if plan_name else []
    facts += [
        Fact(f"responder-{r.position}", _responder_name(r, units, people), _responder_state(r)) for r in rows
    ]
    sections.append(Section("responders", _("Responders"), facts))
    return sections


# -- disputes ----------------------------------------------------------------------------------------


def _dispute(user: User, case: Case, task: HumanTask, data: Mapping[str, Any]) -> list[Section]:
    dispute = db.session.execute(select(Dispute).where(Dispute.case_id == case.id)).scalar_one_or_none()
    if dispute is None:
        return []
    full = sees_personal_data(user, dispute)
    facts = [Fact("dispute-type", _("Dispute"), _word(DISPUTE_TYPES, dispute.dispute_type))]
    if dispute.grade:
        facts.append(Fact("grade", _("Grade"), _word(GRADES, dispute.grade)))
    if full:
        facts.append(Fact("description", _("What happened"), dispute.description))
    for party in sorted(dispute.parties, key=lambda p: p.position):
        name = party.name if full else mask_name(party.name)
        phone = party.phone if full else mask_phone(party.phone)
        address = party.address if full else cut_address(party.address)
        value = " · ".join(v for v in (name, _word(PARTY_ROLES, party.role), phone, address) if v)
        facts.append(Fact(f"party-{party.position}", _("Party %(n)s", n=party.position), value))
    mediator = display_name_of(dispute.mediator_id)
    if mediator:
        facts.append(Fact("mediator", _("Mediator"), mediator))
    if dispute.session_count:
        facts.append(Fact("sessions", _("Sessions held"), str(dispute.session_count)))
    sections = [Section("dispute", _("Dispute"), facts)]
    proposal = data.get("proposal") if task.element_id == "intake" else None
    if isinstance(proposal, Mapping):
        proposed = proposal.get("proposed") or {}
        loads = {
            c.get("username"): c.get("load")
            for c in proposal.get("candidates") or []
            if isinstance(c, Mapping)
        }
        names = display_names({u for u in proposed.values() if u})
        sections.append(
            Section(
                "proposal",
                _("Proposed mediator by grade"),
                [
                    Fact(
                        f"proposed-{grade}",
                        _word(GRADES, grade),
                        _("%(name)s (%(n)s open mediations)", name=names[u], n=loads.get(u) or 0)
                        if u
                        else _("nobody"),
                    )
                    for grade, u in proposed.items()
                ],
            )
        )
    return sections


# -- inspections ------------------------------------------------------------------------------------


def _inspection(task: HumanTask, data: Mapping[str, Any]) -> list[Section]:
    target = data.get("target")
    if not isinstance(target, Mapping) or not target.get("item_id"):
        return []
    item = db.session.get(CampaignItem, int(target["item_id"]))
    if item is None:
        return []
    campaign = db.session.get(Campaign, item.campaign_id)
    place = item.place
    facts = [
        Fact("campaign", _("Campaign"), campaign.title if campaign else "—"),
        Fact("place", _("Place"), f"{place.name} · {_word(PLACE_TYPES, place.place_type)}"),
        Fact("address", _("Address"), place.address),
        Fact(
            "responsible",
            _("Person in charge"),
            f"{place.responsible_person} {place.responsible_phone or ''}".strip(),
        ),
    ]
    if task.element_id == "reinspect" and item.failed_items and campaign is not None:
        titles = {entry["key"]: entry["title"] for entry in campaign.checklist}
        facts.append(
            Fact("failed", _("Failed last time"), "、".join(titles.get(k, k) for k in item.failed_items))
        )
        if item.rectify_due_at:
            facts.append(Fact("rectify-due", _("Rectify by"), datetime_filter(item.rectify_due_at)))
    return [Section("inspection", _("Inspection"), facts)]


# the items an inspection step can be about, by the step (the inbox reads the database only)
OPEN_ITEM_STATUS = {
    "inspect": (ItemStatus.PENDING, ItemStatus.OVERDUE),
    "reinspect": (ItemStatus.RECTIFYING,),
}


def subject_of(task: HumanTask) -> str | None:
    """One line naming what a task without a case is about (the inbox's line): the place to inspect and its
    campaign; the campaign alone when its inspector has several places open in it. From the rows, not the
    process data: restoring each task's workflow would cost the inbox too much."""
    statuses = OPEN_ITEM_STATUS.get(task.element_id)
    campaign = db.session.execute(
        select(Campaign).where(Campaign.instance_id == campaign_instance(task.instance_id))
    ).scalar_one_or_none()
    if statuses is None or campaign is None:
        return None
    items = (
        db.session.execute(
            select(CampaignItem).where(
                CampaignItem.campaign_id == campaign.id,
                CampaignItem.inspector == task.candidate_user,
                CampaignItem.status.in_(statuses),
            )
        )
        .scalars()
        .all()
    )
    return f"{items[0].place.name} · {campaign.title}" if len(items) == 1 else campaign.title


def assignment(task: HumanTask) -> Section | None:
    """Who the task is for and who holds it, by name: the unit, the person named, the one who claimed it."""
    facts = []
    if task.candidate_group:
        unit = unit_names({task.candidate_group})[task.candidate_group]
        facts.append(Fact("unit", _("Unit"), unit))
    holder = display_name_of(task.assignee_id)
    if task.candidate_user and (holder is None or task.candidate_user != _username_of(task.assignee_id)):
        facts.append(Fact("for", _("Assigned to"), display_names({task.candidate_user})[task.candidate_user]))
    if holder:
        facts.append(Fact("assignee", _("Claimed by"), holder))
    return Section("task", _("Task"), facts) if facts else None


def sections_for(user: User, task: HumanTask, case: Case | None, data: Mapping[str, Any]) -> list[Section]:
    """Every section that applies to this task: who it is for, then what its process needs shown."""
    holder = assignment(task)
    found = [holder] if holder else []
    found += _calls(task, data)
    if case is not None:
        found += _emergency(case, data)
        found += _dispute(user, case, task, data)
    found += _inspection(task, data)
    return found
