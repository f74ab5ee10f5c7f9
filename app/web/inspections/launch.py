"""Launching a campaign from the page: the form's fields read and checked as the API's schema checks them,
then ``campaigns.launch`` (which checks the rest: the unit, the checklist, the deadline, the targets and a
grid worker for each, and writes nothing on bad input); every refusal becomes a zh-CN message beside its
field. Also what the launch map draws: the grids to choose and how many places each grid has of each type,
counted with the launch's own rule (active places of the launcher's territory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from app.auth.models import User
from app.auth.roles import Role
from app.clock import now
from app.errors import DomainError, Forbidden, InvalidInput
from app.extensions import db
from app.grids.models import Grid
from app.inspections import campaigns, checklist
from app.inspections.models import PLACE_TYPES, Campaign, Place
from app.inspections.territory import territory_of
from app.units import services as units
from app.units.models import Unit
from app.web.geo import grid_feature

LOCAL = ZoneInfo("Asia/Shanghai")  # what people type is China time (BABEL_DEFAULT_TIMEZONE)
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">
TITLE_LENGTH = 120
DESCRIPTION_LENGTH = 2000
RECTIFY_DAYS = (1, 60)
CHOICE_LEVELS = ("street", "community", "grid")
MAP_PLACES = 2000  # beyond this many places the launch map shows the counts, not every marker


@dataclass
class LaunchForm:
    """What was typed (shown again on a refusal) and the refusals by field."""

    given: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def default_deadline() -> str:
    """Two weeks from today, 18:00 China time, as the deadline field shows it."""
    local = (now() + timedelta(days=14)).astimezone(LOCAL)
    return local.replace(hour=18, minute=0, second=0, microsecond=0).strftime(LOCAL_FORMAT)


def blank_form(user: User) -> LaunchForm:
    return LaunchForm(
        given={
            "unit_code": user.unit_code or "",
            "deadline": default_deadline(),
            "rectify_days": "5",
            "grid": [],
            "place_type": [],
        }
    )


def _deadline(raw: str) -> datetime | None:
    try:
        return datetime.strptime(raw.strip(), LOCAL_FORMAT).replace(tzinfo=LOCAL)
    except ValueError:
        return None


def read(user: User, form: MultiDict[str, str]) -> tuple[dict[str, Any], LaunchForm]:
    """The service's fields from the posted form, and the form to show again with what the page refused."""
    given: dict[str, Any] = {name: form.get(name, "") for name in ("title", "description", "checklist")}
    given.update(
        unit_code=user.unit_code if user.role == Role.DEPARTMENT_HANDLER else form.get("unit_code", ""),
        deadline=form.get("deadline", ""),
        rectify_days=form.get("rectify_days", ""),
        grid=form.getlist("grid"),
        place_type=form.getlist("place_type"),
    )
    errors: dict[str, str] = {}
    title = given["title"].strip()
    if not title:
        errors["title"] = _("Give the campaign a title.")
    elif len(title) > TITLE_LENGTH:
        errors["title"] = _("At most %(n)s characters.", n=TITLE_LENGTH)
    if len(given["description"].strip()) > DESCRIPTION_LENGTH:
        errors["description"] = _("At most %(n)s characters.", n=DESCRIPTION_LENGTH)
    deadline = _deadline(given["deadline"])
    if deadline is None:
        errors["deadline"] = _("Give the date and time by which every place is inspected.")
    days = given["rectify_days"].strip()
    if not days.isdigit() or not RECTIFY_DAYS[0] <= int(days) <= RECTIFY_DAYS[1]:
        errors["rectify_days"] = _("A whole number of working days from %(low)s to %(high)s.", low=1, high=60)
    fields = {
        "title": title,
        "description": given["description"].strip(),
        "unit_code": given["unit_code"] or None,
        "checklist": [line.strip() for line in given["checklist"].splitlines() if line.strip()],
        "grid_codes": [code for code in given["grid"] if code],
        "place_types": [code for code in given["place_type"] if code],
        "deadline": deadline,
        "rectify_days": int(days) if days.isdigit() else None,
    }
    return fields, LaunchForm(given=given, errors=errors)


def launch(user: User, fields: dict[str, Any], form: LaunchForm) -> Campaign | None:
    """The campaign, or None with ``form.errors`` filled (nothing written: the caller rolls back)."""
    if form.errors:
        return None
    try:
        return campaigns.launch(user, fields)
    except (InvalidInput, Forbidden) as exc:
        form.errors.update(refusal_messages(exc))
        return None


def _checklist_message(details: dict[str, Any]) -> str:
    if "checklist" in details and "at most" in str(details["checklist"]):
        return _("At most %(n)s check items.", n=checklist.MAX_ITEMS)
    if any(str(key).endswith(".title") for key in details):
        return _("A check item is at most %(n)s characters.", n=checklist.MAX_TITLE)
    return _("List at least one check item, one per line.")


