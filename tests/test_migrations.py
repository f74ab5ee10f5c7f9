"""The migrations are the schema: one head, upgrade from empty equals the models, down and up again works,
and on PostgreSQL the audit trail is append-only in the database itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import DBAPIError

from app import create_app
from app.audit.models import AuditEvent, AuditIsAppendOnly
from app.audit.services import record
from app.config import PROJECT_ROOT
from app.extensions import db
from app.models import ALL_MODELS
from tests.conftest import POSTGRES_URL, _settings, postgres_available

MIGRATIONS = PROJECT_ROOT / "migrations"
MODEL_TABLES = {model.__tablename__ for model in ALL_MODELS}


def _script_directory() -> ScriptDirectory:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def revision_before(revision: str) -> str:
    """The revision ``revision`` follows: a data migration's test starts there, so the tables of every
    revision chained before it exist (a later one's may not, and the app's code may need them)."""
    down = _script_directory().get_revision(revision).down_revision
    assert isinstance(down, str)
    return down


@contextmanager
def database_at(revision: str, backend: str, tmp_path: Path) -> Iterator[Flask]:
    """An app whose database stands at ``revision`` (a data migration's test writes rows as the code before
    it did, then upgrades): a throwaway SQLite file, or the PostgreSQL test database emptied for the test
    and rebuilt at the head afterwards (as the session fixture left it)."""
    if backend == "sqlite":
        app = create_app(_settings(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path))
        with app.app_context():
            upgrade(revision=revision)
            yield app
            db.session.remove()
            db.engine.dispose()
        return
    postgres_available()
    app = create_app(_settings(POSTGRES_URL, tmp_path))
    _reset_postgres_schema()
    try:
        with app.app_context():
            upgrade(revision=revision)
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        _reset_postgres_schema()
        with app.app_context():
            upgrade()
            db.engine.dispose()


def _schema_differences() -> list[object]:
    with db.engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), db.metadata))


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _reset_postgres_schema() -> None:
    engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _trigger_names() -> set[str]:
    with db.engine.connect() as connection:
        return set(
            connection.execute(
                text(
                    "SELECT tgname FROM pg_trigger"
                    " WHERE NOT tgisinternal AND tgrelid = 'audit_event'::regclass"
                )
            ).scalars()
        )


def _function_exists() -> bool:
    with db.engine.connect() as connection:
        return (
            connection.execute(
                text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_event_append_only'")
            ).scalar_one()
            == 1
        )


def test_single_head_and_linear_history():
    scripts = _script_directory()
    heads = scripts.get_heads()
    assert len(heads) == 1, f"several Alembic heads: {heads}; merge them"
    assert len(scripts.get_bases()) == 1
    revisions = list(scripts.walk_revisions())
    assert revisions, "no migrations"
    for revision in revisions:
        assert not revision.is_merge_point or revision.revision == heads[0]
        assert revision.doc, f"migration {revision.revision} has no message"


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    """A throwaway, empty SQLite file (not the shared template)."""
    app = create_app(_settings(f"sqlite:///{tmp_path / 'migrations.sqlite3'}", tmp_path))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_sqlite_upgrade_matches_models_and_round_trips(sqlite_app):
    head = _script_directory().get_current_head()
    assert _tables() == set()
    upgrade()
    assert _current_revision() == head
    assert _tables() == MODEL_TABLES | {"alembic_version"}
    assert _schema_differences() == []

    downgrade(revision="base")
    assert _current_revision() is None
    assert _tables() <= {"alembic_version"}

    upgrade()
    assert _current_revision() == head
    assert _tables() == MODEL_TABLES | {"alembic_version"}
    assert _schema_differences() == []


@pytest.fixture
def postgres_migration_app(tmp_path: Path) -> Iterator[Flask]:
    """The PostgreSQL test database, emptied for the test and rebuilt at the head revision afterwards, so the
    other PostgreSQL tests find it as the session fixture left it."""
    postgres_available()
    app = create_app(_settings(POSTGRES_URL, tmp_path))
    _reset_postgres_schema()
    try:
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        _reset_postgres_schema()
        with app.app_context():
            upgrade()
            db.engine.dispose()


def test_postgres_upgrade_matches_models_and_round_trips(postgres_migration_app):
    head = _script_directory().get_current_head()
    assert _tables() == set()
    upgrade()
    assert _current_revision() == head
    assert _tables() == MODEL_TABLES | {"alembic_version"}
    assert _schema_differences() == []
    assert _trigger_names() == {"audit_event_append_only"}

    downgrade(revision="base")
    assert _current_revision() is None
    assert _tables() <= {"alembic_version"}
    assert not _function_exists()

    upgrade()
    assert _current_revision() == head
    assert _schema_differences() == []
    assert _trigger_names() == {"audit_event_append_only"}
    assert _function_exists()


def _one_event() -> int:
    record("test.event", entity_type="test", entity_id=1, actor_label="tester", data={"n": 1})
    db.session.commit()
    return db.session.execute(select(AuditEvent.id).where(AuditEvent.action == "test.event")).scalar_one()


def test_postgres_audit_trigger_refuses_update_and_delete(make_app):
    app = make_app("postgresql")
    with app.app_context():
        event_id = _one_event()
        for statement in (
            "UPDATE audit_event SET action = 'tampered' WHERE id = :id",
            "DELETE FROM audit_event WHERE id = :id",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(statement), {"id": event_id})
            db.session.rollback()
        db.session.expire_all()
        stored = db.session.get(AuditEvent, event_id)
        assert stored.action == "test.event"
        assert stored.data == {"n": 1}
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_orm_refuses_to_change_audit_events(make_app, backend):
    app = make_app(backend)
    with app.app_context():
        event_id = _one_event()
        stored = db.session.get(AuditEvent, event_id)
        stored.action = "tampered"
        with pytest.raises(AuditIsAppendOnly):
            db.session.flush()
        db.session.rollback()

        stored = db.session.get(AuditEvent, event_id)
        db.session.delete(stored)
        with pytest.raises(AuditIsAppendOnly):
            db.session.flush()
        db.session.rollback()

        db.session.expire_all()
        assert db.session.get(AuditEvent, event_id).action == "test.event"
        db.session.remove()
        db.engine.dispose()
