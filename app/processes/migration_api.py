"""Migrating running instances to another version: dry run, batch (a page at a time), one instance, undo.

Admins; designers too, for instances that belong to no case (each other instance is answered
``forbidden``). Messages are zh-CN unless the request's Accept-Language prefers English.

A batch goes a page at a time (``limit``, at most 500): the answer names ``next_after_id``; sending it back
as ``after_id`` (with the answer's ``batch_id``) goes on with the next page, so a large batch is never one
long request and each page reports its own results. Every instance is committed on its own.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.auth.roles import DESIGNERS
from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.http import require_roles
from app.inputs import BoundedInt
from app.workflow import migration, migration_undo
from app.workflow.models import ProcessInstance

blp = Blueprint(
    "migrations",
    __name__,
    url_prefix="/api/v1",
    description="流程实例迁移 Migrating running instances to another version",
)

MAX_BATCH = 500


def _lang() -> str:
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh-CN")
    return "en" if best == "en" else "zh-CN"


class SelectionInput(Schema):
    target_version = BoundedInt(required=True, validate=validate.Range(min=1))
    source_versions = fields.List(BoundedInt(validate=validate.Range(min=1)), load_default=list)
    statuses = fields.List(fields.Str(validate=validate.OneOf(migration.MIGRATABLE)), load_default=list)
    business_key = fields.Str(load_default=None, validate=validate.Length(min=1, max=64))
    instance_ids = fields.List(
        BoundedInt(validate=validate.Range(min=1)), load_default=list, validate=validate.Length(max=MAX_BATCH)
    )
    after_id = BoundedInt(load_default=None, validate=validate.Range(min=0))
    limit = BoundedInt(load_default=100, validate=validate.Range(min=1, max=MAX_BATCH))


class BatchInput(SelectionInput):
    batch_id = fields.UUID(load_default=None)


class ResultSchema(Schema):
    instance_id = fields.Int()
    business_key = fields.Str(allow_none=True)
    case_id = fields.Int(allow_none=True)
    status = fields.Str()
    from_version = fields.Int()
    to_version = fields.Int()
    code = fields.Str()
    message = fields.Str()
    element_id = fields.Str(allow_none=True)
    element_name = fields.Str(allow_none=True)
    active_element_ids = fields.List(fields.Str())
    changed_elements = fields.Dict(keys=fields.Str(), values=fields.List(fields.Str()))
    migration_id = fields.Int(allow_none=True)


class PageSchema(Schema):
    total = fields.Int(metadata={"description": "instances the selection names, every page"})
    counts = fields.Dict(
        keys=fields.Str(), values=fields.Int(), metadata={"description": "this page, by code"}
    )
    items = fields.List(fields.Nested(ResultSchema))
    next_after_id = fields.Int(
        allow_none=True, metadata={"description": "send as after_id for the next page"}
    )
    batch_id = fields.Str(allow_none=True)


class SingleInput(Schema):
    target_version = BoundedInt(required=True, validate=validate.Range(min=1))


class UndoSchema(Schema):
    migration_id = fields.Int()
    instance_id = fields.Int()
    code = fields.Str()
    message = fields.Str()
    from_version = fields.Int()
    to_version = fields.Int()


class UndoPageSchema(Schema):
    counts = fields.Dict(keys=fields.Str(), values=fields.Int())
    items = fields.List(fields.Nested(UndoSchema))


class MigrationRecordSchema(Schema):
    id = fields.Int()
    instance_id = fields.Int()
    batch_id = fields.Str(allow_none=True)
    from_definition_id = fields.Int()
    to_definition_id = fields.Int()
    migrated_at = fields.DateTime()
    migrated_by_id = fields.Int(allow_none=True)
    undo_until = fields.DateTime()
    undone_at = fields.DateTime(allow_none=True)


def _selection(key: str, body: dict[str, Any]) -> migration.Selection:
    return migration.Selection(
        process_key=key,
        target_version=body["target_version"],
        source_versions=tuple(body["source_versions"]),
        statuses=tuple(body["statuses"]),
        business_key=body["business_key"],
        instance_ids=tuple(body["instance_ids"]),
        after_id=body["after_id"],
        limit=body["limit"],
    )


def _page(results: list[Any], total: int, limit: int, batch_id: str | None = None) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.code] = counts.get(result.code, 0) + 1
    return {
        "total": total,
        "counts": counts,
        "items": results,
        "next_after_id": results[-1].instance_id if len(results) == limit else None,
        "batch_id": batch_id,
    }


def _settle(ok: bool) -> None:
    if ok:
        db.session.commit()
    else:
        db.session.rollback()


@blp.route("/process-definitions/<key>/migrations/dry-run")
class DryRun(MethodView):
    @blp.arguments(SelectionInput)
    @blp.response(200, PageSchema)
    def post(self, body: dict[str, Any], key: str) -> Any:
        """Per instance of the selection (one page): whether it can move to ``target_version``, and why
        not (the element, in words). Changes nothing."""
        user = require_roles(DESIGNERS)
        selection = _selection(key, body)
        target = migration.target_definition(key, selection.target_version)
        results = migration.dry_run(selection, user, _lang())
        return _page(results, migration.count_selected(selection, target), body["limit"])


@blp.route("/process-definitions/<key>/migrations")
class Migrations(MethodView):
    @blp.arguments(BatchInput)
    @blp.response(200, PageSchema)
    def post(self, body: dict[str, Any], key: str) -> Any:
        """Migrate one page of the selection to ``target_version``, each instance under its lock and in its
        own transaction; the results per instance and the counts by code. Instances that cannot move are
        left as they are, with the reason."""
        user = require_roles(DESIGNERS)
        selection = _selection(key, body)
        target = migration.target_definition(key, selection.target_version)
        total = migration.count_selected(selection, target)
        ids = migration.selected_ids(selection, target)
        batch_id = str(body["batch_id"]) if body["batch_id"] else migration.new_batch_id()
        db.session.rollback()  # end the read: each instance takes its own lock and transaction
        results = list(migration.migrate_each(ids, target, user, _settle, lang=_lang(), batch_id=batch_id))
        return _page(results, total, body["limit"], batch_id)


def _instance(instance_id: int) -> ProcessInstance:
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return instance


@blp.route("/process-instances/<int:instance_id>/migrate")
class MigrateInstance(MethodView):
    @blp.arguments(SingleInput)
    @blp.response(200, ResultSchema)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        """Migrate one instance to ``target_version`` of its process. 409 naming the reason (and the
        element) when it cannot move; 403 for a designer on an instance of a case."""
        user = require_roles(DESIGNERS)
        instance = _instance(instance_id)
        if not migration.may_migrate(user, instance):
            raise Forbidden("only admins may migrate an instance that belongs to a case")
        target = migration.target_definition(instance.process_key, body["target_version"])
        result = migration.migrate_instance(instance_id, target, user, lang=_lang())
        if not result.ok:
            db.session.rollback()
            raise Conflict(
                result.message,
                {"reason": result.code, "element_id": result.element_id, "status": result.status},
            )
        db.session.commit()
        return result


@blp.route("/process-instances/<int:instance_id>/migrations")
class InstanceMigrations(MethodView):
    @blp.response(200, MigrationRecordSchema(many=True))
    def get(self, instance_id: int) -> Any:
        """The instance's migrations, newest first, with how long each can be undone."""
        user = require_roles(DESIGNERS)
        if not migration.may_migrate(user, _instance(instance_id)):
            raise Forbidden("only admins may see the migrations of an instance that belongs to a case")
        return migration_undo.instance_migrations(instance_id)


@blp.route("/instance-migrations/<int:migration_id>/undo")
class UndoMigration(MethodView):
    @blp.response(200, UndoSchema)
    def post(self, migration_id: int) -> Any:
        """Restore the state and version the instance had before this migration: only if nothing happened
        to it since and within ``MIGRATION_UNDO_HOURS``; otherwise 409 with the reason."""
        user = require_roles(DESIGNERS)
        result = migration_undo.undo_or_conflict(migration_id, user, _lang())
        db.session.commit()
        return result


@blp.route("/migration-batches/<uuid:batch_id>/undo")
class UndoBatch(MethodView):
    @blp.response(200, UndoPageSchema)
    def post(self, batch_id: Any) -> Any:
        """Undo every migration of a batch that can still be undone; the others with their reason."""
        user = require_roles(DESIGNERS)
        ids = migration_undo.batch_migration_ids(str(batch_id))
        if not ids:
            raise NotFound(f"no migration batch {batch_id}")
        db.session.rollback()
        results = []
        for migration_id in ids:
            results.append(migration_undo.undo(migration_id, user, _lang()))
            db.session.commit()
        counts: dict[str, int] = {}
        for result in results:
            counts[result.code] = counts.get(result.code, 0) + 1
        return {"counts": counts, "items": results}
