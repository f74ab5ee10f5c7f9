"""Unit endpoints: staff read units, their grids and members; admins create, change, deactivate them and
set the grids they serve."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.roles import ALL_ROLES, Role
from app.extensions import db
from app.http import page_schema, paginate, require_roles
from app.units import services
from app.units.models import Unit
from app.units.schemas import (
    GridListSchema,
    UnitCreateSchema,
    UnitDetailSchema,
    UnitQueryArgs,
    UnitSchema,
    UnitUpdateSchema,
)

blp = Blueprint("units", __name__, url_prefix="/api/v1/units", description="处置单位 Units")
UnitPage = page_schema(UnitSchema, "UnitPage")
# Everyone who works cases reads units (dispatchers pick them, handlers see their own); residents do not.
UNIT_READERS = frozenset(ALL_ROLES - {Role.RESIDENT})
UNIT_ADMINS = frozenset({Role.ADMIN})


@blp.route("")
class Units(MethodView):
    @blp.arguments(UnitQueryArgs, location="query")
    @blp.response(200, UnitPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List units by code; filter by kind, by a grid they serve, by text in code or name."""
        require_roles(UNIT_READERS)
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(services.list_units(**args), page, page_size)

    @blp.arguments(UnitCreateSchema)
    @blp.response(201, UnitDetailSchema)
    def post(self, body: dict[str, Any]) -> Unit:
        """Create a unit (admins), optionally with the grids it serves."""
        admin = require_roles(UNIT_ADMINS)
        unit = services.create_unit(
            body["code"], body["name"], body["kind"], body["phone"], body["grids"], actor=admin
        )
        db.session.commit()
        return unit


@blp.route("/<code>")
class UnitItem(MethodView):
    @blp.response(200, UnitDetailSchema)
    def get(self, code: str) -> Unit:
        """One unit with the grids it serves and its members."""
        require_roles(UNIT_READERS)
        return services.get_unit(code)

    @blp.arguments(UnitUpdateSchema)
    @blp.response(200, UnitDetailSchema)
    def patch(self, body: dict[str, Any], code: str) -> Unit:
        """Change name, kind, phone, or reactivate (admins)."""
        admin = require_roles(UNIT_ADMINS)
        unit = services.update_unit(code, body, actor=admin)
        db.session.commit()
        return unit

    @blp.response(200, UnitDetailSchema)
    def delete(self, code: str) -> Unit:
        """Deactivate (admins). The unit stays, so users, tasks and past cases keep naming it."""
        admin = require_roles(UNIT_ADMINS)
        unit = services.deactivate_unit(code, actor=admin)
        db.session.commit()
        return unit


@blp.route("/<code>/grids")
class UnitGrids(MethodView):
    @blp.arguments(GridListSchema)
    @blp.response(200, UnitDetailSchema)
    def put(self, body: dict[str, Any], code: str) -> Unit:
        """Replace the grids the unit serves (admins); an unknown grid code is refused with 422."""
        admin = require_roles(UNIT_ADMINS)
        unit = services.set_unit_grids(code, body["grids"], actor=admin)
        db.session.commit()
        return unit
