"""Process definitions (deploy, versions, XML) and instances (state for diagram highlighting, messages)."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app import runtime
from app.auth.roles import DESIGNERS, Role
from app.cases.models import Case
from app.cases.services import is_case_visible
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.http import api_user, require_roles
from app.processes import camunda, services
from app.workflow import deploy, instances
from app.workflow.models import InstanceStatus, ProcessDefinition, ProcessInstance

blp = Blueprint(
    "processes", __name__, url_prefix="/api/v1", description="流程 Process definitions and instances"
)


class DefinitionSchema(Schema):
    id = fields.Int()
    key = fields.Str()
    name = fields.Str()
    version = fields.Int()
    kind = fields.Str()
    content_hash = fields.Str()
    file_name = fields.Str()
    deployed_at = fields.DateTime()
    user_tasks = fields.List(fields.Dict())
    start_messages = fields.List(fields.Str())
    start_form = fields.Dict(
        allow_none=True,
        metadata={"description": "what the start event declares for 发起流程 (form, roles, case)"},
    )
    running_instances = fields.Int()
    awaiting_repair_instances = fields.Int()  # parked by an open incident, waiting for an operator
    status = fields.Str(
        attribute="publication_status",
        metadata={"description": "published (new instances start on it) | draft (never published) | history"},
    )


class DeployProblemSchema(Schema):
    file = fields.Str()
    element_id = fields.Str(allow_none=True)
    element_name = fields.Str(allow_none=True)
    line = fields.Int(allow_none=True)
    severity = fields.Str(metadata={"description": "error (refuses the deploy) | warning"})
    reason = fields.Str(metadata={"description": "English, stable"})
    message = fields.Str(
        metadata={"description": "in the reader's language (zh-CN unless English is chosen)"}
    )


class DeployResultSchema(Schema):
    created = fields.Bool()
    definition = fields.Nested(DefinitionSchema)
    warnings = fields.List(fields.Nested(DeployProblemSchema))


def _case_key(case_id: int | None) -> str | None:
    case = db.session.get(Case, case_id) if case_id else None
    return case.key if case else None


# Who may read an instance's designer internals (an open incident's reason): those who repair it.
REPAIRERS = frozenset({Role.ADMIN, Role.DESIGNER})


class InstanceSchema(Schema):
    id = fields.Int()
    process_key = fields.Str()
    version = fields.Function(lambda i: i.definition.version)
    business_key = fields.Str(allow_none=True)
    case_key = fields.Function(lambda i: _case_key(i.case_id))
    status = fields.Str()
    error = fields.Function(lambda i: i.error if api_user().role in REPAIRERS else None, allow_none=True)
    next_timer_at = fields.DateTime(allow_none=True)
    started_at = fields.DateTime()
    updated_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    active_element_ids = fields.List(fields.Str())
    completed_element_ids = fields.List(fields.Str())


class MessageInput(Schema):
    name = fields.Str(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,79}$"))
    payload = fields.Dict(load_default=dict)
    instance_id = fields.Int()
    business_key = fields.Str(validate=validate.Length(max=64))


@blp.route("/process-definitions")
class Definitions(MethodView):
    @blp.response(200, DefinitionSchema(many=True))
    def get(self) -> list[ProcessDefinition]:
        """The newest version of every process (``status``: is it the published one, or a draft)."""
        api_user()
        return services.with_publication(services.with_running_counts(services.latest_definitions()))

    @blp.response(201, DeployResultSchema(many=True))
    @blp.doc(
        requestBody={
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "publish": {
                                "type": "boolean",
                                "default": True,
                                "description": "true (default): a new version is published at once and new "
                                "instances start on it; false: it stays a draft until "
                                "POST /process-definitions/{key}/versions/{version}/publish",
                            },
                        },
                        "required": ["file"],
                    }
                }
            }
        }
    )
    def post(self) -> Any:
        """Deploy a .bpmn or .dmn file (designers, admins).

        A new version is published at once (new instances start on it) unless ``publish`` is false: then it
        is a draft until published. The same content as an existing version gives that version with
        ``created: false`` (published too when it is a draft newer than the published version). A refused
        diagram answers 422 with every problem at once in ``details.problems`` (element id and name, line,
        severity, the reason in English and the message in the reader's language); warnings (a message
        caught without a variable, a case process that can end without closing its case) come with a
        successful deploy."""
        user = require_roles(DESIGNERS)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise InvalidInput("no file uploaded", {"file": "send the diagram as multipart field 'file'"})
        rules = runtime.deploy_rules()
        publish = _publish_flag(request.form.get("publish"))
        results = deploy.deploy_file(upload.filename, upload.read(), rules, actor=user, publish=publish)
        db.session.commit()
        return [
            {
                "created": r.created,
                "definition": services.with_publication(services.with_running_counts([r.definition]))[0],
                "warnings": r.warnings,
            }
            for r in results
        ]


def _publish_flag(raw: str | None) -> bool:
    """The deploy form's ``publish`` field: absent or true publishes, false keeps a draft."""
    if raw is None or raw.strip().lower() in {"", "true", "1"}:
        return True
    if raw.strip().lower() in {"false", "0"}:
        return False
    raise InvalidInput("bad publish flag", {"publish": "expected true or false"})


