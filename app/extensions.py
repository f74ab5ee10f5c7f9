"""Extension objects, created unbound: nothing here connects to anything at import time."""

import threading
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api, Blueprint
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from marshmallow import Schema, fields
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from webargs.flaskparser import FlaskParser

# Named constraints so Alembic migrations are deterministic on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


class ErrorBodySchema(Schema):
    """Every error the API answers, as app/errors.py writes it (flask-smorest's own error schema, which
    describes ``{code, status, message, errors}``, is not what this API sends)."""

    error = fields.Str(
        required=True, metadata={"description": "what went wrong, for programs: not_found, invalid_input, …"}
    )
    message = fields.Str(required=True, metadata={"description": "what went wrong, for people"})
    details = fields.Raw(
        required=True,
        metadata={"description": "per field (or header) what is wrong; {} when nothing more is known"},
    )


class GridcaseApi(Api):
    """flask-smorest's Api, with each blueprint's part of the OpenAPI document written when the document is
    first read (``/api/v1/openapi.json``, ``/api/v1/docs``, ``flask openapi print``) instead of when the
    blueprint is registered. Documenting deep-copies every schema of every operation: about two thirds of
    building an app, paid by every gunicorn and RQ worker, the scheduler, the listener and each ``flask``
    command at start, none of which serves the document. The routes themselves are registered at once."""

    ERROR_SCHEMA = ErrorBodySchema

    def __init__(self) -> None:
        self._spec: Any = None
        self._undocumented: list[tuple[Flask, Blueprint, str, Any]] = []
        self._documenting = threading.Lock()
        super().__init__()

    @property
    def spec(self) -> Any:
        if self._undocumented:
            with self._documenting:  # two first readers at once (threaded server): one writes, both wait
                while self._undocumented:
                    app, blueprint, name, parameters = self._undocumented[0]
                    blueprint.register_views_in_doc(self, app, self._spec, name=name, parameters=parameters)
                    self._spec.tag({"name": name, "description": blueprint.description})
                    self._undocumented.pop(0)  # after writing: a reader never sees a half-written document
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        # A new document (init_app of another app): the previous app's blueprints are not part of it.
        self._spec = value
        self._undocumented = []

    def register_blueprint(self, blp: Blueprint, *, parameters: Any = None, **options: Any) -> None:
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((self._app, blp, name, parameters))


api = GridcaseApi()
login_manager = LoginManager()
babel = Babel()
# Page forms carry a CSRF token; the REST API blueprints are exempt (bearer tokens, no cookie writes).
csrf = CSRFProtect()


class StrictQueryParser(FlaskParser):
    """Query strings are checked like bodies: an unknown key (a typo in a filter, ``per_page`` for
    ``page_size``) is a 422 naming it instead of being dropped, so a caller never gets an unfiltered list
    believing it filtered. webargs drops them by default."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": "raise",
        "querystring": "raise",
    }


Blueprint.ARGUMENTS_PARSER = StrictQueryParser()  # every API blueprint of the app


def _iso_with_offset(value: datetime) -> str:
    """Every time the API writes carries its offset, as the document's ``date-time`` promises. SQLite hands
    back a ``DateTime(timezone=True)`` column without it (PostgreSQL keeps it); stored times are UTC."""
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()


# Every DateTime field of every schema (ISO format, the default): one rule rather than a field type each
# schema would have to remember.
fields.DateTime.SERIALIZATION_FUNCS = {
    **fields.DateTime.SERIALIZATION_FUNCS,
    "iso": _iso_with_offset,
    "iso8601": _iso_with_offset,
}
