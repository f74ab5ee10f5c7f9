"""Task endpoints: inbox, detail with form, claim, unclaim, complete, reassign."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm.util import identity_key

from app.cases.models import Case
from app.extensions import db
from app.http import api_user, page_schema
from app.idempotency import HEADER_PARAMETER, idempotent
from app.tasks import services
from app.tasks.schemas import (
    CompleteInput,
    InboxArgs,
    ReassignInput,
    StepResultSchema,
    TaskDetailSchema,
    TaskSchema,
)
from app.workflow import instances
from app.workflow.models import HumanTask

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="待办任务 Tasks")


def _with_case_key(task: HumanTask) -> HumanTask:
    return _with_case_keys([task])[0]


def _with_case_keys(tasks: list[HumanTask]) -> list[HumanTask]:
    """Sets ``case_key`` on each task. The cases not in the session yet are read in one statement (an inbox
    page of 20 tasks read its cases one by one: 20 statements)."""
    case_ids = {t.case_id for t in tasks if t.case_id}
    missing = [i for i in case_ids if identity_key(Case, i) not in db.session.identity_map]
    # Held here: the session keeps loaded objects only while something refers to them.
    loaded = list(db.session.execute(select(Case).where(Case.id.in_(missing))).scalars()) if missing else []
    for task in tasks:
        case = db.session.get(Case, task.case_id) if task.case_id else None
        task.case_key = case.key if case else None
    del loaded
    return tasks


@blp.route("")
class Inbox(MethodView):
    @blp.arguments(InboxArgs, location="query")
    @blp.response(200, page_schema(TaskSchema, "TaskPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your tasks: ``mine`` (claimed), ``claimable`` (open to your role and scope) or ``all``.
        Ordered by severity, then due time."""
        result = services.inbox(api_user(), args["scope"], args["page"], args["page_size"])
        result["items"] = _with_case_keys(result["items"])
        return result


@blp.route("/<int:task_id>")
class TaskItem(MethodView):
    @blp.response(200, TaskDetailSchema)
    def get(self, task_id: int) -> HumanTask:
        """The task with its JSON Schema form and the data it sees."""
        task = _with_case_key(services.get_task(api_user(), task_id))
        form = services.task_form(task)
        # The response schema dumps the task object itself: a dict dumped by TaskSchema already has its
        # datetimes as strings, which dumping again cannot handle.
        task.form_schema = form.schema
        task.ui_schema = form.ui_schema
        task.data = services.task_data(task)
        return task


@blp.route("/<int:task_id>/claim")
class TaskClaim(MethodView):
    @blp.response(200, TaskSchema)
    def post(self, task_id: int) -> Any:
        task = services.claim(api_user(), task_id)
        db.session.commit()
        return _with_case_key(task)


@blp.route("/<int:task_id>/unclaim")
class TaskUnclaim(MethodView):
    @blp.response(200, TaskSchema)
    def post(self, task_id: int) -> Any:
        task = services.unclaim(api_user(), task_id)
        db.session.commit()
        return _with_case_key(task)


@blp.route("/<int:task_id>/reassign")
class TaskReassign(MethodView):
    @blp.arguments(ReassignInput)
    @blp.response(200, TaskSchema)
    def post(self, body: dict[str, Any], task_id: int) -> Any:
        """Supervisors and admins hand a task to someone else."""
        task = services.reassign(api_user(), task_id, body["username"])
        db.session.commit()
        return _with_case_key(task)


@blp.route("/<int:task_id>/complete")
class TaskComplete(MethodView):
    @idempotent(api_user)
    @blp.arguments(CompleteInput)
    @blp.response(200, StepResultSchema)
    @blp.doc(parameters=[HEADER_PARAMETER])
    def post(self, body: dict[str, Any], task_id: int) -> dict[str, Any]:
        """Submit the form. 422 names each field that fails; 409 when someone else already completed it."""
        user = api_user()
        outcome: instances.StepOutcome = services.complete(user, task_id, body["data"])
        # Read before the commit expires the rows: after it, the instance's status alone re-read the whole
        # row (its serialized workflow), and each visibility check re-read the user and the task.
        instance_status = outcome.instance.status
        next_tasks = [t for t in outcome.created_tasks if services.can_see(user, t)]
        db.session.commit()
        completed = db.session.get(HumanTask, task_id)
        assert completed is not None  # it was just completed in this request
        case = db.session.get(Case, completed.case_id) if completed.case_id else None
        completed.case_key = case.key if case else None
        return {
            "task": completed,
            "case_status": case.status if case else None,
            "instance_status": instance_status,
            "next_tasks": _with_case_keys(next_tasks),
        }
