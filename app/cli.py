"""Command line: ``flask deploy | create-user | seed-demo | worker | scheduler``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import metrics, runtime
from app.categories.cli import register_category_commands
from app.devices.cli import register_device_commands
from app.emergency.cli import register_emergency_commands
from app.errors import DomainError
from app.extensions import db
from app.grids.cli import register_grid_commands
from app.inspections.cli import register_inspection_commands
from app.jobs import QUEUES
from app.processes.cli import register_instance_commands
from app.processes.timer_cli import register_timer_commands
from app.units.cli import register_unit_commands
from connectors.cli import register_connector_commands


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def register_commands(app: Flask) -> None:
    @app.cli.command("deploy")
    @click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
    @click.option("--draft", is_flag=True, help="keep new versions as drafts (publish them in the studio)")
    def deploy_command(paths: tuple[Path, ...], draft: bool) -> None:
        """Deploy BPMN/DMN files or folders (default: bpmn/), published at once unless --draft. Unchanged
        files keep their version."""
        from app.workflow import deploy

        rules = runtime.deploy_rules()
        targets = list(paths) or [runtime.settings().bpmn_folder]
        results = []
        try:
            for target in targets:
                if target.is_dir():
                    results.extend(deploy.deploy_folder(target, rules, publish=not draft))
                else:
                    results.extend(
                        deploy.deploy_file(target.name, target.read_bytes(), rules, publish=not draft)
                    )
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _fail(exc.message)
        for result in results:
            d = result.definition
            state = "deployed" if result.created else "unchanged"
            click.echo(f"{state:10} {d.key} v{d.version} ({d.file_name}, {d.content_hash[:12]})")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option(
        "--role",
        required=True,
        help="resident, grid_worker, dispatcher, department_handler, supervisor, designer or admin",
    )
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--name", "display_name", default=None, help="display name (显示名)")
    @click.option("--unit", "unit_code", default=None, help="unit code for department handlers")
    def create_user_command(
        username: str, role: str, password: str, display_name: str | None, unit_code: str | None
    ) -> None:
        """Create a user with a hashed password."""
        from app.auth.services import create_user
        from app.units.services import require_unit

        try:
            require_unit(unit_code)
            user = create_user(username, password, role, display_name, unit_code)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _fail(f"{exc.message}: {exc.details}")
        click.echo(f"created {user.username} ({user.role})")

    @app.cli.command("worker")
    @click.option("--queues", default=",".join(QUEUES), show_default=True)
    @click.option("--burst", is_flag=True, help="exit when the queues are empty")
    def worker_command(queues: str, burst: bool) -> None:
        """Run an RQ worker (stack mode: needs REDIS_URL)."""
        from app.worker import run_worker

        if not runtime.settings().redis_url:
            _fail("REDIS_URL is not set: embedded mode runs jobs in-process, no worker needed")
        metrics.serve_if_configured()
        run_worker(current_app._get_current_object(), queues.split(","), burst=burst)  # type: ignore[attr-defined]

    @app.cli.command("scheduler")
    @click.option("--interval", type=float, default=None, help="seconds between ticks")
    @click.option("--once", is_flag=True, help="one tick, then exit")
    def scheduler_command(interval: float | None, once: bool) -> None:
        """Find due timers in the database and queue them for workers (stack mode)."""
        from app.workflow.scheduler import run_scheduler_forever, tick

        if once:
            click.echo(f"{tick()} instances with due timers handled")
            return
        settings = runtime.settings()
        metrics.serve_if_configured()
        run_scheduler_forever(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            interval or settings.scheduler_interval_seconds,
        )

    register_grid_commands(app)
    register_category_commands(app)
    register_unit_commands(app)
    register_emergency_commands(app)
    register_inspection_commands(app)
    from app.demo.cli import register_demo_commands  # the demo imports most of the app: load it late

    register_demo_commands(app)
    from app.city.cli import register_city_commands  # like the demo: imports most of the app

    register_city_commands(app)
    register_user_commands(app)
    register_device_commands(app)
    register_connector_commands(app)
    register_instance_commands(app)
    register_timer_commands(app)


def register_user_commands(app: Flask) -> None:
    users = AppGroup("users", help="Users: assign people to grids, deactivate, reactivate, reset passwords.")

    @users.command("assign-grid")
    @click.argument("username")
    @click.argument("codes", nargs=-1, required=True)
    @click.option("--replace", is_flag=True, help="replace the user's grids instead of adding to them")
    def assign_grid_command(username: str, codes: tuple[str, ...], replace: bool) -> None:
        """Assign USERNAME to the grids CODES (grid workers and leaders: a comprehensive grid or below;
        community staff: a community; street coordinators: a street; district coordinators, supervisors,
        dispatchers: the district or a street)."""
        from app.grids import members

        try:
            user = members.get_user(username)
            change = members.set_user_grids if replace else members.add_user_grids
            grids = change(user, list(codes))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _fail(f"{exc.message}: {exc.details}")
        click.echo(f"{user.username} ({user.role}): " + ", ".join(f"{g.code} {g.name}" for g in grids))

    @users.command("deactivate")
    @click.argument("username")
    @click.option("--reason", default=None, help="why (kept in the audit log)")
    def deactivate_command(username: str, reason: str | None) -> None:
        """USERNAME can no longer sign in; their API tokens are refused at once (open tasks stay for
        reassignment: the admin console's user page lists them)."""
        from app.auth import accounts
        from app.tasks.holders import open_tasks_of

        try:
            user = accounts.get_user(username)
            revoked = accounts.deactivate(user, None, reason)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _fail(f"{exc.message}: {exc.details}")
        click.echo(f"deactivated {user.username}: {revoked} tokens revoked")
        for task in open_tasks_of(user):
            click.echo(f"  open task {task.id} {task.name} ({task.status}): reassign it")

    @users.command("reactivate")
    @click.argument("username")
    def reactivate_command(username: str) -> None:
        """USERNAME may sign in again with their password."""
        from app.auth import accounts

        try:
            user = accounts.get_user(username)
            accounts.reactivate(user, None)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _fail(f"{exc.message}: {exc.details}")
        click.echo(f"reactivated {user.username}")

    @users.command("reset-password")
    @click.argument("username")
    @click.option(
        "--base-url", default="", help="the site's address, for a full link (e.g. https://gc.example)"
    )
    def reset_password_command(username: str, base_url: str) -> None:
        """A one-time password reset for USERNAME: a code (and link) valid once for 24 hours; shown once."""
        from app.auth import accounts, resets

        try:
            user = accounts.get_user(username)
            code, row = resets.issue_reset(user, None)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _fail(f"{exc.message}: {exc.details}")
        click.echo(f"code: {code}")
        click.echo(f"link: {base_url.rstrip('/')}/password-reset/?code={code}")
        click.echo(f"valid until {row.expires_at.isoformat()} (once)")

    app.cli.add_command(users)
