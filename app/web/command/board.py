"""The live board of one emergency, as the page and its polling endpoint show it: read through the emergency
service's ``view`` (the API's own reading), with what the board adds: each responder's state on the board
(reported in, pending, overdue, or left with the supervisor) and its time left by the clock, the updates'
photos, the command steps, and a digest of it all for the polling's ETag."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import pgettext
from sqlalchemy import select

from app.auth.models import User
from app.cases import services as cases
from app.cases.models import Attachment, Case
from app.clock import as_utc, now
from app.emergency import services as emergencies
from app.emergency.models import ResponderStatus
from app.extensions import db
from app.web.command import steps as command_steps
from app.web.process_context import unit_names
from app.web.supervisor.case_list import names_of
from app.workflow.models import HumanTask


@dataclass(frozen=True)
class Responder:
    position: int
    name: str  # the unit's (or the person's) name
    task_label: str  # what the plan sends it for ("燃气抢修")
    state: str  # reported | pending | overdue | missed
    level: str | None
    misses: int
    limit: str
    due: datetime
    seconds_left: int  # negative: overdue by that much
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    responsible_person: str | None
    eta_minutes: int | None


@dataclass(frozen=True)
class Photo:
    id: int
    ready: bool  # its thumbnail is made


@dataclass(frozen=True)
class Update:
    id: int
    author: str
    unit: str | None
    note: str
    created_at: datetime
    photos: list[Photo]


@dataclass
class Board:
    case: Case
    view: dict[str, Any]
    grid_name: str | None
    responders: list[Responder]
    counts: dict[str, int]
    updates: list[Update]
    steps: list[command_steps.Step]
    other_tasks: list[HumanTask]
    now: datetime
    timings: list[tuple[str, str, datetime | None, int | None]] = field(default_factory=list)
    # a refused on-scene update comes back with its reasons and what was typed
    update_errors: dict[str, str] = field(default_factory=dict)
    update_given: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.case.key

    @property
    def steps_key(self) -> str:
        return command_steps.key_of(self.steps, self.other_tasks)


def responder_state(status: str, misses: int, seconds_left: int) -> str:
    """Reported in; left with the supervisor (missed after the district level); overdue (its limit passed,
    or it already missed one and climbed a level); else pending."""
    if status == ResponderStatus.ACKNOWLEDGED:
        return "reported"
    if status == ResponderStatus.MISSED:
        return "missed"
    return "overdue" if misses > 0 or seconds_left < 0 else "pending"


def _display_names(usernames: set[str]) -> dict[str, str]:
    wanted = {u for u in usernames if u}
    if not wanted:
        return {}
    rows = db.session.execute(select(User.username, User.display_name).where(User.username.in_(wanted))).all()
    return {username: display or username for username, display in rows}


def _responders(view: dict[str, Any], at: datetime) -> list[Responder]:
    units = unit_names({r["unit"] for r in view["responders"] if r["unit"]})
    people = _display_names(
        {r["user"] for r in view["responders"] if r["user"]}
        | {r["acknowledged_by"] for r in view["responders"] if r["acknowledged_by"]}
    )
    shown = []
    for r in view["responders"]:
        due = as_utc(r["report_in_due"])
        left = int((due - at).total_seconds())
        if r["unit"]:
            name = units.get(r["unit"], r["unit"])
        elif r["user"]:
            name = people.get(r["user"], r["user"])
        else:
            name = pgettext("command", "Any grid worker of the grid")
        shown.append(
            Responder(
                position=r["position"],
                name=name,
                task_label=r["label"],
                state=responder_state(r["status"], r["misses"], left),
                level=r["level"],
                misses=r["misses"],
                limit=r["limit"],
                due=due,
                seconds_left=left,
                acknowledged_at=r["acknowledged_at"],
                acknowledged_by=people.get(r["acknowledged_by"] or "", r["acknowledged_by"]),
                responsible_person=r["responsible_person"],
                eta_minutes=r["eta_minutes"],
            )
        )
    return shown


def _updates(user: User, case: Case, view: dict[str, Any]) -> list[Update]:
    wanted = {i for u in view["updates"] for i in u["attachment_ids"]}
    photos: dict[int, Attachment] = (
        {a.id: a for a in cases.attachments(user, case.key) if a.id in wanted} if wanted else {}
    )
    units = unit_names({u["unit"] for u in view["updates"] if u["unit"]})
    authors = _display_names({u["author"] for u in view["updates"] if u["author"]})
    return [
        Update(
            id=u["id"],
            author=authors.get(u["author"] or "", u["author"] or ""),
            unit=units.get(u["unit"]) if u["unit"] else None,
            note=u["note"],
            created_at=u["created_at"],
            photos=[Photo(i, bool(photos[i].thumbnail_path)) for i in u["attachment_ids"] if i in photos],
        )
        for u in reversed(view["updates"])  # newest first
    ]


def _timings(view: dict[str, Any]) -> list[tuple[str, str, datetime | None, int | None]]:
    t = view["timings"]
    return [
        ("first_ack", pgettext("command", "First report-in"), t["first_ack_at"], t["first_ack_seconds"]),
        ("all_ack", pgettext("command", "All reported in"), t["all_ack_at"], t["all_ack_seconds"]),
        ("control", pgettext("command", "Under control"), t["controlled_at"], t["control_seconds"]),
        ("close", pgettext("command", "Ended"), t["closed_at"], t["close_seconds"]),
    ]


def build(user: User, key: str) -> Board:
    """The board of emergency ``key`` for ``user`` (404 when they may not see its case, as in the API)."""
    emergency, case = emergencies.get_emergency(user, key)
    view = emergencies.view(emergency, case)
    at = now()
    responders = _responders(view, at)
    counts = {state: 0 for state in ("reported", "pending", "overdue", "missed")}
    for r in responders:
        counts[r.state] += 1
    grid_names, _categories = names_of([case])
    return Board(
        case=case,
        view=view,
        grid_name=grid_names.get(case.grid_code or ""),
        responders=responders,
        counts=counts,
        updates=_updates(user, case, view),
        steps=command_steps.steps_of(user, case),
        other_tasks=command_steps.other_tasks(user, case),
        now=at,
        timings=_timings(view),
    )


def digest(parts: dict[str, str]) -> str:
    """The ETag of the live parts: it changes when anything shown changes, and only then."""
    text = "\x1f".join(f"{name}\x1e{parts[name]}" for name in sorted(parts))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def duration_text(seconds: int | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return pgettext("command", "%(h)s h %(m)s min", h=hours, m=minutes)
    return pgettext("command", "%(m)s min %(s)s s", m=minutes, s=secs)
