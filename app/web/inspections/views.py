"""Inspection page routes: thin (who is asking → one service call → render or redirect). Refusals show the
page again with each field's reason beside it (422), after a rollback: nothing is half-written."""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.auth.models import User
from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.grids.models import Grid
from app.http import paginate
from app.inspections import campaigns, places
from app.inspections.models import PLACE_TYPES, CampaignStatus, ItemStatus
from app.units.models import Unit
from app.web.errors import register_page_errors
from app.web.inspections import bp, history, labels, launch, progress
from app.web.inspections.access import (
    inspection_page,
    may_launch,
    may_unblacklist,
    require_launcher,
)
from app.web.inspections.query import list_query

register_page_errors(bp)

PAGE_SIZE = 20


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"insp_labels": labels, "may_launch": may_launch, "may_unblacklist": may_unblacklist}


def _unit_names(codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    return dict(db.session.execute(db.select(Unit.code, Unit.name).where(Unit.code.in_(codes))).all())


def _people(usernames: set[str]) -> dict[str, str]:
    """Display names of the inspectors shown (the items name them by login)."""
    if not usernames:
        return {}
    return dict(
        db.session.execute(
            db.select(User.username, User.display_name).where(User.username.in_(usernames))
        ).all()
    )


def _grid_names(codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    return dict(db.session.execute(db.select(Grid.code, Grid.name).where(Grid.code.in_(codes))).all())


# -- campaigns ----------------------------------------------------------------------------------------


@bp.route("/")
@inspection_page
def campaign_list(user: User) -> ResponseReturnValue:
    query = list_query(request.args, status=(CampaignStatus.RUNNING, CampaignStatus.COMPLETED))
    page = paginate(campaigns.list_campaigns(user, status=query.value("status")), query.page, PAGE_SIZE)
    counts = campaigns.counts_by_campaign(user, [c.id for c in page["items"]])
    body = render_template(
        "inspections/campaigns.html",
        query=query,
        page=page,
        counts=counts,
        unit_names=_unit_names({c.unit_code for c in page["items"]}),
        page_url=lambda number: url_for("inspection_pages.campaign_list", **query.args(page=number)),
    )
    return body, 422 if query.errors else 200


@bp.route("/campaigns/new", methods=["GET", "POST"])
@inspection_page
def launch_page(user: User) -> ResponseReturnValue:
    require_launcher(user)
    if request.method == "GET":
        return _launch_form(user, launch.blank_form(user))
    fields, form = launch.read(user, request.form)
    campaign = launch.launch(user, fields, form)
    if campaign is None:
        db.session.rollback()
        flash(_("Please correct the marked fields."), "error")
        return _launch_form(user, form, fields), 422
    db.session.commit()
    total = campaigns.counts_by_campaign(user, [campaign.id])[campaign.id]["total"]
    flash(
        _("Campaign “%(title)s” launched: %(n)s places to inspect.", title=campaign.title, n=total),
        "success",
    )
    return redirect(url_for("inspection_pages.campaign_page", campaign_id=campaign.id))


def _launch_form(user: User, form: launch.LaunchForm, fields: dict[str, Any] | None = None) -> str:
    chosen = launch.chosen_count(user, fields["grid_codes"], fields["place_types"]) if fields else 0
    return render_template(
        "inspections/launch.html",
        form=form,
        chosen=chosen,
        units=launch.unit_choices(user),
        own_unit=user.unit_code if user.role == "department_handler" else None,
        grid_choices=launch.grid_choices(user),
        place_types=launch.place_type_choices(),
    )


@bp.route("/campaigns/new/map.json")
@inspection_page
def launch_map(user: User) -> ResponseReturnValue:
    require_launcher(user)
    return jsonify(launch.map_data(user))


@bp.route("/campaigns/<int:campaign_id>")
@inspection_page
def campaign_page(user: User, campaign_id: int) -> ResponseReturnValue:
    campaign = campaigns.get_campaign(user, campaign_id)
    query = list_query(request.args, status=ItemStatus.ALL, grid=None)
    items = paginate(
        campaigns.list_items(user, campaign, status=query.value("status"), grid=query.value("grid")),
        query.page,
        PAGE_SIZE,
    )
    found = progress.grid_rows(user, campaign)
    launcher = db.session.get(User, campaign.launched_by_id)
    body = render_template(
        "inspections/campaign.html",
        campaign=campaign,
        launcher=launcher,
        counts=found["counts"],
        grids=found["grids"],
        items=items,
        query=query,
        grid_names=_grid_names({item.grid_code for item in items["items"]}),
        unit_names=_unit_names({campaign.unit_code}),
        people=_people({i.inspected_by or i.inspector for i in items["items"]}),
        page_url=lambda number: url_for(
            "inspection_pages.campaign_page", campaign_id=campaign.id, **query.args(page=number)
        ),
    )
    return body, 422 if query.errors else 200


@bp.route("/campaigns/<int:campaign_id>/map.json")
@inspection_page
def campaign_map(user: User, campaign_id: int) -> ResponseReturnValue:
    return jsonify(progress.map_data(user, campaigns.get_campaign(user, campaign_id)))


# -- places ---------------------------------------------------------------------------------------------


@bp.route("/places")
@inspection_page
def place_list(user: User) -> ResponseReturnValue:
    query = list_query(
        request.args, place_type=tuple(PLACE_TYPES), blacklisted=("true", "false"), grid=None, q=None
    )
    blacklisted = query.value("blacklisted")
    page = paginate(
        places.list_places(
            user,
            place_type=query.value("place_type"),
            grid=query.value("grid"),
            blacklisted=None if blacklisted is None else blacklisted == "true",
            q=query.value("q"),
        ),
        query.page,
        PAGE_SIZE,
    )
    body = render_template(
        "inspections/places.html",
        query=query,
        page=page,
        grid_choices=launch.grid_choices(user),
        grid_names=_grid_names({p.grid_code for p in page["items"]}),
        page_url=lambda number: url_for("inspection_pages.place_list", **query.args(page=number)),
    )
    return body, 422 if query.errors else 200


@bp.route("/places/<int:place_id>")
@inspection_page
def place_page(user: User, place_id: int) -> ResponseReturnValue:
    return _place(user, place_id, {}, {})


def _place(user: User, place_id: int, errors: dict[str, str], given: dict[str, str]) -> str:
    place = places.get_place(user, place_id)
    query = list_query(request.args)
    found = history.inspections(user, place, query.page, PAGE_SIZE)
    return render_template(
        "inspections/place.html",
        place=place,
        inspections=found,
        trail=history.blacklist_trail(place),
        grid_names=_grid_names({place.grid_code}),
        errors=errors,
        given=given,
        page_url=lambda number: url_for("inspection_pages.place_page", place_id=place.id, page=number),
    )


@bp.route("/places/<int:place_id>/unblacklist", methods=["POST"])
@inspection_page
def unblacklist(user: User, place_id: int) -> ResponseReturnValue:
    reason = request.form.get("reason", "")
    try:
        place = places.unblacklist_place(user, place_id, reason)
    except InvalidInput as exc:
        db.session.rollback()
        message = (
            _("At most %(n)s characters.", n=places.REASON_LENGTH)
            if "at most" in str((exc.details or {}).get("reason", ""))
            else _("Give the reason why the place comes off the blacklist.")
        )
        flash(_("Please correct the marked fields."), "error")
        return _place(user, place_id, {"reason": message}, {"reason": reason}), 422
    except Conflict:
        db.session.rollback()
        flash(_("This place is not on the blacklist (any more)."), "warning")
        return redirect(url_for("inspection_pages.place_page", place_id=place_id))
    db.session.commit()
    flash(_("%(name)s is off the blacklist.", name=place.name), "success")
    return redirect(url_for("inspection_pages.place_page", place_id=place.id))
