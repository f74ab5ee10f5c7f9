"""The place page's history: the campaign items of the place the reader may see (``campaigns.
items_of_place``), each with its campaign and the titles of the failed check items, and the place's
blacklist trail from the audit log (who put it on or took it off, when, why)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import db
from app.http import paginate
from app.inspections import campaigns
from app.inspections.models import Campaign, CampaignItem, Place

BLACKLIST_ACTIONS = ("place.blacklisted", "place.unblacklisted")
TRAIL_LENGTH = 50


@dataclass(frozen=True)
class Inspection:
    item: CampaignItem
    campaign: Campaign
    failed: list[str]  # titles of the check items failed at the inspection
    refailed: list[str]  # … and at the re-inspection


def _titles(campaign: Campaign, keys: list[str] | None) -> list[str]:
    names = {entry["key"]: entry["title"] for entry in campaign.checklist}
    return [names.get(key, key) for key in keys or []]


def inspections(user: User, place: Place, page: int, page_size: int) -> dict[str, Any]:
    """One page of the place's inspections, newest campaign first."""
    found = paginate(campaigns.items_of_place(user, place.id), page, page_size)
    ids = {item.campaign_id for item in found["items"]}
    by_id = {c.id: c for c in db.session.execute(select(Campaign).where(Campaign.id.in_(ids))).scalars()}
    found["items"] = [
        Inspection(
            item=item,
            campaign=by_id[item.campaign_id],
            failed=_titles(by_id[item.campaign_id], item.failed_items),
            refailed=_titles(by_id[item.campaign_id], item.refailed_items),
        )
        for item in found["items"]
    ]
    return found


def blacklist_trail(place: Place) -> list[AuditEvent]:
    """The place's blacklist changes, newest first (the reason of a removal is in the event's data)."""
    return list(
        db.session.execute(
            select(AuditEvent)
            .where(
                AuditEvent.entity_type == "inspection_place",
                AuditEvent.entity_id == str(place.id),
                AuditEvent.action.in_(BLACKLIST_ACTIONS),
            )
            .order_by(AuditEvent.id.desc())
            .limit(TRAIL_LENGTH)
        ).scalars()
    )
