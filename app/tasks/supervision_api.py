"""The supervisor's case actions over the API (``app.tasks.supervision``): urge, reassign, extend. Under the
case's URL like its comments; a comment is ``POST /api/v1/cases/<key>/comments``."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.cases import services
from app.cases.schemas import CaseReassignInput, CaseSchema, ExtendInput, UrgeInput
from app.extensions import db
from app.http import api_user
from app.tasks import supervision

blp = Blueprint(
    "case_supervision", __name__, url_prefix="/api/v1/cases", description="督办 Supervising cases"
)


@blp.route("/<key>/urge")
class CaseUrge(MethodView):
    @blp.arguments(UrgeInput)
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], key: str) -> Any:
        """催办 (supervisors and admins of the case's grid): the holders of the case's current tasks are
        urged; with a 超期督办 task open, this is its decision."""
        supervision.urge(api_user(), key, body.get("note"))
        db.session.commit()
        return services.get_case(api_user(), key)


@blp.route("/<key>/reassign")
class CaseReassign(MethodView):
    @blp.arguments(CaseReassignInput)
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], key: str) -> Any:
        """改派: the handling goes to another grid worker or department handler, with a reason."""
        case = supervision.reassign(api_user(), key, body["username"], body["reason"])
        db.session.commit()
        return case


@blp.route("/<key>/extend")
class CaseExtend(MethodView):
    @blp.arguments(ExtendInput)
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], key: str) -> Any:
        """延期: the handling time limit moves N working hours later (its timers with it), with a reason."""
        supervision.extend(api_user(), key, body["hours"], body["reason"])
        db.session.commit()
        return services.get_case(api_user(), key)
