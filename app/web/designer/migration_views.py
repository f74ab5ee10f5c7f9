"""The migration page: move a process's running instances to another version (dry run, migrate, undo).

Same services as ``/api/v1/process-definitions/<key>/migrations``; the designers-only guard of
``views`` covers it (designers see their caseless instances as movable and the others as not theirs;
admins may move any).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import InvalidInput
from app.extensions import db
from app.processes import services as processes
from app.web.designer import bp
from app.web.i18n import current_language
from app.workflow import migration, migration_undo

SHOWN = 200  # instances listed by the dry run on the page
PER_SUBMIT = 500  # instances moved by one press of the button


def _lang() -> str:
    return "en" if current_language() == "en" else "zh-CN"


def _target_version(key: str, raw: str | None) -> int:
    versions = [v.version for v in processes.definition_versions(key) if v.kind == "bpmn"]
    if raw is None or raw == "":
        return versions[0]  # the newest
    if not raw.isdigit() or int(raw) not in versions:
        raise InvalidInput("bad version", {"to": f"expected one of {sorted(versions)}"})
    return int(raw)


@bp.route("/processes/<key>/migrate")
def migration_page(key: str) -> Any:
    """``?to=N``: the dry run of moving the running instances (every status that can move) to version N."""
    target_version = _target_version(key, request.args.get("to"))
    selection = migration.Selection(key, target_version, limit=SHOWN)
    target = migration.target_definition(key, target_version)
    results = migration.dry_run(selection, current_user._get_current_object(), _lang())
    versions = [v for v in processes.definition_versions(key) if v.kind == "bpmn"]
    return render_template(
        "designer/migration.html",
        key=key,
        target=target,
        versions=versions,
        results=results,
        total=migration.count_selected(selection, target),
        shown=SHOWN,
        movable=sum(1 for r in results if r.code == migration.MOVABLE),
    )


@bp.route("/processes/<key>/migrate", methods=["POST"])
def migrate_instances(key: str) -> Any:
    """Move every instance of the selection that can move (up to ``PER_SUBMIT``), each committed alone."""
    target_version = _target_version(key, request.form.get("to"))
    target = migration.target_definition(key, target_version)
    ids = migration.selected_ids(migration.Selection(key, target_version, limit=PER_SUBMIT), target)
    db.session.rollback()  # end the read: each instance takes its own lock and transaction
    batch_id = migration.new_batch_id()

    def settle(ok: bool) -> None:
        if ok:
            db.session.commit()
        else:
            db.session.rollback()

    actor = current_user._get_current_object()
    results = list(migration.migrate_each(ids, target, actor, settle, lang=_lang(), batch_id=batch_id))
    moved = sum(1 for r in results if r.code == migration.MIGRATED)
    flash(
        _summary(moved, len(results) - moved, target_version),
        "success" if moved else "warning",
    )
    return redirect(
        url_for("designer.migration_page", key=key, to=target_version, batch=batch_id if moved else None)
    )


@bp.route("/processes/<key>/migration-batches/<uuid:batch_id>/undo", methods=["POST"])
def undo_batch(key: str, batch_id: Any) -> Any:
    """Undo what one press of the migrate button moved, where nothing happened since."""
    actor = current_user._get_current_object()
    ids = migration_undo.batch_migration_ids(str(batch_id))
    db.session.rollback()
    undone = 0
    for migration_id in ids:
        undone += migration_undo.undo(migration_id, actor, _lang()).ok
        db.session.commit()
    flash(_undo_summary(undone, len(ids) - undone), "success" if undone else "warning")
    return redirect(url_for("designer.migration_page", key=key, to=request.form.get("to") or None))


def _summary(moved: int, left: int, version: int) -> str:
    return _(
        "%(moved)s instances moved to v%(version)s; %(left)s could not move (see below why).",
        moved=moved,
        left=left,
        version=version,
    )


def _undo_summary(undone: int, left: int) -> str:
    return _("%(undone)s migrations undone; %(left)s could not be undone.", undone=undone, left=left)
