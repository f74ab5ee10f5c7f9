"""Campaigns: launch one (checked first: nothing starts on bad input), and read them with their progress.

Who sees a campaign: the members of the unit that launched it (all of it); the launcher; everyone else the
items in their territory (``app/grids/scope.py``: a grid worker their grid, community staff their community,
a supervisor of the district everything) and the items they inspect. A campaign with no item you may see is
a 404, like one that does not exist."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select, true

from app import runtime
from app.audit.services import record
from app.auth.models import User
from app.auth.roles import Role
from app.cases.dispatch import grid_worker_candidates
from app.clock import as_utc, now
from app.errors import Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.grids.codes import LEVEL_LENGTHS, code_problem
from app.grids.models import Grid
from app.grids.scope import in_subtrees
from app.inspections import checklist as checklists
from app.inspections.models import (
    PLACE_TYPES,
    Campaign,
    CampaignItem,
    CampaignStatus,
    ItemStatus,
    Place,
)
from app.inspections.territory import territory_of
from app.units.models import Unit
from app.workflow import instances, rows

PROCESS_KEY = "inspection_campaign"
LAUNCHERS = frozenset({Role.DEPARTMENT_HANDLER, Role.SUPERVISOR, Role.ADMIN})
GRID_LENGTH = LEVEL_LENGTHS["grid"]
# What the progress API calls the item statuses.
COUNT_NAMES = {
    ItemStatus.PASSED: "done",
    ItemStatus.BLACKLISTED: "failed",
    ItemStatus.RECTIFYING: "rectifying",
    ItemStatus.PENDING: "pending",
    ItemStatus.OVERDUE: "overdue",
}


def comprehensive_grid(code: str) -> str:
    """The comprehensive grid (综合网格) a place's grid lies in: progress is counted per those."""
    return code[:GRID_LENGTH] if len(code) > GRID_LENGTH else code


# -- launching --------------------------------------------------------------------------------------


def _launching_unit(user: User, unit_code: str | None) -> str:
    if user.role == Role.DEPARTMENT_HANDLER:
        if unit_code and unit_code != user.unit_code:
            raise Forbidden(
                "a department handler launches campaigns for their own unit",
                {"unit_code": f"you belong to {user.unit_code!r}, not {unit_code!r}"},
            )
        unit_code = user.unit_code
    if not unit_code:
        raise InvalidInput("which unit launches the campaign", {"unit_code": "required"})
    unit = db.session.execute(select(Unit).where(Unit.code == unit_code)).scalar_one_or_none()
    if unit is None or not unit.active:
        raise InvalidInput("unknown unit", {"unit_code": f"no active unit {unit_code!r}"})
    return unit_code


def _checked_targets(user: User, grid_codes: list[str], place_types: list[str]) -> list[Place]:
    if not grid_codes and not place_types:
        raise InvalidInput("a campaign needs targets", {"targets": "give grid_codes, place_types or both"})
    problems = {f"grid_codes.{i}": p for i, code in enumerate(grid_codes) if (p := code_problem(code))}
    problems.update(
        {
            f"place_types.{i}": f"unknown place type {t!r}"
            for i, t in enumerate(place_types)
            if t not in PLACE_TYPES
        }
    )
    if problems:
        raise InvalidInput("invalid targets", problems)
    known = set(db.session.execute(select(Grid.code).where(Grid.code.in_(grid_codes))).scalars())
    unknown = [code for code in grid_codes if code not in known]
    if unknown:
        raise InvalidInput("unknown grids", {"grid_codes": f"no grid with code {', '.join(unknown)}"})
    territory = territory_of(user)
    outside = [code for code in grid_codes if not territory.covers(code)]
    if outside:
        raise Forbidden("grids outside your territory", {"grid_codes": f"not yours: {', '.join(outside)}"})
    query = select(Place).where(Place.active.is_(True), territory.condition(Place.grid_code))
    if grid_codes:
        query = query.where(in_subtrees(Place.grid_code, grid_codes))
    if place_types:
        query = query.where(Place.place_type.in_(place_types))
    places = list(db.session.execute(query.order_by(Place.grid_code, Place.code)).scalars())
    if not places:
        raise InvalidInput(
            "no place matches the targets",
            {"targets": "no active place of your territory lies in those grids and has those types"},
        )
    limit = max_targets()
    if len(places) > limit:
        raise InvalidInput(
            "too many targets",
            {
                "targets": f"目标场所 {len(places)} 个,超过每次专项检查上限 {limit} 个,请拆分"
                f" / {len(places)} places; at most {limit} per campaign (INSPECTION_MAX_TARGETS), split it"
            },
        )
    return places


