"""``flask instances migrate | undo-migration | children-layout``: moving running instances to another
version; converting those started before child instances (``relayout``)."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import User
from app.auth.roles import DESIGNERS
from app.errors import DomainError
from app.extensions import db
from app.workflow import migration, migration_undo, relayout

PAGE = 200  # instances read per query while a batch goes on


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def _actor(username: str | None) -> User | None:
    """The person the audit trail names (``--as``); none: the console itself."""
    if username is None:
        return None
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        _fail(f"no active user {username!r}")
    assert user is not None
    if user.role not in DESIGNERS:
        _fail(f"{username} is a {user.role}: migrating instances needs an admin or a designer")
    return user


def _settle(ok: bool) -> None:
    if ok:
        db.session.commit()
    else:
        db.session.rollback()


def _echo_result(result: Any) -> None:
    if result.ok:
        return
    colour = "red" if result.code == migration.FAILED else "yellow"
    click.secho(f"  #{result.instance_id} v{result.from_version}: {result.message}", fg=colour, err=True)


def _pages(selection: migration.Selection, target: Any) -> Any:
    """The selection's ids, a page at a time (by id, so instances moved meanwhile do not shift pages)."""
    after_id: int | None = None
    while True:
        ids = migration.selected_ids(replace(selection, after_id=after_id, limit=PAGE), target)
        db.session.rollback()  # end the read: each instance takes its own lock and transaction
        if not ids:
            return
        yield from ids
        after_id = ids[-1]


def register_instance_commands(app: Flask) -> None:
    # Other instance commands may share the group: join it when it exists.
    existing = app.cli.commands.get("instances")
    instances = (
        existing if isinstance(existing, AppGroup) else AppGroup("instances", help="Process instances.")
    )

    @instances.command("migrate")
    @click.argument("process_key")
    @click.option("--to", "target_version", type=int, required=True, help="the version to move to")
    @click.option("--from-version", "source_versions", type=int, multiple=True, help="only these versions")
    @click.option(
        "--status", "statuses", type=click.Choice(migration.MIGRATABLE), multiple=True, help="only these"
    )
    @click.option("--business-key", default=None)
    @click.option("--id", "instance_ids", type=int, multiple=True, help="only these instances")
    @click.option("--dry-run", is_flag=True, help="only say, per instance, whether it can move and why not")
    @click.option("--lang", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
    @click.option("--as", "username", default=None, help="the admin or designer the audit trail names")
    def migrate_command(
        process_key: str,
        target_version: int,
        source_versions: tuple[int, ...],
        statuses: tuple[str, ...],
        business_key: str | None,
        instance_ids: tuple[int, ...],
        dry_run: bool,
        lang: str,
        username: str | None,
    ) -> None:
        """Move running instances of PROCESS_KEY to version --to (each under its lock, committed one by one,
        audited, undoable for MIGRATION_UNDO_HOURS); those that cannot move are listed with the reason."""
        actor = _actor(username)
        selection = migration.Selection(
            process_key, target_version, source_versions, statuses, business_key, instance_ids
        )
        try:
            target = migration.target_definition(process_key, target_version)
            total = migration.count_selected(selection, target)
        except DomainError as exc:
            _fail(exc.message)
        counts: dict[str, int] = {}
        batch_id = migration.new_batch_id()
        label = "checking" if dry_run else "migrating"
        with click.progressbar(length=total, label=f"{label} {total} instances", file=sys.stderr) as bar:
            if dry_run:
                results: Any = (result for page in _dry_run_pages(selection, actor, lang) for result in page)
            else:
                results = migration.migrate_each(
                    _pages(selection, target), target, actor, _settle, lang=lang, batch_id=batch_id
                )
            for result in results:
                counts[result.code] = counts.get(result.code, 0) + 1
                bar.update(1)
                _echo_result(result)
        summary = ", ".join(f"{code} {count}" for code, count in sorted(counts.items())) or "nothing selected"
        click.echo(summary)
        if not dry_run and counts.get(migration.MIGRATED):
            click.echo(f"batch {batch_id} (undo: flask instances undo-migration --batch {batch_id})")

    @instances.command("undo-migration")
    @click.argument("migration_id", type=int, required=False)
    @click.option("--batch", "batch_id", default=None, help="every migration of this batch")
    @click.option("--lang", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
    @click.option("--as", "username", default=None, help="the admin or designer the audit trail names")
    def undo_command(migration_id: int | None, batch_id: str | None, lang: str, username: str | None) -> None:
        """Undo one migration (MIGRATION_ID) or a whole batch (--batch): the previous state and version come
        back if nothing happened to the instance since and the undo period has not ended."""
        if (migration_id is None) == (batch_id is None):
            _fail("give a MIGRATION_ID or --batch, not both")
        actor = _actor(username)
        ids = (
            [migration_id] if migration_id is not None else migration_undo.batch_migration_ids(batch_id or "")
        )
        if not ids:
            _fail(f"no migration batch {batch_id}")
        counts: dict[str, int] = {}
        for one in ids:
            try:
                result = migration_undo.undo(one, actor, lang)
            except DomainError as exc:
                db.session.rollback()
                _fail(exc.message)
            db.session.commit()
            counts[result.code] = counts.get(result.code, 0) + 1
            if not result.ok:
                click.secho(
                    f"  migration {one} (#{result.instance_id}): {result.message}", fg="yellow", err=True
                )
        click.echo(", ".join(f"{code} {count}" for code, count in sorted(counts.items())))

    @instances.command("children-layout")
    @click.option("--keep", "kept", type=int, multiple=True, help="leave this instance on its version")
    @click.option("--apply", "apply", is_flag=True, help="convert now (all or nothing), not only list")
    @click.option("--as", "username", default=None, help="the admin or designer the audit trail names")
    def children_layout_command(kept: tuple[int, ...], apply: bool, username: str | None) -> None:
        """Emergencies and campaigns started before child instances: what the migration *_children does
        with each (convert, migrate, keep) or why it cannot (blocked). --apply converts them now, e.g. those
        once kept with GRIDCASE_KEEP_OLD_LAYOUT after their incident was repaired."""
        actor = _actor(username)
        for plan in relayout.plan_all(kept):
            colour = "red" if plan.action == "blocked" else None
            branches = f" ({plan.unfinished} of {plan.branches} branches open)" if plan.branches else ""
            line = f"  #{plan.instance_id} {plan.process_key}: {plan.action}{branches} {plan.reason}"
            click.secho(line.rstrip(), fg=colour)
        if not apply:
            db.session.rollback()
            return
        try:
            report = relayout.convert_all(kept, actor)
        except relayout.CannotConvert as exc:
            db.session.rollback()
            _fail(str(exc))
        db.session.commit()
        click.echo(
            f"converted {len(report.converted)} ({report.children} child instances), "
            f"migrated {len(report.migrated)}, kept {len(report.kept)}"
        )

    if existing is None:
        app.cli.add_command(instances)


def _dry_run_pages(selection: migration.Selection, actor: Any, lang: str) -> Any:
    """The dry run's results, a page at a time."""
    after_id: int | None = None
    while True:
        results = migration.dry_run(replace(selection, after_id=after_id, limit=PAGE), actor, lang)
        db.session.rollback()
        if not results:
            return
        yield results
        after_id = results[-1].instance_id
