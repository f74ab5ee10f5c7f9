"""Dispute endpoints: thin handlers (load → one service call → commit → dump)."""

from __future__ import annotations

from typing import Any

from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from app.errors import InvalidInput
from app.extensions import db
from app.http import api_user
from app.mediation import services
from app.mediation.kpi import DisputeKpiQuery, dispute_kpis
from app.mediation.schemas import (
    DisputeFileInput,
    DisputeKpiArgs,
    DisputeKpiSchema,
    DisputePage,
    DisputeQueryArgs,
    DisputeSchema,
    DocumentSchema,
    DocumentUploadArgs,
    MediatorArgs,
    MediatorSchema,
    VolunteerInput,
    VolunteerSchema,
)

blp = Blueprint("disputes", __name__, url_prefix="/api/v1/disputes", description="矛盾纠纷调解 Disputes")
mediators_blp = Blueprint(
    "mediators", __name__, url_prefix="/api/v1/mediators", description="调解员 Mediators"
)


@blp.route("")
class Disputes(MethodView):
    # Unknown keys are refused, not ignored (webargs' default for a query): a misspelt filter would
    # otherwise quietly list everything.
    @blp.arguments(DisputeQueryArgs, location="query")
    @blp.response(200, DisputePage)
    def get(self, args: dict[str, Any]) -> Any:
        """List the disputes you see (those you could open), newest first, parties masked as in the
        detail."""
        page, page_size = args.pop("page"), args.pop("page_size")
        return services.list_disputes(api_user(), services.DisputeFilters(**args), page, page_size)

    @blp.arguments(DisputeFileInput)
    @blp.response(201, DisputeSchema)
    def post(self, fields: dict[str, Any]) -> Any:
        """File a dispute (提交纠纷): a case plus its parties; starts dispute_mediation."""
        user = api_user()
        dispute = services.file_dispute(user, fields)
        db.session.commit()
        return services.dispute_view(user, dispute)


@blp.route("/kpi")
class DisputeKpis(MethodView):
    @blp.arguments(DisputeKpiArgs, location="query")
    @blp.response(200, DisputeKpiSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """化解率, mean time to agreement and on-time follow-ups for [from, to), over the disputes you see."""
        return dispute_kpis(api_user(), DisputeKpiQuery(args["from_"], args["to"], args.get("grid")))


@blp.route("/<key>")
class DisputeItem(MethodView):
    @blp.response(200, DisputeSchema)
    def get(self, key: str) -> Any:
        """The dispute of case ``key``; parties masked unless you are its mediator, a supervisor or the
        parties' grid staff (``redacted`` says which)."""
        user = api_user()
        return services.dispute_view(user, services.get_dispute(user, key))


@blp.route("/<key>/documents")
class DisputeDocuments(MethodView):
    @blp.arguments(DocumentUploadArgs, location="query")
    @blp.response(201, DocumentSchema)
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
    def post(self, args: dict[str, Any], key: str) -> Any:
        """Upload evidence or the signed agreement (multipart field ``file``): a PDF or a JPEG/PNG/WebP
        image, checked by content; anything else is a 422."""
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput("no file uploaded", {"file": "send the document as multipart field 'file'"})
        document = services.add_document(api_user(), key, upload.read(), upload.filename, args["kind"])
        db.session.commit()
        return document


@blp.route("/documents/<int:document_id>/content")
class DisputeDocumentContent(MethodView):
    @blp.response(200)
    def get(self, document_id: int) -> Any:
        """The document itself: for the mediator, supervisors, the parties' grid staff and its uploader."""
        path, content_type, document = services.document_file(api_user(), document_id)
        return send_file(path, mimetype=content_type, download_name=f"document-{document.id}{path.suffix}")


@mediators_blp.route("")
class Mediators(MethodView):
    @mediators_blp.arguments(MediatorArgs, location="query")
    @mediators_blp.response(200, MediatorSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """A community's mediators and the volunteers for it, least loaded first (what intake proposes)."""
        return services.mediator_candidates(api_user(), args.get("community"))


@mediators_blp.route("/volunteers/<username>")
class Volunteer(MethodView):
    @mediators_blp.arguments(VolunteerInput)
    @mediators_blp.response(200, VolunteerSchema)
    def put(self, body: dict[str, Any], username: str) -> Any:
        """Put a mediator in the volunteer pool, for one community or (null) any."""
        entry = services.set_volunteer(api_user(), username, body.get("community_code"))
        db.session.commit()
        return entry

    @mediators_blp.response(204)
    def delete(self, username: str) -> None:
        """Take a mediator out of the volunteer pool."""
        services.remove_volunteer(api_user(), username)
        db.session.commit()
