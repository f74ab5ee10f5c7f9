"""One compiled-statement cache per kind of database per test process, instead of one per test's app.

SQLAlchemy caches the SQL it compiles for each statement in its engine, keyed by the engine's dialect
object, and Flask-SQLAlchemy makes a new engine (with a new dialect) for every app. A production process
builds its app, and so its engine, once; the suite builds one for nearly every test, and each test compiled
again every ORM statement it ran: about a fifth of the suite's CPU (5 test modules, 428 tests: 192 s of CPU
with an engine's own cache, 147 s shared). Here each new engine takes the dialect and the cache of the
first engine of the same kind (dialect class and engine options) that has connected, so a statement is
compiled once per process. The SQL is the same: the dialects are equal (same class, options and server),
and the pool still connects through the engine's own dialect (its ``connect`` events, SQLite's pragmas).
Tests only.
"""

from __future__ import annotations

from typing import Any

import flask_sqlalchemy.extension
from flask import Flask
from sqlalchemy.engine import Dialect, Engine

_make_engine = flask_sqlalchemy.extension.SQLAlchemy._make_engine
_shared: dict[tuple[Any, ...], tuple[Dialect, Any]] = {}


def _kind(engine: Engine, options: dict[str, Any]) -> tuple[Any, ...]:
    ignored = ("url", "connect_args")  # neither is kept by the dialect
    settings = sorted((name, repr(value)) for name, value in options.items() if name not in ignored)
    return (type(engine.dialect), engine.url.drivername, tuple(settings))


def _shared_engine(
    self: flask_sqlalchemy.SQLAlchemy, bind_key: str | None, options: dict[str, Any], app: Flask
) -> Engine:
    engine = _make_engine(self, bind_key, options, app)
    kind = _kind(engine, options)
    first = _shared.get(kind)
    # a dialect is ready once its engine has connected (server version, default schema, isolation level)
    if first is not None and first[0].server_version_info is not None:
        engine.dialect, engine._compiled_cache = first
    else:
        _shared[kind] = (engine.dialect, engine._compiled_cache)
    return engine


def install() -> None:
    flask_sqlalchemy.extension.SQLAlchemy._make_engine = _shared_engine  # type: ignore[method-assign]