def _targets_message(exc: DomainError) -> str:
    detail = str((exc.details or {}).get("targets", ""))
    if exc.message == "no grid worker for some targets":
        return _(
            "No grid worker is assigned to some of these grids (%(grids)s): assign one first.",
            grids=detail.rsplit("grid ", 1)[-1],
        )
    if exc.message == "too many targets":
        return _("Too many places for one campaign (%(detail)s): launch several.", detail=detail)
    if exc.message == "a campaign needs targets":
        return _("Choose grids, place types or both.")
    return _("No active place of your territory lies in these grids and has these types.")


def refusal_messages(exc: DomainError) -> dict[str, str]:
    """The service's refusal as the page's fields and words."""
    details = exc.details if isinstance(exc.details, dict) else {}
    keys = {str(key).split(".")[0] for key in details}
    messages: dict[str, str] = {}
    if "unit_code" in keys:
        messages["unit_code"] = (
            _("You launch campaigns for your own unit.")
            if isinstance(exc, Forbidden)
            else _("Choose the unit that launches the campaign.")
        )
    if "checklist" in keys:
        messages["checklist"] = _checklist_message(details)
    if "deadline" in keys:
        messages["deadline"] = _("The deadline must be later than now.")
    if "grid_codes" in keys:  # unknown, malformed or outside the territory: all alike, "no such grid"
        messages["grid"] = _("Choose grids from the list.")
    if "place_types" in keys:
        messages["place_type"] = _("Choose place types from the list.")
    if "targets" in keys:
        messages["targets"] = _targets_message(exc)
    if "role" in keys:
        messages["targets"] = _("Your role may not launch inspection campaigns.")
    return messages or {"targets": _("The campaign could not be launched with these values.")}


# -- what the form offers ---------------------------------------------------------------------------


def unit_choices(user: User) -> list[Unit]:
    """The units a campaign may be launched for: a department handler's own, else every active unit."""
    if user.role == Role.DEPARTMENT_HANDLER:
        return [
            u for u in [db.session.execute(select(Unit).where(Unit.code == user.unit_code)).scalar()] if u
        ]
    return list(db.session.execute(units.list_units(active=True)).scalars())


def grid_choices(user: User) -> list[tuple[str, str, str]]:
    """(code, name, level) of the streets, communities and grids of the launcher's territory."""
    territory = territory_of(user)
    rows = db.session.execute(
        select(Grid.code, Grid.name, Grid.level)
        .where(Grid.level.in_(CHOICE_LEVELS), territory.condition(Grid.code))
        .order_by(Grid.code)
    )
    return [(code, name, level) for code, name, level in rows]


def place_type_choices() -> list[str]:
    return list(PLACE_TYPES)


def place_counts(user: User) -> list[dict[str, Any]]:
    """How many active places of the launcher's territory each (grid, type) has: what a launch would take."""
    territory = territory_of(user)
    rows = db.session.execute(
        select(Place.grid_code, Place.place_type, func.count())
        .where(Place.active.is_(True), territory.condition(Place.grid_code))
        .group_by(Place.grid_code, Place.place_type)
    ).all()
    return [{"grid": code, "type": kind, "n": n} for code, kind, n in rows]


def map_data(user: User) -> dict[str, Any]:
    """The launch map: the comprehensive grids of the territory (outlines to click), the number of active
    places per (grid, type) to count the choice exactly, and the places themselves when not too many."""
    territory = territory_of(user)
    grids = db.session.execute(
        select(Grid).where(Grid.level == "grid", territory.condition(Grid.code)).order_by(Grid.code)
    ).scalars()
    counts = place_counts(user)
    total = sum(row["n"] for row in counts)
    places: list[dict[str, Any]] = []
    if total <= MAP_PLACES:
        rows = db.session.execute(
            select(Place.id, Place.name, Place.place_type, Place.grid_code, Place.lat, Place.lon)
            .where(Place.active.is_(True), territory.condition(Place.grid_code))
            .order_by(Place.code)
        ).all()
        places = [
            {"id": i, "name": name, "type": kind, "grid": code, "lat": lat, "lon": lon}
            for i, name, kind, code, lat, lon in rows
        ]
    return {
        "grids": [grid_feature(grid) for grid in grids],
        "counts": counts,
        "places": places,
    }


def chosen_count(user: User, grid_codes: list[str], place_types: list[str]) -> int:
    """How many places a choice names (the page shows it again after a refusal)."""
    if not grid_codes and not place_types:
        return 0
    return sum(
        row["n"]
        for row in place_counts(user)
        if (not grid_codes or any(row["grid"].startswith(code) for code in grid_codes))
        and (not place_types or row["type"] in place_types)
    )
