"""The capabilities ``bpmn/inspection_campaign.bpmn`` calls by name (``inspection.*``), and the checklist form
builder. Each operator writes its audit event in the engine step's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.audit.services import record
from app.auth.models import User
from app.clock import now
from app.errors import InvalidInput
from app.extensions import db
from app.inspections import checklist as checklists
from app.inspections.campaigns import rectify_due
from app.inspections.models import Campaign, CampaignItem, CampaignStatus, ItemStatus
from app.inspections.photos import check_photo_ids
from app.inspections.places import blacklist
from app.inspections.territory import territory_of
from app.tasks.services import register_form_builder
from app.workflow import children, operators, relayout
from app.workflow.models import ProcessInstance
from app.workflow.operators import OperatorCall

for _form in checklists.INSPECTION_FORMS:
    register_form_builder(_form, checklists.campaign_schema)


def _campaign(call: OperatorCall, campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    # instance_id is still None while the launch's first step runs (it starts the places' instances too).
    if campaign is None or campaign.instance_id not in (None, call.instance_id, _parent_of(call.instance_id)):
        raise LookupError(f"process instance {call.instance_id} has no inspection campaign {campaign_id}")
    return campaign


def _parent_of(instance_id: int | None) -> int | None:
    """The campaign's instance, for a place's (a child instance, ``app.workflow.children``)."""
    instance = db.session.get(ProcessInstance, instance_id) if instance_id is not None else None
    return instance.parent_id if instance is not None else None


def _item(call: OperatorCall) -> tuple[CampaignItem, Campaign]:
    item = db.session.get(CampaignItem, int(call.params["item_id"]))
    if item is None:
        raise LookupError(
            f"process instance {call.instance_id} has no inspection item {call.params['item_id']}"
        )
    return item, _campaign(call, item.campaign_id)


def _audit(action: str, item: CampaignItem, call: OperatorCall, **fields: Any) -> None:
    record(
        action,
        entity_type="inspection_item",
        entity_id=item.id,
        actor=call.actor,
        instance_id=call.instance_id,
        **fields,
    )


def _titles(campaign: Campaign, keys: list[str]) -> list[str]:
    titles = {entry["key"]: entry["title"] for entry in campaign.checklist}
    return [titles.get(key, key) for key in keys]


def _check_inspector(item: CampaignItem, actor: Any) -> None:
    """Only the workers of the place's grid (or of a grid above it) inspect it. Handed back, the task is
    offered to those only (its ``gridCode``); this also refuses one reassigned to another grid's worker."""
    if actor is None or actor.username == item.inspector or territory_of(actor).covers(item.place.grid_code):
        return
    raise InvalidInput(
        "not a grid worker of this place's grid",
        {"inspector": f"{actor.username} does not work grid {item.place.grid_code}; hand the task back"},
    )


@operators.register(
    "inspection.select_target",
    "确定检查对象: the campaign's index-th target place and the grid worker it was given to at launch",
)
def select_target(call: OperatorCall) -> dict[str, Any]:
    campaign = _campaign(call, int(call.params["campaign_id"]))
    if call.params.get("item_id") is not None:  # a place's own instance names its item
        found = db.session.get(CampaignItem, int(call.params["item_id"]))
        if found is None or found.campaign_id != campaign.id:
            raise LookupError(f"inspection campaign {campaign.id} has no item {call.params['item_id']}")
        item = found
    else:  # instances started before places ran as instances of their own: the index-th item
        item = db.session.execute(
            select(CampaignItem)
            .where(CampaignItem.campaign_id == campaign.id)
            .order_by(CampaignItem.id)
            .offset(int(call.params["index"]))
            .limit(1)
        ).scalar_one()
    place = item.place
    return {
        "item_id": item.id,
        "place_id": place.id,
        "place_code": place.code,
        "place_name": place.name,
        "place_type": place.place_type,
        "address": place.address,
        "responsible_person": place.responsible_person,
        "grid_code": item.grid_code,
        # The user tasks' gridCode: handed back, an inspection is offered to this grid's staff only.
        "place_grid_code": place.grid_code,
        "inspector": item.inspector,
    }


