"""Publishing a version and rolling back, from the versions page (草稿 / 已发布 / 历史).

Same service as ``/api/v1/process-definitions/<key>/versions/<n>/publish`` and ``.../<key>/rollback``; the
designers-only guard of ``views`` covers it. The page asks for confirmation first (``_publication.html``),
naming what changes: the version new instances start on, and the running instances that keep theirs.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import Conflict
from app.extensions import db
from app.web.designer import bp
from app.workflow import publication
from app.workflow.models import ProcessDefinition


def _versions_page(definition_kind: str, key: str) -> Any:
    endpoint = "designer.decision_versions" if definition_kind == "dmn" else "designer.process_versions"
    return redirect(url_for(endpoint, key=key))


@bp.route("/processes/<key>/versions/<int:version>/publish", methods=["POST"])
def publish_version(key: str, version: int) -> Any:
    try:
        outcome = publication.publish_version(key, version, current_user._get_current_object())
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _versions_page(publication.kind_of(key), key)
    kind = outcome.definition.kind
    db.session.commit()
    flash(
        _(
            "Version %(n)s is published: new instances start on it; %(m)s running instances keep their "
            "version.",
            n=version,
            m=outcome.running_kept,
        ),
        "success",
    )
    return _versions_page(kind, key)


@bp.route("/processes/<key>/rollback", methods=["POST"])
def rollback(key: str) -> Any:
    try:
        outcome = publication.rollback_key(key, current_user._get_current_object())
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _versions_page(publication.kind_of(key), key)
    kind, version = outcome.definition.kind, outcome.definition.version
    db.session.commit()
    flash(
        _(
            "Rolled back from version %(old)s to version %(n)s: new instances start on version %(n)s.",
            old=outcome.previous_version,
            n=version,
        ),
        "success",
    )
    return _versions_page(kind, key)


def page_context(
    key: str, versions: list[ProcessDefinition], running: dict[int, int] | None = None
) -> dict[str, Any]:
    """What ``_publication.html`` needs: each version's status, the published version, the rollback target,
    and the running instances a publish of each version leaves where they are (``running``: by definition
    id; by default the ``running_instances`` the versions carry)."""
    kind = versions[0].kind if versions else "bpmn"
    by_id = running if running is not None else {v.id: getattr(v, "running_instances", 0) for v in versions}
    total = sum(by_id.values())
    return {
        "publication_statuses": publication.statuses(key),
        "published": publication.current(key, kind),
        "rollback_target": publication.rollback_target(key, kind),
        "running_elsewhere": {v.id: total - by_id.get(v.id, 0) for v in versions},
    }
