"""``flask categories import [FILE] | export``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from app.categories import services
from app.errors import DomainError
from app.extensions import db


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def register_category_commands(app: Flask) -> None:
    categories = AppGroup("categories", help="Category catalogue (案件类别): import and export.")

    @categories.command("import")
    @click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_command(file: Path | None) -> None:
        """Load the catalogue (default: app/categories/catalogue.json): every category or, on any problem,
        none."""
        source = file or services.CATALOGUE_PATH
        try:
            total = len(services.read_catalogue(source))
            with click.progressbar(length=total, label="checking categories", file=sys.stderr) as bar:
                report = services.sync_catalogue(source, progress=bar.update)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            if isinstance(exc.details, dict):
                for code, problems in exc.details.items():
                    if isinstance(problems, dict):
                        for name, problem in problems.items():
                            click.echo(f"rejected {code} [{name}]: {problem}", err=True)
            _fail(exc.message)
        click.echo(
            f"categories: {len(report.created)} created, {len(report.updated)} updated, "
            f"{report.unchanged} unchanged ({report.total} in {source.name})"
        )

    @categories.command("export")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
    def export_command(output: Path | None) -> None:
        """Write the catalogue as JSON (to stdout, or to --output), in the data file's format."""
        document = services.export_catalogue()
        lines = ",\n".join("    " + json.dumps(e, ensure_ascii=False) for e in document["categories"])
        text = '{\n  "categories": [\n' + lines + "\n  ]\n}\n" if lines else '{"categories": []}\n'
        if output is None:
            click.echo(text, nl=False)
            return
        output.write_text(text, encoding="utf-8")
        click.echo(f"exported {len(document['categories'])} categories to {output}", err=True)

    app.cli.add_command(categories)
