"""Publishing a version of a process and rolling back (designers, admins): which version new instances start
on. Each call is audited (``process.published``, ``process.rolled_back``); running instances keep theirs."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.auth.roles import DESIGNERS
from app.extensions import db
from app.http import require_roles
from app.workflow import publication

blp = Blueprint(
    "process_publication",
    __name__,
    url_prefix="/api/v1",
    description="流程发布 Publishing a process version, and rolling back",
)


class PublishedSchema(Schema):
    key = fields.Str()
    version = fields.Int(metadata={"description": "the version new instances start on now"})
    previous_version = fields.Int(
        allow_none=True, metadata={"description": "the one they started on before (null: none was published)"}
    )
    running_kept = fields.Int(
        metadata={"description": "running instances of the process on other versions: they keep theirs"}
    )


def _body(outcome: publication.Published) -> dict[str, Any]:
    return {
        "key": outcome.definition.key,
        "version": outcome.definition.version,
        "previous_version": outcome.previous_version,
        "running_kept": outcome.running_kept,
    }


@blp.route("/process-definitions/<key>/versions/<int:version>/publish")
class PublishVersion(MethodView):
    @blp.response(200, PublishedSchema)
    def post(self, key: str, version: int) -> Any:
        """Publish version ``version`` (a draft, or one published before): new instances start on it; running
        ones keep their version. 409 when it is the published version already."""
        user = require_roles(DESIGNERS)
        outcome = publication.publish_version(key, version, user)
        db.session.commit()
        return _body(outcome)


@blp.route("/process-definitions/<key>/rollback")
class Rollback(MethodView):
    @blp.response(200, PublishedSchema)
    def post(self, key: str) -> Any:
        """Roll back to the version published before the current one. 409 when there is none."""
        user = require_roles(DESIGNERS)
        outcome = publication.rollback_key(key, user)
        db.session.commit()
        return _body(outcome)