class ConversionChangeSchema(Schema):
    element_id = fields.Str()
    element_name = fields.Str()
    outcome = fields.Str(metadata={"description": "converted | needs_hand | dropped"})
    construct = fields.Str()
    before = fields.Str()
    after = fields.Str()
    reason = fields.Str()


class ConversionSchema(Schema):
    converted = fields.Bool(metadata={"description": "false: the file had no Camunda extensions"})
    needs_hand = fields.Int(metadata={"description": "how many changes a person must make before deploying"})
    changes = fields.List(fields.Nested(ConversionChangeSchema))
    xml = fields.Str()


@blp.route("/process-definitions/convert")
class Conversion(MethodView):
    @blp.response(200, ConversionSchema)
    @blp.doc(
        requestBody={
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            }
        }
    )
    def post(self) -> Any:
        """Convert a Camunda 7 Modeler diagram (designers, admins); stores nothing.

        ``camunda:formKey``, candidate groups/users, assignee, due date, simple JUEL conditions and timer
        literals become gridcase properties and Python; the report lists each element changed and each
        construct a person must rewrite (for example JavaScript scripts) before the diagram can deploy."""
        require_roles(DESIGNERS)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise InvalidInput("no file uploaded", {"file": "send the diagram as multipart field 'file'"})
        try:
            result = camunda.convert(upload.read(), services.camunda_vocabulary(runtime.deploy_rules()))
            xml = result.xml.decode("utf-8")
        except (camunda.NotADiagram, UnicodeDecodeError) as exc:
            raise InvalidInput("not a BPMN diagram", {"file": str(exc)}) from exc
        return {
            "converted": result.was_camunda,
            "needs_hand": len(result.needs_hand()),
            "changes": [change.as_dict() for change in result.changes],
            "xml": xml,
        }


@blp.route("/process-definitions/<key>/versions")
class DefinitionVersions(MethodView):
    @blp.response(200, DefinitionSchema(many=True))
    def get(self, key: str) -> list[ProcessDefinition]:
        api_user()
        """Every version of the process, newest first, each with its status (published, draft, history)."""
        return services.with_publication(services.with_running_counts(services.definition_versions(key)))


@blp.route("/process-definitions/<key>/versions/<int:version>/xml")
class DefinitionXml(MethodView):
    @blp.response(200, content_type="application/xml")
    def get(self, key: str, version: int) -> Response:
        api_user()
        return Response(deploy.definition_xml(key, version), mimetype="application/xml")


# Who may look at an instance that belongs to no case (a process started by a message, say).
CASELESS_INSTANCE_READERS = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN, Role.DESIGNER})


def _visible_instance(instance_id: int) -> ProcessInstance:
    """Designers see every instance (states for diagrams, no case contents); others an instance of a case
    they can see. Absent and not visible give the same 404."""
    user = api_user()
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is not None:
        if user.role == Role.DESIGNER:
            return instance
        if instance.case_id is None:
            if user.role in CASELESS_INSTANCE_READERS:
                return instance
        elif is_case_visible(user, instance.case_id):
            return instance
    raise NotFound(f"process instance {instance_id} does not exist")


@blp.route("/process-instances/<int:instance_id>")
class InstanceItem(MethodView):
    @blp.response(200, InstanceSchema)
    def get(self, instance_id: int) -> Any:
        """State of an instance, with active and completed element ids for highlighting its diagram."""
        instance = _visible_instance(instance_id)
        state = instances.instance_state(instance)
        for name, value in state.items():
            setattr(instance, name, value)
        return instance


@blp.route("/messages")
class Messages(MethodView):
    @blp.arguments(MessageInput)
    @blp.response(200, InstanceSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Correlate a message to a waiting instance (by ``instance_id`` or ``business_key``), or start the
        process whose start event catches it when neither is given. Dispatchers, supervisors, admins."""
        user = require_roles({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
        instance_id = body.get("instance_id")
        if instance_id is None and body.get("business_key"):
            instance_id = (
                db.session.execute(
                    select(ProcessInstance.id)
                    .where(
                        ProcessInstance.business_key == body["business_key"],
                        ProcessInstance.status == InstanceStatus.RUNNING,
                    )
                    .order_by(ProcessInstance.id.desc())
                )
                .scalars()
                .first()
            )
            if instance_id is None:
                raise NotFound(f"no running instance with business key {body['business_key']!r}")
        if instance_id is not None:
            outcome = instances.correlate_message(
                body["name"], body["payload"], instance_id=instance_id, actor=user
            )
        else:
            outcome = instances.start_by_message(body["name"], body["payload"], business_key=None, actor=user)
        db.session.commit()
        instance = outcome.instance
        for name, value in instances.instance_state(instance).items():
            setattr(instance, name, value)
        return instance
