"""``flask grids import | export | locate``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from app.errors import DomainError
from app.extensions import db
from app.grids import services
from app.imports import echo_rejections


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def register_grid_commands(app: Flask) -> None:
    grids = AppGroup("grids", help="Grids (网格): import and export the territory tree, locate a point.")

    @grids.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_command(file: Path) -> None:
        """Import a GeoJSON FeatureCollection: every feature or, if any is rejected, none."""
        try:
            collection = services.parse_geojson_bytes(file.read_bytes())
            features = collection.get("features")
            total = len(features) if isinstance(features, list) else 0
            with click.progressbar(length=total, label="checking features", file=sys.stderr) as bar:
                report = services.import_geojson(collection, progress=bar.update)
            db.session.commit()
        except services.GridImportRejected as exc:
            db.session.rollback()
            echo_rejections(exc)
            _fail(exc.message)
        except DomainError as exc:
            db.session.rollback()
            _fail(f"{exc.message}: {exc.details}")
        levels = ", ".join(f"{count} {level}" for level, count in report.created_by_level.items())
        click.echo(f"imported {report.created} grids ({levels or 'none new'}), {report.unchanged} unchanged")

    @grids.command("export")
    @click.option("--root", "root_code", default=None, help="export only this grid and everything below it")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
    def export_command(root_code: str | None, output: Path | None) -> None:
        """Export the tree as GeoJSON (to stdout, or to --output)."""
        try:
            collection = services.export_geojson(root_code)
        except DomainError as exc:
            _fail(f"{exc.message}: {exc.details}")
        text = json.dumps(collection, ensure_ascii=False) + "\n"
        if output is None:
            click.echo(text, nl=False)
            return
        output.write_text(text, encoding="utf-8")
        click.echo(f"exported {len(collection['features'])} grids to {output}", err=True)

    @grids.command("locate")
    @click.argument("lat", type=float)
    @click.argument("lon", type=float)
    def locate_command(lat: float, lon: float) -> None:
        """The deepest grid containing the point LAT LON (WGS84); exit status 1 outside every grid."""
        try:
            found = services.locate(lat, lon)
        except DomainError as exc:
            _fail(f"{exc.message}: {exc.details}")
        if found is None:
            click.echo(services.OUTSIDE_EVERY_GRID, err=True)
            sys.exit(1)
        click.echo(f"{found.code} {found.name} ({found.level})")
        click.echo("path: " + " > ".join(found.path))

    app.cli.add_command(grids)
