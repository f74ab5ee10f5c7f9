"""``flask inspections import-places | places | unblacklist``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app.errors import DomainError
from app.extensions import db
from app.imports import ImportRejected, echo_rejections
from app.inspections import places
from app.inspections.models import PLACE_TYPES, Place


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def register_inspection_commands(app: Flask) -> None:
    group = AppGroup("inspections", help="Inspection campaigns (专项检查): the place registry.")

    @group.command("import-places")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--format",
        "file_format",
        type=click.Choice(["csv", "json"]),
        default=None,
        help="default: from the file name's extension",
    )
    def import_command(file: Path, file_format: str | None) -> None:
        """Import places from CSV (code,name,place_type,lat,lon,address,responsible_person,responsible_phone)
        or JSON: every row, or none if any is rejected. An existing code is updated; the grid comes from
        the location."""
        fmt = file_format or ("json" if file.suffix.lower() == ".json" else "csv")
        try:
            rows = places.parse_places_file(file.read_bytes(), fmt)
            with click.progressbar(length=len(rows), label="checking places", file=sys.stderr) as bar:
                report = places.import_places(None, rows, progress=bar.update)
            db.session.commit()
        except ImportRejected as exc:
            db.session.rollback()
            echo_rejections(exc)
            _fail(exc.message)
        except DomainError as exc:
            db.session.rollback()
            _fail(f"{exc.message}: {exc.details}")
        click.echo(
            f"imported {report.rows} places: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged"
        )

    @group.command("places")
    @click.option("--type", "place_type", type=click.Choice(list(PLACE_TYPES)), default=None)
    @click.option("--blacklisted", is_flag=True, help="only blacklisted places")
    def places_command(place_type: str | None, blacklisted: bool) -> None:
        """List places: code, type, grid, name; blacklisted ones with the reason."""
        query = select(Place).order_by(Place.code)
        if place_type:
            query = query.where(Place.place_type == place_type)
        if blacklisted:
            query = query.where(Place.blacklisted.is_(True))
        found = list(db.session.execute(query).scalars())
        for place in found:
            click.echo(
                f"{place.code:16} {PLACE_TYPES[place.place_type][0]:6} {place.grid_code:21} {place.name}"
            )
            if place.blacklisted:
                click.echo(f"{'':16} 黑名单 blacklisted: {place.blacklist_reason}")
        click.echo(f"{len(found)} places", err=True)

    @group.command("unblacklist")
    @click.argument("code")
    @click.option("--reason", required=True, help="why the place comes off the blacklist (audited)")
    def unblacklist_command(code: str, reason: str) -> None:
        """Take the place CODE off the blacklist (移出黑名单), with a reason."""
        place = db.session.execute(select(Place).where(Place.code == code)).scalar_one_or_none()
        if place is None:
            _fail(f"no place with code {code!r}")
            return
        try:
            places.unblacklist(None, place, reason)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _fail(f"{exc.message}: {exc.details}")
        click.echo(f"{place.code} is off the blacklist")

    app.cli.add_command(group)
