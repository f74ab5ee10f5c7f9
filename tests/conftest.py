"""Test fixtures: apps on real databases built by the real migrations, a frozen clock, users and tokens.

Service-backed tests (PostgreSQL, Redis) run against the servers named by GRIDCASE_TEST_POSTGRES_URL and
GRIDCASE_TEST_REDIS_URL. With GRIDCASE_REQUIRE_SERVICES=1 (what CI sets) a missing service fails the test
run; without it, those tests are skipped with the reason, so a laptop without the servers still runs the rest.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError

from app import create_app
from app.clock import FrozenClock
from app.config import PROJECT_ROOT, TRANSLATION_FOLDERS, SecuritySettings, Settings
from app.extensions import db
from tests import statement_cache, url_builders

if TYPE_CHECKING:
    from redis import Redis

url_builders.install()  # each distinct URL rule compiled once per process, not once per test's app
statement_cache.install()  # each SQL statement compiled once per process and database kind, not per app

BASE_POSTGRES_URL = os.environ.get(
    "GRIDCASE_TEST_POSTGRES_URL", "postgresql://gridcase:gridcase@127.0.0.1:5432/gridcase_test"
)
BASE_REDIS_URL = os.environ.get("GRIDCASE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("GRIDCASE_REQUIRE_SERVICES") == "1"
PASSWORD = "test-password-1"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


# -- Parallel runs (pytest-xdist) -------------------------------------------------------------------------
# `pytest -n N` starts workers gw0…gw{N-1}; xdist sets PYTEST_XDIST_WORKER before this module is imported,
# so the URLs below are already the worker's own. A plain run (no worker) uses the base URLs unchanged.
#   PostgreSQL: database <base name>_gw<i> on the same server (created on first use; the role is superuser).
#   Redis: db (base - 1 - i) mod 16, counting down, so a worker never shares the base db of a plain run
#   started at the same time, and the default base 15 gives 14, 13, … (never db 0, a local stack's db).
#   GRIDCASE_TEST_REDIS_WORKER_DBS="9,10,11" names the workers' dbs instead (a machine shared by several
#   people, each with their own base db).


def xdist_worker() -> str | None:
    """This process's xdist worker id ("gw0", "gw1", …), or None outside a parallel run."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def worker_postgres_url(base_url: str, worker: str | None) -> str:
    if worker is None:
        return base_url
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_{worker}"))


def worker_redis_url(base_url: str, worker: str | None, worker_dbs: str = "") -> str:
    if worker is None:
        return base_url
    index = int(worker.removeprefix("gw"))
    parts = urlsplit(base_url)
    base_db = int(parts.path.strip("/") or 0)
    if worker_dbs:
        named = [int(n) for n in worker_dbs.split(",")]
        if index >= len(named):
            raise RuntimeError(f"GRIDCASE_TEST_REDIS_WORKER_DBS names {len(named)} dbs: none for {worker}")
        db_number = named[index]
    else:
        db_number = (base_db - 1 - index) % 16
    if db_number == base_db:
        raise RuntimeError(f"Redis worker {worker} would share the base db {base_db} of plain runs")
    return urlunsplit(parts._replace(path=f"/{db_number}"))


