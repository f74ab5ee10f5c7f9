"""``GET /api/v1/engine/metrics``: the engine's figures for admins, as JSON (the same as the Prometheus
gauges of ``/metrics``, for an operator without a Prometheus)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app import runtime
from app.auth.roles import Role
from app.http import require_roles
from app.ops.collector import engine_figures, job_figures

blp = Blueprint("engine", __name__, url_prefix="/api/v1", description="运行指标 Engine figures for operators")


class EngineFiguresSchema(Schema):
    incidents_open = fields.Dict(keys=fields.Str(), values=fields.Int(), metadata={"description": "by kind"})
    instances = fields.Dict(keys=fields.Str(), values=fields.Int(), metadata={"description": "by status"})
    timers_due = fields.Int()
    timers_late = fields.Int()
    timer_late_after_seconds = fields.Int()
    oldest_due_timer_seconds = fields.Float()
    jobs_waiting = fields.Dict(keys=fields.Str(), values=fields.Int(), allow_none=True)
    jobs_failed = fields.Dict(keys=fields.Str(), values=fields.Int(), allow_none=True)


@blp.route("/engine/metrics")
class EngineFigures(MethodView):
    @blp.response(200, EngineFiguresSchema)
    def get(self) -> dict[str, Any]:
        """Open incidents by kind, instances by status, due and late timers; in stack mode jobs waiting and
        failed per queue (null in embedded mode, where jobs run in-process). Admins only."""
        require_roles({Role.ADMIN})
        figures = engine_figures()
        jobs = job_figures() if runtime.settings().redis_url else {"jobs_waiting": None, "jobs_failed": None}
        return {**figures, **jobs}
