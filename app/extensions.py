"""Extension objects, created unbound: nothing here connects to anything at import time."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api, Blueprint
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
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
api = Api()
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