def ensure_postgres_database(url: str, base_url: str) -> None:
    """Creates the worker's database if missing, connected to the base database (which must exist)."""
    if url == base_url:
        return
    name = urlsplit(url).path.lstrip("/")
    engine = create_engine(
        base_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    exists = text("SELECT 1 FROM pg_database WHERE datname = :name")
    try:
        with engine.connect() as connection:
            if connection.execute(exists, {"name": name}).first() is None:
                try:  # template0: nobody is ever connected to it, so it can always be copied
                    connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
                except DBAPIError:  # another run made it in the meantime: fine, else a real error
                    if connection.execute(exists, {"name": name}).first() is None:
                        raise
    finally:
        engine.dispose()


POSTGRES_URL = worker_postgres_url(BASE_POSTGRES_URL, xdist_worker())
REDIS_URL = worker_redis_url(
    BASE_REDIS_URL, xdist_worker(), os.environ.get("GRIDCASE_TEST_REDIS_WORKER_DBS", "")
)


# -- The order the workers take the tests in -----------------------------------------------------------------
# xdist hands out the tests in collection order, in smaller and smaller batches. The tests that start a
# browser or a process stack go first, so that no worker is left finishing one of them alone at the end.
LONG_TEST_FIXTURES = {"browser", "redis_server"}
LONG_TEST_FOLDERS = ("tests/ops/",)


def _starts_something_long(item: pytest.Item) -> bool:
    return item.nodeid.startswith(LONG_TEST_FOLDERS) or not LONG_TEST_FIXTURES.isdisjoint(
        getattr(item, "fixturenames", ())
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if xdist_worker() is not None:  # a plain run keeps the collection order
        items.sort(key=lambda item: not _starts_something_long(item))  # stable: else collection order


def _service_missing(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({error.__class__.__name__}: {error})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; GRIDCASE_REQUIRE_SERVICES=1 makes it mandatory", pytrace=False)
    pytest.skip(f"{message}; start it with .ci/services")


def postgres_available() -> None:
    try:
        ensure_postgres_database(POSTGRES_URL, BASE_POSTGRES_URL)
        engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        _service_missing("PostgreSQL", exc)


def redis_available() -> None:
    from redis import Redis

    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        _service_missing("Redis", exc)


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogues() -> None:
    """`make setup` compiles the .mo files; a test run straight from pytest gets any missing or stale. For
    every test, not only the pages': Flask-Babel caches a process's translations on first use, so a worker
    that loaded them before a catalogue was compiled would keep that area untranslated."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for folder in TRANSLATION_FOLDERS:
        for po_path in folder.glob("*/LC_MESSAGES/*.po"):
            mo_path = po_path.with_suffix(".mo")
            if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                continue
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file)
            # Written aside, then renamed: parallel workers may compile the same file while others read it.
            partial = mo_path.with_name(f"{mo_path.name}.{os.getpid()}")
            with partial.open("wb") as mo_file:
                write_mo(mo_file, catalog)
            partial.replace(mo_path)


@pytest.fixture
def redis() -> Iterator[Redis]:
    """The test Redis database (GRIDCASE_TEST_REDIS_URL), empty before and after the test."""
    from redis import Redis

    redis_available()
    connection = Redis.from_url(REDIS_URL)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


def _settings(database_url: str, tmp: Path, **overrides: Any) -> Settings:
    # Rate limits off: the suite signs in thousands of times from one address; tests of the limits turn
    # them on (tests/test_rate_limits.py).
    overrides.setdefault("security", SecuritySettings(rate_limits_enabled=False))
    return Settings.from_env(
        database_url=database_url,
        redis_url=overrides.pop("redis_url", None),
        mqtt_url=overrides.pop("mqtt_url", None),
        secret_key="test-secret",
        upload_folder=tmp / "uploads",
        bpmn_folder=PROJECT_ROOT / "bpmn",
        forms_folder=PROJECT_ROOT / "forms",
        **{"password_hash_method": "pbkdf2:sha256:1000", **overrides},
    )


def _migrate(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.engine.dispose()  # closing the last connection checkpoints SQLite's WAL into the file


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file built by the migrations; each test gets a copy."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    _migrate(create_app(_settings(f"sqlite:///{path}", folder)))
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> str:
    """The PostgreSQL test database, rebuilt from empty by the migrations once per session.

    Its commits do not wait for the write-ahead log to reach the disk (``synchronous_commit = off``, for
    this database only): what a transaction sees, locks and commits is unchanged, only a crash of the
    server could lose the last commits, and no test crashes it. A commit took 11-13 ms on this shared
    disk, 3-6 ms without the wait; a PostgreSQL test commits tens of times."""
    postgres_available()
    engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
        name = urlsplit(POSTGRES_URL).path.lstrip("/")
        connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    engine.dispose()
    _migrate(create_app(_settings(POSTGRES_URL, Path("/tmp"))))
    return POSTGRES_URL


def _truncate_postgres(app: Flask) -> None:
    """Every table of the app emptied and its ids restarted at 1, as ``TRUNCATE … RESTART IDENTITY`` would.
    DELETE rather than TRUNCATE: TRUNCATE gives each of the ~40 tables and their indexes new files and
    syncs them at commit, 0.5 s quiet and 2 s on a busy machine before every PostgreSQL test; deleting the
    few rows a test wrote takes milliseconds. Like TRUNCATE, it skips row triggers (the audit trail's
    append-only guard) and foreign-key checks: the replica role, for this transaction only (the test role
    is a superuser, see .ci/services). The sequences restart as TRUNCATE restarts them."""
    with app.app_context():
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        db.session.execute(text("; ".join(f"DELETE FROM {t.name}" for t in db.metadata.sorted_tables)))
        db.session.execute(
            text(
                "SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s"
                " JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace = current_schema()::regnamespace"
            )
        )
        db.session.commit()


def _commit_without_waiting_for_the_disk(dbapi_connection: Any, _record: Any) -> None:
    """A test's SQLite file commits without syncing to the disk (``synchronous = OFF``), as its PostgreSQL
    database does (``postgres_schema``): locking, transactions and what other connections see are unchanged;
    only a crash of the machine could lose the last commits. A sync took milliseconds on this shared disk,
    and a test commits tens of times."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


@dataclass
class AppFactory:
    tmp_path: Path
    request: pytest.FixtureRequest

    def __call__(self, backend: str = "sqlite", **overrides: Any) -> Flask:
        clock = FrozenClock(START)
        if backend == "sqlite":
            template = self.request.getfixturevalue("sqlite_template")
            path = self.tmp_path / "test.sqlite3"
            shutil.copy(template, path)
            app = create_app(_settings(f"sqlite:///{path}", self.tmp_path, **overrides), clock=clock)
            with app.app_context():
                event.listen(db.engine, "connect", _commit_without_waiting_for_the_disk)
        elif backend == "postgresql":
            url = self.request.getfixturevalue("postgres_schema")
            app = create_app(_settings(url, self.tmp_path, **overrides), clock=clock)
            _truncate_postgres(app)
        else:
            raise ValueError(backend)
        app.config["TESTING"] = True
        return app


@pytest.fixture
def make_app(tmp_path: Path, request: pytest.FixtureRequest) -> AppFactory:
    return AppFactory(tmp_path, request)


@pytest.fixture
def app(make_app: AppFactory) -> Iterator[Flask]:
    app = make_app("sqlite")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def clock(app: Flask) -> FrozenClock:
    clock: FrozenClock = app.extensions["gridcase.clock"]
    return clock


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def deployed(app: Flask) -> None:
    from tests.probes import deploy_bpmn_folder

    deploy_bpmn_folder()


@pytest.fixture
def create_user(app: Flask) -> Callable[..., Any]:
    from app.auth.services import create_user as create

    counter = {"n": 0}

    def factory(role: str, username: str | None = None, unit_code: str | None = None) -> Any:
        counter["n"] += 1
        if unit_code is not None:  # a unit_code must name a unit: make it on first use
            from app.units.models import UNIT_KINDS
            from app.units.services import ensure_units

            kind = unit_code if unit_code in UNIT_KINDS else "district_bureau"
            ensure_units([{"code": unit_code, "name": f"{unit_code} unit", "kind": kind}])
        user = create(username or f"{role}{counter['n']}", PASSWORD, role, None, unit_code)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def users(create_user: Callable[..., Any]) -> dict[str, Any]:
    """One user per role (two grid workers), named after their role."""
    return {
        "resident": create_user("resident", "resident"),
        "worker": create_user("grid_worker", "worker"),
        "worker2": create_user("grid_worker", "worker2"),
        "dispatcher": create_user("dispatcher", "dispatcher"),
        "handler": create_user("department_handler", "handler", unit_code="water"),
        "supervisor": create_user("supervisor", "supervisor"),
        "designer": create_user("designer", "designer"),
        "admin": create_user("admin", "admin"),
    }


@pytest.fixture
def auth(client: FlaskClient) -> Callable[[str], dict[str, str]]:
    """``auth("worker")`` → headers with a bearer token for that user (cached per user)."""
    tokens: dict[str, str] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in tokens:
            response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
            assert response.status_code == 201, response.get_json()
            tokens[username] = response.get_json()["token"]
        return {"Authorization": f"Bearer {tokens[username]}"}

    return headers


# -- Mosquitto (sensor connectors) ------------------------------------------------------------------------

MOSQUITTO = os.environ.get("GRIDCASE_TEST_MOSQUITTO") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _start_mosquitto(folder: Path, attempts: int = 5) -> tuple[Any, int]:
    """Starts a broker on a free port. The port is free when probed but another process (a parallel worker's
    broker) may take it before Mosquitto binds; Mosquitto then exits, and we try a new port. "running" in
    its log means it bound the port itself, so the tests never talk to someone else's broker."""
    import subprocess
    import time

    from tests.connectors.brokers import broker_config

    for _ in range(attempts):
        port = _free_port()
        config = folder / "mosquitto.conf"
        # "running" is logged at the information level, which the shipped configuration leaves out.
        config.write_text(broker_config(port, folder) + "log_type information\n")
        log = folder / f"log-{port}"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=log_file
            )
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            if b" running" in log.read_bytes():
                return process, port
            time.sleep(0.05)
        if process.poll() is None:  # neither running nor exited in 10 s: give up on this port
            process.kill()
            process.wait(timeout=10)
    raise OSError(f"Mosquitto did not start in {attempts} attempts; see {folder}")


@pytest.fixture(scope="session")
def mosquitto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Mosquitto broker of this test session (of this xdist worker) on a free port of 127.0.0.1, with
    the shipped configuration (``connectors/mosquitto.conf``: anonymous, persistence in a temporary folder).
    """
    if not Path(MOSQUITTO).exists():
        _service_missing("Mosquitto", FileNotFoundError(MOSQUITTO))
    try:
        process, port = _start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    except OSError as exc:
        _service_missing("Mosquitto", exc)
    yield f"mqtt://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Any]:
    """A private Redis on a free port that a test may stop and start (the shared one must never stop)."""
    from tests.connectors.brokers import Redis

    redis_available()  # the binary comes with the service CI installs
    (tmp_path / "redis").mkdir()
    server = Redis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()