PLACE_PROCESS_KEY = "inspection_place"
PLACES_DONE = "inspection_places_done"


@operators.register(
    "inspection.start_inspections",
    "启动各场所检查: one instance per target place; the campaign goes on when the last one ends",
)
def start_inspections(call: OperatorCall) -> dict[str, Any]:
    """Each place is inspected (and re-inspected) in an instance of its own: an inspection costs the same in
    a campaign of 5,000 places as in one of 50 (``app.workflow.children``)."""
    campaign = _campaign(call, int(call.params["campaign_id"]))
    # Loaded with their places in one query and held here: each place's first step (select_target) finds
    # its item and place in the session instead of two queries each.
    items = list(
        db.session.execute(
            select(CampaignItem)
            .options(joinedload(CampaignItem.place))
            .where(CampaignItem.campaign_id == campaign.id)
            .order_by(CampaignItem.id)
        ).scalars()
    )
    shared = {"campaign_id": campaign.id, "campaign_title": campaign.title, "deadline": call.data["deadline"]}
    variables = [{**shared, "item_id": item.id} for item in items]
    running = children.spawn(
        call.instance_id, PLACE_PROCESS_KEY, variables, message=PLACES_DONE, actor=call.actor
    )
    return {"started": len(variables), "running": running}


@operators.register(
    "inspection.record_inspection",
    "记录检查结果: the checklist's results; any failed item fails the inspection (round: first | re)",
)
def record_inspection(call: OperatorCall) -> dict[str, Any]:
    item, campaign = _item(call)
    again = call.params.get("round") == "re"
    _check_inspector(item, call.actor)
    results = call.data.get("results")
    if not isinstance(results, dict):
        raise InvalidInput("checklist results missing", {"results": "required"})
    photos = check_photo_ids(item, call.data.get("photos"))
    failed = checklists.failed_keys(campaign.checklist, results)
    timestamp = now()
    who = call.actor.username if call.actor is not None else None
    before = {"status": item.status}
    if again:
        item.reinspected_at, item.reinspected_by, item.refailed_items = timestamp, who, failed
    else:
        item.inspected_at, item.inspected_by, item.failed_items = timestamp, who, failed
    if not failed:
        item.status, item.closed_at = ItemStatus.PASSED, timestamp
    _audit(
        "inspection.reinspected" if again else "inspection.inspected",
        item,
        call,
        before=before,
        after={"status": item.status, "passed": not failed, "failed_items": failed},
        data={"results": results, "photos": photos, "summary": call.data.get("summary")},
    )
    return {"item_id": item.id, "passed": not failed, "failed_items": failed, "status": item.status}


@operators.register(
    "inspection.issue_notice",
    "下达整改通知书: a rectification deadline (the campaign's working days) for the failed items",
)
def issue_notice(call: OperatorCall) -> dict[str, Any]:
    item, campaign = _item(call)
    timestamp = now()
    due = rectify_due(timestamp, campaign.rectify_days)
    if call.actor is not None:
        item.inspector = call.actor.username  # who inspected re-inspects
    before = {"status": item.status}  # pending, or overdue when inspected after the campaign deadline
    item.status, item.notice_issued_at, item.rectify_due_at = ItemStatus.RECTIFYING, timestamp, due
    failed = list(item.failed_items or [])
    _audit(
        "inspection.notice_issued",
        item,
        call,
        before=before,
        after={"status": item.status, "rectify_due_at": due.isoformat()},
        data={"failed_items": failed, "failed_titles": _titles(campaign, failed), "place_id": item.place_id},
    )
    return {"due_at": due.isoformat(), "inspector": item.inspector, "failed_items": failed}


