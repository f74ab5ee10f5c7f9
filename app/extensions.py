"""Extension objects, created unbound: nothing here connects to anything at import time."""

from datetime import UTC, datetime

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
    ERROR_SCHEMA = ErrorBodySchema


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
