"""The suite's shared compiled-statement cache (tests/statement_cache.py): a second app reuses the SQL the
first compiled, compiles it as its own dialect would, reads its own database and connects through its own
engine (SQLite's pragmas)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app.auth.models import User
from app.extensions import db
from tests.conftest import AppFactory

STATEMENT = select(User.id, User.username).where(User.username == "only-in-the-first")


def _run(app):
    """The statement's rows in the app, and whether its engine had to compile it (a cache miss)."""
    with app.app_context():
        with db.engine.connect() as connection:
            result = connection.execute(STATEMENT)
            rows = result.all()
            missed = result.context.cache_hit == db.engine.dialect.CACHE_MISS
        db.engine.dispose()
        return rows, missed


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_second_app_reuses_the_sql_the_first_compiled(backend, request, tmp_path_factory):
    first = AppFactory(tmp_path_factory.mktemp("first"), request)(backend)
    _run(first)
    second = AppFactory(tmp_path_factory.mktemp("second"), request)(backend)
    rows, missed = _run(second)
    assert rows == [] and not missed
    with second.app_context():
        own_dialect = db.engine.pool._dialect  # the engine's own, which connected to this database
        assert own_dialect is not db.engine.dialect
        assert own_dialect.server_version_info == db.engine.dialect.server_version_info
        shared = db.engine.dialect
        assert str(STATEMENT.compile(dialect=own_dialect)) == str(STATEMENT.compile(dialect=shared))


def test_each_app_reads_its_own_database_through_its_own_connections(request, tmp_path_factory):
    from app.auth.services import create_user

    first = AppFactory(tmp_path_factory.mktemp("first"), request)("sqlite")
    with first.app_context():
        create_user("only-in-the-first", "test-password-1", "resident")
        db.session.commit()
        db.session.remove()
    assert [username for _id, username in _run(first)[0]] == ["only-in-the-first"]
    second = AppFactory(tmp_path_factory.mktemp("second"), request)("sqlite")
    assert _run(second)[0] == []
    with second.app_context():
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert db.session.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert db.session.execute(text("PRAGMA synchronous")).scalar_one() == 0  # the suite's (conftest)
        db.session.remove()
        db.engine.dispose()
