"""Case endpoints: thin handlers (load → one service call → commit → dump)."""

from __future__ import annotations

from typing import Any

from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from app.cases import services
from app.cases.schemas import (
    AttachmentSchema,
    AttachmentUploadArgs,
    AuditEventSchema,
    CaseQueryArgs,
    CaseReportSchema,
    CaseSchema,
    CommentInput,
    CommentSchema,
    WithdrawInput,
)
from app.errors import InvalidInput
from app.extensions import db
from app.http import PageArgs, api_user, page_schema, paginate
from app.idempotency import HEADER_PARAMETER, idempotent

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="案件 Cases")
CasePage = page_schema(CaseSchema, "CasePage")
TimelinePage = page_schema(AuditEventSchema, "TimelinePage")


@blp.route("")
class Cases(MethodView):
    @blp.arguments(CaseQueryArgs, location="query")
    @blp.response(200, CasePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the cases you may see, newest first, with filters."""
        page, page_size = args.pop("page"), args.pop("page_size")
        query = services.list_cases(api_user(), services.CaseFilters(**args))
        return paginate(query, page, page_size)

    @idempotent(api_user)
    @blp.arguments(CaseReportSchema)
    @blp.response(201, CaseSchema)
    @blp.doc(parameters=[HEADER_PARAMETER])
    def post(self, fields: dict[str, Any]) -> Any:
        """Report a case (上报). Starts the case_handling process."""
        case = services.report_case(api_user(), fields)
        db.session.commit()
        return case


@blp.route("/<key>")
class CaseItem(MethodView):
    @blp.response(200, CaseSchema)
    def get(self, key: str) -> Any:
        return services.get_case(api_user(), key)


@blp.route("/<key>/timeline")
class CaseTimeline(MethodView):
    @blp.arguments(PageArgs(), location="query")
    @blp.response(200, TimelinePage)
    def get(self, args: dict[str, Any], key: str) -> dict[str, Any]:
        """Who did what and when: the case's audit events, oldest first."""
        return paginate(services.timeline(api_user(), key), args["page"], args["page_size"])


@blp.route("/<key>/withdraw")
class CaseWithdraw(MethodView):
    @blp.arguments(WithdrawInput)
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], key: str) -> Any:
        """The reporter withdraws a report still waiting for triage."""
        case = services.withdraw(api_user(), key, body["reason"])
        db.session.commit()
        return case


@blp.route("/<key>/comments")
class CaseComments(MethodView):
    @blp.arguments(PageArgs(), location="query")
    @blp.response(200, page_schema(CommentSchema, "CommentPage"))
    def get(self, args: dict[str, Any], key: str) -> dict[str, Any]:
        return paginate(services.comments(api_user(), key), args["page"], args["page_size"])

    @blp.arguments(CommentInput)
    @blp.response(201, CommentSchema)
    def post(self, body: dict[str, Any], key: str) -> Any:
        comment = services.add_comment(api_user(), key, body["body"])
        db.session.commit()
        return comment


@blp.route("/<key>/attachments")
class CaseAttachments(MethodView):
    @blp.response(200, AttachmentSchema(many=True))
    def get(self, key: str) -> Any:
        user = api_user()
        return [services.attachment_for(user, a) for a in services.attachments(user, key)]

    @idempotent(api_user)
    @blp.arguments(AttachmentUploadArgs, location="query")
    @blp.response(201, AttachmentSchema)
    @blp.doc(
        parameters=[HEADER_PARAMETER],
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
    def post(self, args: dict[str, Any], key: str) -> Any:
        """Upload a photo (multipart field ``file``): JPEG, PNG or WebP, checked by content."""
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput("no file uploaded", {"file": "send the photo as multipart field 'file'"})
        user = api_user()
        attachment = services.add_attachment(user, key, upload.read(), upload.filename, args["kind"])
        db.session.commit()
        return services.attachment_for(user, attachment)


attachments_blp = Blueprint(
    "attachments", __name__, url_prefix="/api/v1/attachments", description="附件 Attachments"
)


@attachments_blp.route("/<int:attachment_id>")
class AttachmentItem(MethodView):
    @attachments_blp.response(200, AttachmentSchema)
    def get(self, attachment_id: int) -> Any:
        user = api_user()
        return services.attachment_for(user, services.get_attachment(user, attachment_id))


@attachments_blp.route("/<int:attachment_id>/content")
class AttachmentContent(MethodView):
    @attachments_blp.response(200)
    def get(self, attachment_id: int) -> Any:
        """The photo itself (``?thumbnail=1`` for the small version when it exists). Staff get the original
        with its EXIF evidence; residents a copy without metadata (no place, time or camera)."""
        path, content_type = services.attachment_file(
            api_user(), attachment_id, thumbnail=request.args.get("thumbnail") == "1"
        )
        response = send_file(path, mimetype=content_type, max_age=86400, download_name=path.name)
        # Staff and residents get different bytes at one URL: no shared cache may keep either.
        response.cache_control.public = False
        response.cache_control.private = True
        response.vary.update(("Authorization", "Cookie"))
        return response