def max_targets() -> int:
    """How many places one campaign may target (``INSPECTION_MAX_TARGETS``): each place is an instance of
    its own, started by the launch's one transaction."""
    return runtime.settings().inspection_max_targets


def _inspectors(places: list[Place]) -> dict[int, str]:
    """Place id → the grid worker to offer its inspection to: the least loaded of its grid (as dispatch
    proposes), counting the inspections this campaign already gave them."""
    given: dict[str, int] = defaultdict(int)
    candidates: dict[str, list[Any]] = {}
    chosen: dict[int, str] = {}
    for place in places:
        if place.grid_code not in candidates:
            candidates[place.grid_code] = grid_worker_candidates(place.grid_code)
        workers = candidates[place.grid_code]
        if not workers:
            continue
        best = min(workers, key=lambda c: (c.load + given[c.name], c.name))
        given[best.name] += 1
        chosen[place.id] = best.name
    without = sorted({p.grid_code for p in places if p.id not in chosen})
    if without:
        raise InvalidInput(
            "no grid worker for some targets",
            {"targets": f"no active grid worker is assigned to grid {', '.join(without)}"},
        )
    return chosen


# What a new item leaves NULL until it is inspected (its JSON columns would store JSON null if given None).
_UNSET_ON_NEW_ITEM = (
    "inspected_at",
    "inspected_by",
    "failed_items",
    "notice_issued_at",
    "rectify_due_at",
    "reinspected_at",
    "reinspected_by",
    "refailed_items",
    "closed_at",
)


def launch(user: User, fields: dict[str, Any]) -> Campaign:
    """Launch a campaign: one inspection per target place, for a grid worker of the place's grid."""
    if user.role not in LAUNCHERS:
        raise Forbidden(f"a {user.role} may not launch inspection campaigns", {"role": user.role})
    unit_code = _launching_unit(user, fields.get("unit_code"))
    items = checklists.normalise(fields.get("checklist"))
    deadline = as_utc(fields["deadline"])
    if deadline <= now():
        raise InvalidInput("deadline in the past", {"deadline": "must be later than now"})
    grid_codes, place_types = list(fields.get("grid_codes") or []), list(fields.get("place_types") or [])
    places = _checked_targets(user, grid_codes, place_types)
    inspectors = _inspectors(places)
    timestamp = now()
    campaign = Campaign(
        title=fields["title"].strip(),
        description=(fields.get("description") or "").strip(),
        unit_code=unit_code,
        launched_by_id=user.id,
        checklist=items,
        target_grid_codes=grid_codes,
        target_place_types=place_types,
        deadline=deadline,
        rectify_days=fields.get("rectify_days") or 5,
        status=CampaignStatus.RUNNING,
        created_at=timestamp,
    )
    db.session.add(campaign)
    db.session.flush()
    # Core's multi-row INSERT: the ORM's unit of work costs seconds of CPU for 5,000 items.
    targets = rows.insert(
        CampaignItem,
        [
            {
                "campaign_id": campaign.id,
                "place_id": place.id,
                "grid_code": comprehensive_grid(place.grid_code),
                "status": ItemStatus.PENDING,
                "inspector": inspectors[place.id],
            }
            for place in places
        ],
        unset=_UNSET_ON_NEW_ITEM,
    )
    record(
        "inspection.campaign_launched",
        entity_type="inspection_campaign",
        entity_id=campaign.id,
        actor=user,
        after={
            "title": campaign.title,
            "unit_code": unit_code,
            "checklist": items,
            "grid_codes": grid_codes,
            "place_types": place_types,
            "deadline": deadline.isoformat(),
            "rectify_days": campaign.rectify_days,
            "places": len(targets),
        },
    )
    # The diagram gets only the count: each inspection reads its target (``inspection.select_target``), so
    # the places are not copied into every parallel instance's data.
    outcome = instances.start_instance(
        PROCESS_KEY,
        business_key=f"inspection-{campaign.id}",
        variables={
            "campaign_id": campaign.id,
            "campaign_title": campaign.title,
            "deadline": deadline.isoformat(),
            "target_count": len(targets),
        },
        actor=user,
    )
    campaign.instance_id = outcome.instance.id
    return campaign


# -- reading ----------------------------------------------------------------------------------------


def _item_visible(user: User) -> ColumnElement[bool]:
    """The condition on ``CampaignItem`` (joined with ``Campaign``) for the items ``user`` may see."""
    if user.role == Role.DEPARTMENT_HANDLER:
        return Campaign.unit_code == user.unit_code if user.unit_code else Campaign.launched_by_id == user.id
    territory = territory_of(user)
    if territory.everything:
        return true()
    return or_(
        territory.condition(CampaignItem.grid_code),
        CampaignItem.inspector == user.username,
        Campaign.launched_by_id == user.id,
    )


