"""Database engine tweaks that differ by backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from app.extensions import db


def configure_engine() -> None:
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _sqlite_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: two writers queue instead of deadlocking on upgrade.
        # This is SQLite's stand-in for PostgreSQL's SELECT ... FOR UPDATE on the instance row.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
