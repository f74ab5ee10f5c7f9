"""Inspection endpoints: the place registry, campaigns (launch, list, progress per grid, items) and
inspection photos. Thin: load → one service call → dump."""

from __future__ import annotations

from typing import Any

from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from app.errors import InvalidInput
from app.extensions import db
from app.http import RowImportReportSchema, api_user, page_schema, paginate
from app.inspections import campaigns, photos, places
from app.inspections.models import Campaign, Place
from app.inspections.schemas import (
    CampaignDetailSchema,
    CampaignLaunchSchema,
    CampaignQueryArgs,
    CampaignSchema,
    ItemQueryArgs,
    ItemSchema,
    PhotoSchema,
    PlaceCreateSchema,
    PlaceQueryArgs,
    PlaceSchema,
    UnblacklistSchema,
)

blp = Blueprint(
    "inspections", __name__, url_prefix="/api/v1/inspections", description="专项检查 Inspection campaigns"
)
_UPLOAD_DOC = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "text/csv": {"schema": {"type": "string"}},
        }
    }
}


@blp.route("/places")
class Places(MethodView):
    @blp.arguments(PlaceQueryArgs, location="query")
    @blp.response(200, page_schema(PlaceSchema, "PlacePage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Places of your territory; filter by type, grid (subtree), blacklist, text."""
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(places.list_places(api_user(), **args), page, page_size)

    @blp.arguments(PlaceCreateSchema)
    @blp.response(201, PlaceSchema)
    def post(self, body: dict[str, Any]) -> Place:
        """Register a place (supervisors, admins); its grid comes from its location."""
        place = places.create_place(api_user(), body)
        db.session.commit()
        return place


@blp.route("/places/import")
class PlaceImport(MethodView):
    @blp.response(200, RowImportReportSchema)
    @blp.doc(**_UPLOAD_DOC)
    def post(self) -> dict[str, Any]:
        """Import places (supervisors, admins): a CSV or JSON file (multipart ``file``) or body. Every row or
        none: a rejected row answers 422 listing each rejected field, and nothing is written."""
        upload = request.files.get("file")
        if upload is not None:
            raw, name = upload.read(), (upload.filename or "").lower()
            file_format = "json" if name.endswith(".json") else "csv"
        else:
            raw = request.get_data()
            file_format = "json" if request.mimetype == "application/json" else "csv"
            if request.mimetype not in ("application/json", "text/csv"):
                raise InvalidInput("no file", {"file": "send multipart 'file', application/json or text/csv"})
        user = api_user()
        report = places.import_places(user, places.parse_places_file(raw, file_format))
        db.session.commit()
        return report.as_dict()


@blp.route("/places/<int:place_id>")
class PlaceItem(MethodView):
    @blp.response(200, PlaceSchema)
    def get(self, place_id: int) -> Place:
        return places.get_place(api_user(), place_id)


@blp.route("/places/<int:place_id>/unblacklist")
class PlaceUnblacklist(MethodView):
    @blp.arguments(UnblacklistSchema)
    @blp.response(200, PlaceSchema)
    def post(self, body: dict[str, Any], place_id: int) -> Place:
        """Take a place off the blacklist (supervisors, admins; a place of your territory) with a required
        reason; audited. 409 if it is not blacklisted, 422 without a reason."""
        place = places.unblacklist_place(api_user(), place_id, body["reason"])
        db.session.commit()
        return place


def _with_counts(campaign: Campaign, counts: dict[str, int]) -> Campaign:
    campaign.counts = counts
    return campaign


@blp.route("/campaigns")
class Campaigns(MethodView):
    @blp.arguments(CampaignQueryArgs, location="query")
    @blp.response(200, page_schema(CampaignSchema, "CampaignPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Campaigns with something in your territory (or of your unit), newest first, with their counts."""
        user = api_user()
        page, page_size = args.pop("page"), args.pop("page_size")
        result = paginate(campaigns.list_campaigns(user, **args), page, page_size)
        counts = campaigns.counts_by_campaign(user, [c.id for c in result["items"]])
        result["items"] = [_with_counts(c, counts[c.id]) for c in result["items"]]
        return result

    @blp.arguments(CampaignLaunchSchema)
    @blp.response(201, CampaignDetailSchema)
    def post(self, body: dict[str, Any]) -> Campaign:
        """Launch a campaign (department handlers for their unit, supervisors, admins): one inspection per
        target place for a grid worker of its grid. Bad input starts nothing (422/403)."""
        user = api_user()
        campaign = campaigns.launch(user, body)
        db.session.commit()
        return _detail(user, campaign)


def _detail(user: Any, campaign: Campaign) -> Campaign:
    progress = campaigns.progress(user, campaign)
    campaign.counts, campaign.grids = progress["counts"], progress["grids"]
    return campaign


@blp.route("/campaigns/<int:campaign_id>")
class CampaignItemView(MethodView):
    @blp.response(200, CampaignDetailSchema)
    def get(self, campaign_id: int) -> Campaign:
        """The campaign with done / failed / rectifying / pending counts, overall and per grid."""
        user = api_user()
        return _detail(user, campaigns.get_campaign(user, campaign_id))


@blp.route("/campaigns/<int:campaign_id>/items")
class CampaignItems(MethodView):
    @blp.arguments(ItemQueryArgs, location="query")
    @blp.response(200, page_schema(ItemSchema, "InspectionItemPage"))
    def get(self, args: dict[str, Any], campaign_id: int) -> dict[str, Any]:
        """The target places you may see, with where each inspection stands."""
        user = api_user()
        campaign = campaigns.get_campaign(user, campaign_id)
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(campaigns.list_items(user, campaign, **args), page, page_size)


@blp.route("/items/<int:item_id>/photos")
class ItemPhotos(MethodView):
    @blp.response(200, PhotoSchema(many=True))
    def get(self, item_id: int) -> Any:
        return photos.photos_of(api_user(), item_id)

    @blp.response(201, PhotoSchema)
    @blp.doc(**_UPLOAD_DOC)
    def post(self, item_id: int) -> Any:
        """Upload a photo of the inspection (multipart ``file``: JPEG, PNG or WebP), then name its id in the
        inspection form's ``photos``."""
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput("no file uploaded", {"file": "send the photo as multipart field 'file'"})
        photo = photos.add_photo(api_user(), item_id, upload.read(), upload.filename)
        db.session.commit()
        return photo


@blp.route("/photos/<int:photo_id>/content")
class PhotoContent(MethodView):
    @blp.response(200)
    def get(self, photo_id: int) -> Any:
        path, content_type = photos.photo_file(api_user(), photo_id)
        return send_file(path, mimetype=content_type, max_age=86400, download_name=path.name)
