"""发起流程 over the API: the processes you may start from a form, and starting one with its data."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.extensions import db
from app.http import api_user
from app.idempotency import HEADER_PARAMETER, idempotent
from app.tasks import startable
from app.tasks.schemas import TaskSchema

blp = Blueprint(
    "startable_processes",
    __name__,
    url_prefix="/api/v1/startable-processes",
    description="发起流程 Processes started from a start form",
)


class StartableSchema(Schema):
    key = fields.Str()
    name = fields.Str()
    version = fields.Int()
    form = fields.Str(metadata={"description": "the start form in forms/"})
    candidate_roles = fields.List(fields.Str())
    starts_case = fields.Bool(metadata={"description": "the start opens a case of case_category first"})
    case_category = fields.Str(allow_none=True)


class StartableListSchema(Schema):
    items = fields.List(fields.Nested(StartableSchema))
    grids = fields.List(fields.Str(), metadata={"description": "the grids you may start a process in"})


class StartableDetailSchema(StartableSchema):
    form_schema = fields.Dict()
    ui_schema = fields.Dict(allow_none=True)
    grids = fields.List(fields.Str())


class StartInput(Schema):
    data = fields.Dict(required=True, metadata={"description": "validated against the start form"})
    grid_code = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=24),
        metadata={"description": "one of your grids; needed only when you hold more than one"},
    )


class StartedSchema(Schema):
    instance_id = fields.Int()
    process_key = fields.Str()
    version = fields.Int()
    instance_status = fields.Str()
    case_key = fields.Str(allow_none=True)
    grid_code = fields.Str(allow_none=True)
    first_task = fields.Nested(TaskSchema, allow_none=True, metadata={"description": "yours to do next"})


@blp.route("")
class StartableList(MethodView):
    @blp.response(200, StartableListSchema)
    def get(self) -> dict[str, Any]:
        """The processes your role may start (the published version of each), and your grids."""
        user = api_user()
        return {"items": startable.startable_for(user), "grids": startable.starter_grids(user)}


@blp.route("/<key>")
class StartableItem(MethodView):
    @blp.response(200, StartableDetailSchema)
    def get(self, key: str) -> dict[str, Any]:
        """One startable process with its start form (404: not startable; 403: not for your role)."""
        user = api_user()
        found = startable.get_startable(user, key)
        document = startable.start_form_document(found)  # as this version froze it
        return {
            **found.__dict__,
            "form_schema": document.schema,
            "ui_schema": document.ui_schema,
            "grids": startable.starter_grids(user),
        }


@blp.route("/<key>/instances")
class StartableInstances(MethodView):
    @idempotent(api_user)
    @blp.arguments(StartInput)
    @blp.response(201, StartedSchema)
    @blp.doc(parameters=[HEADER_PARAMETER])
    def post(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        """Start an instance with the start form's data. 422 names each field that fails and starts nothing;
        the instance (and its case, when the process opens one) is audited as started by you."""
        user = api_user()
        started = startable.start(user, key, body["data"], body["grid_code"])
        db.session.commit()
        instance = started.instance
        if started.task is not None:
            started.task.case_key = started.case.key if started.case else None  # for TaskSchema
        return {
            "instance_id": instance.id,
            "process_key": instance.process_key,
            "version": started.version,
            "instance_status": instance.status,
            "case_key": started.case.key if started.case else None,
            "grid_code": started.grid_code,
            "first_task": started.task,
        }
