"""``/readyz``: may this process take traffic? The database answers and its schema is at the migrations'
head; in stack mode Redis answers and the MQTT broker takes connections; a configured MQTT listener is
ingesting (its health file, ``connectors.listener_health``). Each check says why it failed."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import text

from app import runtime
from app.extensions import db


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


@cache
def migration_heads() -> frozenset[str]:
    """The head revisions of ``migrations/`` (the files do not change while the process runs)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.config import PROJECT_ROOT

    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def check_database() -> Check:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:
        db.session.rollback()
        return Check(False, f"{exc.__class__.__name__}: {_first_line(exc)}")
    try:
        current = set(db.session.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except Exception:
        current = set()  # no alembic_version table: never migrated
    finally:
        db.session.rollback()  # end the read transaction: a probe holds nothing
    heads = migration_heads()
    if current != heads:
        return Check(
            False,
            f"schema at {sorted(current) or 'nothing'}, migrations at {sorted(heads)}:"
            " run `flask db upgrade`",
        )
    return Check(True, f"reachable, schema at {', '.join(sorted(heads))}")


def check_redis() -> Check:
    try:
        runtime.redis().ping()
    except Exception as exc:
        return Check(False, f"{exc.__class__.__name__}: {_first_line(exc)}")
    return Check(True, "reachable")


def check_broker(url: str, timeout: float = 2.0) -> Check:
    from connectors.mqtt import BrokerAddress

    address = BrokerAddress.parse(url)
    try:
        socket.create_connection((address.host, address.port), timeout=timeout).close()
    except OSError as exc:
        return Check(False, f"{address.host}:{address.port}: {exc.__class__.__name__}: {exc}")
    return Check(True, f"{address.host}:{address.port} takes connections")


def check_listener() -> Check:
    from connectors.listener_health import read_health

    observability = runtime.settings().observability
    assert observability.mqtt_health_file is not None
    ready, snapshot = read_health(observability.mqtt_health_file, observability.mqtt_health_max_age_seconds)
    if ready:
        return Check(True, "ingesting")
    problems = snapshot.get("problems") or {}
    reason = snapshot.get("reason") or "; ".join(f"{k}: {v}" for k, v in sorted(problems.items()))
    return Check(False, f"{snapshot.get('state', 'unknown')}: {reason}")


def readiness() -> tuple[bool, dict[str, Any]]:
    """(ready, the answer's body): every check by name with ``ok`` and ``detail``, and their time."""
    settings = runtime.settings()
    checks: dict[str, Callable[[], Check]] = {"database": check_database}
    if settings.redis_url:
        checks["redis"] = check_redis
    if settings.mqtt_url:
        mqtt_url = settings.mqtt_url
        checks["broker"] = lambda: check_broker(mqtt_url)
    if settings.observability.mqtt_health_file is not None:
        checks["listener"] = check_listener
    started = time.perf_counter()
    results = {name: check() for name, check in checks.items()}
    ready = all(result.ok for result in results.values())
    return ready, {
        "status": "ready" if ready else "not_ready",
        "not_ready": sorted(name for name, result in results.items() if not result.ok),
        "checks": {name: result.as_dict() for name, result in results.items()},
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else ""
