"""Background jobs for admins: ``GET /api/v1/jobs`` (failed ones with their reason: ``?status=failed``) and
``POST /api/v1/jobs/<id>/requeue``."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.auth.roles import Role
from app.extensions import db
from app.http import PageArgs, page_schema, paginate, require_roles
from app.jobs import admin
from app.jobs.models import OutboxStatus
from app.jobs.queues import QUEUES

ADMINS = frozenset({Role.ADMIN})

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="后台任务 Background jobs")


class JobQueryArgs(PageArgs):
    status = fields.Str(validate=validate.OneOf(OutboxStatus.ALL))
    queue = fields.Str(validate=validate.OneOf(sorted(QUEUES)))


class JobSchema(Schema):
    id = fields.Int()
    queue = fields.Str()
    job = fields.Str(attribute="func_path", metadata={"description": "the job function's import path"})
    args = fields.List(fields.Raw())
    instance_id = fields.Int(allow_none=True, metadata={"description": "the process instance it concerns"})
    status = fields.Str(metadata={"description": "pending | sent | done | failed"})
    attempts = fields.Int(metadata={"description": "failed attempts so far"})
    retry_intervals = fields.List(fields.Int())
    last_error = fields.Str(allow_none=True, metadata={"description": "why the last attempt failed"})
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


JobPage = page_schema(JobSchema, "JobPage")


@blp.route("")
class Jobs(MethodView):
    @blp.arguments(JobQueryArgs, location="query")
    @blp.response(200, JobPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Background jobs, newest first; ``status=failed``: those that failed after their last retry."""
        require_roles(ADMINS)
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(admin.list_jobs(**args), page, page_size)


class JobCountsSchema(Schema):
    pending = fields.Int(metadata={"description": "committed, waiting for Redis (or to run, embedded)"})
    sent = fields.Int(metadata={"description": "on a queue, running, or waiting for a retry"})
    done = fields.Int(metadata={"description": "ran (kept JOB_OUTBOX_RETENTION_HOURS)"})
    failed = fields.Int(metadata={"description": "failed after their last retry: see ?status=failed"})


@blp.route("/counts")
class JobCounts(MethodView):
    @blp.response(200, JobCountsSchema)
    def get(self) -> dict[str, int]:
        """How many jobs are in each status."""
        require_roles(ADMINS)
        return admin.counts_by_status()


@blp.route("/<int:job_id>/requeue")
class JobRequeue(MethodView):
    @blp.response(200, JobSchema)
    def post(self, job_id: int) -> Any:
        """Queue a failed job again, with all its retries (after its cause was repaired)."""
        user = require_roles(ADMINS)
        row = admin.requeue(job_id, actor=user)
        db.session.commit()
        return row