@operators.register(
    "inspection.blacklist_place",
    "列入黑名单: the place failed its re-inspection after rectification",
)
def blacklist_place(call: OperatorCall) -> dict[str, Any]:
    item, campaign = _item(call)
    timestamp = now()
    failed = list(item.refailed_items or [])
    titles = "、".join(_titles(campaign, failed))
    reason = (
        f"「{campaign.title}」整改复查仍不合格:{titles} / failed the re-inspection of campaign "
        f"{campaign.id} after rectification: {', '.join(failed)}"
    )
    blacklist(item.place, reason, timestamp, call.actor, campaign_id=campaign.id, item_id=item.id)
    item.status, item.closed_at = ItemStatus.BLACKLISTED, timestamp
    _audit(
        "inspection.failed",
        item,
        call,
        before={"status": ItemStatus.RECTIFYING},
        after={"status": item.status},
        data={"reason": reason},
    )
    return {"item_id": item.id, "passed": False, "failed_items": failed, "status": item.status}


@operators.register("inspection.finish_campaign", "结束专项检查: every target place is done or failed")
def finish_campaign(call: OperatorCall) -> dict[str, Any]:
    campaign = _campaign(call, int(call.params["campaign_id"]))
    timestamp = now()
    campaign.status, campaign.completed_at = CampaignStatus.COMPLETED, timestamp
    record(
        "inspection.campaign_completed",
        entity_type="inspection_campaign",
        entity_id=campaign.id,
        actor=call.actor,
        instance_id=call.instance_id,
        before={"status": CampaignStatus.RUNNING},
        after={"status": campaign.status},
    )
    return {"status": campaign.status, "at": timestamp.isoformat()}


@operators.register(
    "inspection.mark_overdue",
    "专项检查逾期: at the campaign deadline, inspections not done become overdue; the launcher is told",
)
def mark_overdue(call: OperatorCall) -> dict[str, Any]:
    """Mark the campaign's still pending inspections overdue (one audit event each, and one for the
    campaign). The inspections stay offered: the campaign runs until every target is done. Rectifications
    under way keep their own deadline and are not overdue. Returns who to tell (the launcher)."""
    campaign = _campaign(call, int(call.params["campaign_id"]))
    items = list(
        db.session.execute(
            select(CampaignItem)
            .where(CampaignItem.campaign_id == campaign.id, CampaignItem.status == ItemStatus.PENDING)
            .order_by(CampaignItem.id)
        ).scalars()
    )
    for item in items:
        item.status = ItemStatus.OVERDUE
        _audit(
            "inspection.overdue",
            item,
            call,
            before={"status": ItemStatus.PENDING},
            after={"status": item.status},
            data={"deadline": campaign.deadline.isoformat(), "inspector": item.inspector},
        )
    launcher = db.session.get(User, campaign.launched_by_id)
    record(
        "inspection.campaign_overdue",
        entity_type="inspection_campaign",
        entity_id=campaign.id,
        actor=call.actor,
        instance_id=call.instance_id,
        data={
            "deadline": campaign.deadline.isoformat(),
            "overdue": len(items),
            "item_ids": [item.id for item in items],
            "notified": launcher.username if launcher is not None else None,
        },
    )
    return {
        "overdue": len(items),
        "launcher": launcher.username if launcher is not None else None,
        "unit_code": campaign.unit_code,
    }


def _place_variables(data: dict[str, Any]) -> dict[str, Any]:
    target = data.get("target")
    return {"item_id": target["item_id"]} if isinstance(target, dict) else {}


# Campaigns started before places ran as instances of their own: converted by the migration.
relayout.register(
    relayout.Layout(
        process_key="inspection_campaign",
        element_id="inspect_places",
        child_key=PLACE_PROCESS_KEY,
        spawn_element="start_inspections",
        result_variable="inspections",
        message=PLACES_DONE,
        child_variables=_place_variables,
    )
)
