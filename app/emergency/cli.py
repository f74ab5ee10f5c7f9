"""``flask emergency plans import [FILE] | export [-o FILE] | list``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from app.emergency import plans as library
from app.errors import DomainError
from app.extensions import db


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def register_emergency_commands(app: Flask) -> None:
    emergency = AppGroup("emergency", help="Emergency escalation (应急处置).")
    plans = AppGroup("plans", help="The emergency plan library (应急预案): import, export, list.")

    @plans.command("import")
    @click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_command(file: Path | None) -> None:
        """Load plans (default: app/emergency/plans.json): every plan or, on any problem, none."""
        source = file or library.PLANS_PATH
        try:
            report = library.import_plans(library.read_plans(source))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            if isinstance(exc.details, dict):
                for code, problems in exc.details.items():
                    for name, problem in problems.items() if isinstance(problems, dict) else [("", problems)]:
                        click.echo(f"rejected {code} [{name}]: {problem}", err=True)
            _fail(exc.message)
        click.echo(
            f"plans: {len(report.created)} created, {len(report.updated)} updated, "
            f"{report.unchanged} unchanged ({report.total} in {source.name})"
        )

    @plans.command("export")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
    def export_command(output: Path | None) -> None:
        """Write every plan as JSON (to stdout, or to --output), in the data file's format."""
        text = json.dumps(library.export_plans(), ensure_ascii=False, indent=2) + "\n"
        if output is None:
            click.echo(text, nl=False)
            return
        output.write_text(text, encoding="utf-8")
        click.echo(f"exported to {output}", err=True)

    @plans.command("list")
    @click.option("--all", "show_all", is_flag=True, help="include deactivated plans")
    def list_command(show_all: bool) -> None:
        """One line per plan: code, name, responders and their limits."""
        for plan in db.session.execute(library.list_plans(None if show_all else True)).scalars():
            responders = ", ".join(
                f"{r.get('unit_kind') or r.get('unit_code') or 'grid_worker'}/{r['limit']}"
                for r in plan.responders
            )
            state = "" if plan.active else " (inactive)"
            click.echo(f"{plan.code:24} v{plan.version} {plan.name}{state}: {responders}")

    emergency.add_command(plans)
    app.cli.add_command(emergency)
