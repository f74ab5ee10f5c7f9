"""``flask units import | list``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from app.errors import DomainError
from app.extensions import db
from app.imports import ImportRejected, echo_rejections
from app.units import services
from app.units.models import UNIT_KINDS


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def register_unit_commands(app: Flask) -> None:
    units = AppGroup("units", help="Units (处置单位): import and list.")

    @units.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--format",
        "file_format",
        type=click.Choice(["csv", "json"]),
        default=None,
        help="default: from the file name's extension",
    )
    def import_command(file: Path, file_format: str | None) -> None:
        """Import units from CSV (code,name,kind,phone,grids) or JSON: every row, or none if any is rejected.

        Grids: codes separated by spaces or ';' (CSV), or a list (JSON). An existing unit is updated."""
        fmt = file_format or ("json" if file.suffix.lower() == ".json" else "csv")
        try:
            rows = services.parse_units_file(file.read_bytes(), fmt)
            with click.progressbar(length=len(rows), label="checking units", file=sys.stderr) as bar:
                report = services.import_units(rows, progress=bar.update)
            db.session.commit()
        except ImportRejected as exc:
            db.session.rollback()
            echo_rejections(exc)
            _fail(exc.message)
        except DomainError as exc:
            db.session.rollback()
            _fail(f"{exc.message}: {exc.details}")
        click.echo(
            f"imported {report.rows} units: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged"
        )

    @units.command("list")
    @click.option("--kind", type=click.Choice(list(UNIT_KINDS)), default=None)
    @click.option("--grid", default=None, help="only units serving this grid code")
    def list_command(kind: str | None, grid: str | None) -> None:
        """List units: code, kind, name, members, grids served."""
        from app.units.services import list_units, unit_members

        try:
            found = list(db.session.execute(list_units(kind=kind, grid=grid)).scalars())
        except DomainError as exc:
            _fail(f"{exc.message}: {exc.details}")
        for unit in found:
            state = "" if unit.active else " (inactive)"
            members = ",".join(u.username for u in unit_members(unit)) or "-"
            grids = " ".join(g.code for g in unit.grids) or "-"
            click.echo(f"{unit.code:20} {UNIT_KINDS[unit.kind][0]:6} {unit.name}{state}")
            click.echo(f"{'':20} members: {members}; grids: {grids}")
        click.echo(f"{len(found)} units", err=True)

    app.cli.add_command(units)
