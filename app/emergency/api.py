"""Emergency endpoints: the plan library (read: anyone signed in; change: supervisors and admins), launching
a plan, reading an emergency (who reported in, who did not, timings) and posting on-scene updates."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.emergency import plans, services
from app.emergency.schemas import (
    EmergencyQueryArgs,
    EmergencySchema,
    EmergencySummarySchema,
    LaunchInput,
    PlanImportInput,
    PlanImportReportSchema,
    PlanInput,
    PlanQueryArgs,
    PlanSchema,
    UpdateInput,
    UpdateSchema,
)
from app.extensions import db
from app.http import api_user, page_schema, paginate, require_roles

blp = Blueprint("emergencies", __name__, url_prefix="/api/v1/emergencies", description="应急处置 Emergencies")
plans_blp = Blueprint(
    "emergency_plans", __name__, url_prefix="/api/v1/emergency-plans", description="应急预案 Emergency plans"
)


@plans_blp.route("")
class Plans(MethodView):
    @plans_blp.arguments(PlanQueryArgs, location="query")
    @plans_blp.response(200, page_schema(PlanSchema, "EmergencyPlanPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The plan library by code (``active=false`` for deactivated plans)."""
        api_user()
        return paginate(plans.list_plans(args["active"], args.get("q")), args["page"], args["page_size"])

    @plans_blp.arguments(PlanInput)
    @plans_blp.response(201, PlanSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Add a plan (supervisors, admins)."""
        plan = plans.create_plan(require_roles(services.PLAN_EDITORS), body)
        db.session.commit()
        return plan


@plans_blp.route("/import")
class PlanImport(MethodView):
    @plans_blp.arguments(PlanImportInput)
    @plans_blp.response(200, PlanImportReportSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create or replace every plan given, or none (422 naming each rejected plan and field)."""
        report = plans.import_plans(body["plans"], require_roles(services.PLAN_EDITORS))
        db.session.commit()
        return report.as_dict()


@plans_blp.route("/<code>")
class PlanItem(MethodView):
    @plans_blp.response(200, PlanSchema)
    def get(self, code: str) -> Any:
        api_user()
        return plans.get_plan(code)

    @plans_blp.arguments(PlanInput)
    @plans_blp.response(200, PlanSchema)
    def put(self, body: dict[str, Any], code: str) -> Any:
        """Replace a plan (supervisors, admins); its version goes up."""
        plan = plans.replace_plan(require_roles(services.PLAN_EDITORS), code, body)
        db.session.commit()
        return plan

    @plans_blp.response(200, PlanSchema)
    def delete(self, code: str) -> Any:
        """Deactivate a plan: it can no longer be launched; emergencies keep it."""
        plan = plans.deactivate_plan(require_roles(services.PLAN_EDITORS), code)
        db.session.commit()
        return plan


@blp.route("")
class Emergencies(MethodView):
    @blp.arguments(EmergencyQueryArgs, location="query")
    @blp.response(200, page_schema(EmergencySummarySchema, "EmergencyPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The emergencies of the cases you may see, newest first."""
        query = services.list_emergencies(api_user(), args.get("status"))
        return paginate(query, args["page"], args["page_size"])

    @blp.arguments(LaunchInput)
    @blp.response(201, EmergencySchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Launch a plan (启动预案; supervisors, dispatchers, admins): a red case whose responders are all
        dispatched at once."""
        emergency = services.launch_plan(api_user(), body)
        db.session.commit()
        return services.view(emergency, emergency.case)


@blp.route("/<key>")
class EmergencyItem(MethodView):
    @blp.response(200, EmergencySchema)
    def get(self, key: str) -> Any:
        """An emergency case: its responders and who has reported in, updates and timings."""
        emergency, case = services.get_emergency(api_user(), key)
        return services.view(emergency, case)


@blp.route("/<key>/updates")
class EmergencyUpdates(MethodView):
    @blp.arguments(UpdateInput)
    @blp.response(201, UpdateSchema)
    def post(self, body: dict[str, Any], key: str) -> Any:
        """An on-scene update (现场反馈): a note and photos already uploaded to the case
        (``POST /api/v1/cases/<key>/attachments``)."""
        user = api_user()
        update = services.add_update(user, key, body["note"], body["attachment_ids"])
        db.session.commit()
        return {
            "id": update.id,
            "author": user.username,
            "unit": update.unit_code,
            "note": update.note,
            "attachment_ids": update.attachment_ids,
            "created_at": update.created_at,
        }