def _visible_items(user: User) -> Select[Any]:
    return (
        select(CampaignItem)
        .join(Campaign, Campaign.id == CampaignItem.campaign_id)
        .where(_item_visible(user))
    )


def list_campaigns(user: User, status: str | None = None, unit_code: str | None = None) -> Select[Any]:
    """The campaigns with at least one item ``user`` may see, newest first."""
    any_item = (
        exists().where(CampaignItem.campaign_id == Campaign.id, _item_visible(user)).correlate(Campaign)
    )
    query = select(Campaign).where(any_item)
    if status is not None:
        query = query.where(Campaign.status == status)
    if unit_code is not None:
        query = query.where(Campaign.unit_code == unit_code)
    return query.order_by(Campaign.created_at.desc(), Campaign.id.desc())


def get_campaign(user: User, campaign_id: int) -> Campaign:
    campaign = db.session.execute(list_campaigns(user).where(Campaign.id == campaign_id)).scalar_one_or_none()
    if campaign is None:
        raise NotFound(f"inspection campaign {campaign_id} does not exist")
    return campaign


def _empty_counts() -> dict[str, int]:
    return {"total": 0, **dict.fromkeys(COUNT_NAMES.values(), 0)}


def counts_by_campaign(user: User, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per campaign: total / done / failed / rectifying / pending over the items ``user`` may see."""
    result: dict[int, dict[str, int]] = {cid: _empty_counts() for cid in campaign_ids}
    rows = db.session.execute(
        select(CampaignItem.campaign_id, CampaignItem.status, func.count())
        .join(Campaign, Campaign.id == CampaignItem.campaign_id)
        .where(CampaignItem.campaign_id.in_(campaign_ids), _item_visible(user))
        .group_by(CampaignItem.campaign_id, CampaignItem.status)
    ).all()
    for campaign_id, status, count in rows:
        result[campaign_id][COUNT_NAMES[status]] += count
        result[campaign_id]["total"] += count
    return result


def progress(user: User, campaign: Campaign) -> dict[str, Any]:
    """The campaign's counts overall and per comprehensive grid (the grids ``user`` may see)."""
    rows = db.session.execute(
        select(CampaignItem.grid_code, CampaignItem.status, func.count())
        .join(Campaign, Campaign.id == CampaignItem.campaign_id)
        .where(CampaignItem.campaign_id == campaign.id, _item_visible(user))
        .group_by(CampaignItem.grid_code, CampaignItem.status)
    ).all()
    per_grid: dict[str, dict[str, int]] = defaultdict(_empty_counts)
    overall = _empty_counts()
    for grid_code, status, count in rows:
        for counts in (per_grid[grid_code], overall):
            counts[COUNT_NAMES[status]] += count
            counts["total"] += count
    names = dict(db.session.execute(select(Grid.code, Grid.name).where(Grid.code.in_(list(per_grid)))).all())
    grids = [{"grid_code": code, "grid_name": names.get(code), **per_grid[code]} for code in sorted(per_grid)]
    return {"counts": overall, "grids": grids}


def list_items(
    user: User, campaign: Campaign, status: str | None = None, grid: str | None = None
) -> Select[Any]:
    query = _visible_items(user).where(CampaignItem.campaign_id == campaign.id)
    if status is not None:
        query = query.where(CampaignItem.status == status)
    if grid is not None:
        query = query.where(in_subtrees(CampaignItem.grid_code, [grid]))
    return query.order_by(CampaignItem.grid_code, CampaignItem.id)


def get_item(user: User, item_id: int) -> CampaignItem:
    item = db.session.execute(_visible_items(user).where(CampaignItem.id == item_id)).scalar_one_or_none()
    if item is None:
        raise NotFound(f"inspection item {item_id} does not exist")
    return item


def items_of_place(user: User, place_id: int) -> Select[Any]:
    """The items of one place ``user`` may see, newest campaign first: the place's inspection history."""
    return (
        _visible_items(user)
        .where(CampaignItem.place_id == place_id)
        .order_by(Campaign.created_at.desc(), CampaignItem.id.desc())
    )


def rectify_due(start: datetime, days: int) -> datetime:
    """The rectification deadline: ``days`` working days from ``start`` on the app's working calendar."""
    from app.cases.dispatch import calendar

    return calendar().add_working_days(start, days)
