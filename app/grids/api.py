"""Grid endpoints: read the tree and locate a point (any signed-in user); import GeoJSON (admins)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.auth.models import User
from app.auth.roles import Role
from app.errors import Forbidden, InvalidInput, NotFound, UnsupportedMediaType
from app.extensions import db
from app.grids import members, services
from app.grids.schemas import (
    GridDetailSchema,
    GridQueryArgs,
    GridSchema,
    ImportReportSchema,
    LocateArgs,
    LocationSchema,
    UserGridsInput,
    UserGridsSchema,
)
from app.http import api_user, page_schema, paginate, require_roles

blp = Blueprint("grids", __name__, url_prefix="/api/v1/grids", description="网格 Grids")
# The grids a user is assigned to, under the user's URL; tagged "auth" as they were before moving here.
user_grids_blp = Blueprint(
    "user_grids", __name__, url_prefix="/api/v1/users", description="用户网格 Users' grids"
)
GridPage = page_schema(GridSchema, "GridPage")
_GEOJSON_BODY = {
    "schema": {"type": "object", "description": "a GeoJSON FeatureCollection"},
}


@blp.route("")
class Grids(MethodView):
    @blp.arguments(GridQueryArgs, location="query")
    @blp.response(200, GridPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List grids by code (without geometry); ``parent`` gives one grid's children."""
        api_user()
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(services.list_grids(**args), page, page_size)


@blp.route("/locate")
class GridLocate(MethodView):
    @blp.arguments(LocateArgs, location="query")
    @blp.response(200, LocationSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The deepest grid containing the point (WGS84), with its path from the district down."""
        api_user()
        found = services.locate(args["lat"], args["lon"])
        if found is None:
            raise NotFound(services.OUTSIDE_EVERY_GRID, {"lat": args["lat"], "lon": args["lon"]})
        return found.as_dict()


@blp.route("/import")
class GridImport(MethodView):
    @blp.response(201, ImportReportSchema)
    @blp.doc(
        requestBody={
            "content": {
                "application/json": _GEOJSON_BODY,
                "application/geo+json": _GEOJSON_BODY,
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    )
    def post(self) -> dict[str, Any]:
        """Import a GeoJSON FeatureCollection (admins): all features, or none and 422 listing the rejected."""
        user = require_roles({Role.ADMIN})
        report = services.import_geojson(_uploaded_collection(), actor=user)
        db.session.commit()
        return report.as_dict()


def _uploaded_collection() -> dict[str, Any]:
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput("no file uploaded", {"file": "send the GeoJSON as multipart field 'file'"})
        return services.parse_geojson_bytes(upload.read())
    if request.is_json:  # application/json and application/geo+json
        return services.parse_geojson_bytes(request.get_data())
    raise UnsupportedMediaType(
        "send GeoJSON as a JSON body or as multipart field 'file'", {"content_type": request.mimetype}
    )


@blp.route("/<code>")
class GridItem(MethodView):
    @blp.response(200, GridDetailSchema)
    def get(self, code: str) -> Any:
        """One grid with its geometry and path."""
        api_user()
        return services.get_grid(code)


class GridMemberArgs(Schema):
    subtree = fields.Bool(load_default=False, metadata={"description": "also the people of the grids below"})


class GridMemberSchema(Schema):
    username = fields.Str()
    display_name = fields.Str()
    role = fields.Str()
    active = fields.Bool()
    grid_code = fields.Str(metadata={"description": "the grid this person is assigned to"})


@blp.route("/<code>/members")
class GridMembers(MethodView):
    @blp.arguments(GridMemberArgs, location="query")
    @blp.response(200, GridMemberSchema(many=True))
    def get(self, args: dict[str, Any], code: str) -> list[dict[str, Any]]:
        """The people assigned to a grid (``subtree=true``: and to the grids below it). For admins and for
        the people whose own grids contain it."""
        user = api_user()
        grid = services.get_grid(code)
        if not members.can_see_grid(user, grid.code):
            raise Forbidden(f"grid {grid.code} is outside your grids", {"code": grid.code})
        return [
            {
                "username": member.username,
                "display_name": member.display_name,
                "role": member.role,
                "active": member.active,
                "grid_code": grid_code,
            }
            for member, grid_code in members.grid_members(grid.code, subtree=args["subtree"])
        ]


def _user_grids(user: User) -> dict[str, Any]:
    return {"username": user.username, "role": user.role, "grids": members.user_grids(user)}


@user_grids_blp.route("/<username>/grids", tags=["auth"])
class UserGrids(MethodView):
    @user_grids_blp.response(200, UserGridsSchema)
    def get(self, username: str) -> dict[str, Any]:
        """The grids a user is assigned to (admins; and every user for themselves)."""
        me = api_user()
        if me.username != username:
            require_roles({Role.ADMIN})
        return _user_grids(members.get_user(username))

    @user_grids_blp.arguments(UserGridsInput)
    @user_grids_blp.response(200, UserGridsSchema)
    def put(self, body: dict[str, Any], username: str) -> dict[str, Any]:
        """Replace the grids a user is assigned to (admins). Each role has its levels: grid workers and
        leaders a comprehensive grid or below, community staff a community, street coordinators a street,
        district coordinators, supervisors and dispatchers the district or a street."""
        admin = require_roles({Role.ADMIN})
        user = members.get_user(username)
        members.set_user_grids(user, body["grids"], actor=admin)
        db.session.commit()
        return _user_grids(user)
