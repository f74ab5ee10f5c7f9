"""``/healthz`` answers while the process lives; ``/readyz`` says 503, naming what is not ready, when the
database, its schema, Redis, the broker or the MQTT listener is not there."""

from __future__ import annotations

import json
import time
from pathlib import Path

from app import create_app
from tests.conftest import _free_port, _settings


def _ready(app):
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def test_healthz_answers_without_asking_any_dependency(tmp_path: Path):
    closed = _free_port()
    app = create_app(_settings(f"postgresql://gridcase:gridcase@127.0.0.1:{closed}/nothing", tmp_path))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_on_a_migrated_database(client):
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ready" and body["not_ready"] == []
    assert body["checks"]["database"]["ok"] is True
    assert set(body["checks"]) == {"database"}  # embedded mode: no Redis, no broker to ask


def test_not_ready_when_the_database_is_down(tmp_path: Path):
    closed = _free_port()  # nothing listens there
    app = create_app(_settings(f"postgresql://gridcase:gridcase@127.0.0.1:{closed}/gridcase", tmp_path))
    started = time.monotonic()
    status, body = _ready(app)
    assert status == 503
    assert body["status"] == "not_ready" and body["not_ready"] == ["database"]
    assert body["checks"]["database"]["ok"] is False
    assert "OperationalError" in body["checks"]["database"]["detail"]
    assert time.monotonic() - started < 10


def test_not_ready_when_the_schema_is_behind_the_migrations(tmp_path: Path):
    app = create_app(_settings(f"sqlite:///{tmp_path / 'empty.sqlite3'}", tmp_path))  # never migrated
    status, body = _ready(app)
    assert status == 503 and body["not_ready"] == ["database"]
    assert "flask db upgrade" in body["checks"]["database"]["detail"]


def test_not_ready_while_redis_is_down_and_ready_again_after(make_app, redis_server):
    app = make_app("sqlite", redis_url=redis_server.url)
    assert _ready(app)[0] == 200
    redis_server.stop()
    status, body = _ready(app)
    assert status == 503 and body["not_ready"] == ["redis"]
    assert body["checks"]["database"]["ok"] is True
    assert "ConnectionError" in body["checks"]["redis"]["detail"]
    redis_server.start()
    assert _ready(app)[0] == 200


def test_not_ready_when_the_broker_takes_no_connection(make_app, mosquitto_url):
    assert _ready(make_app("sqlite", mqtt_url=mosquitto_url))[0] == 200
    closed = _free_port()
    status, body = _ready(make_app("sqlite", mqtt_url=f"mqtt://127.0.0.1:{closed}"))
    assert status == 503 and body["not_ready"] == ["broker"]
    assert f"127.0.0.1:{closed}" in body["checks"]["broker"]["detail"]


def _health(path: Path, state: str, problems: dict[str, str], age: float = 0.0) -> None:
    path.write_text(
        json.dumps({"state": state, "problems": problems, "counters": {}, "updated_at": time.time() - age})
    )


def test_a_listener_that_cannot_ingest_makes_the_stack_not_ready(make_app, tmp_path: Path, monkeypatch):
    health = tmp_path / "listener-health.json"
    monkeypatch.setenv("MQTT_HEALTH_FILE", str(health))
    app = make_app("sqlite")
    status, body = _ready(app)
    assert status == 503 and body["not_ready"] == ["listener"]  # no file: the listener never started
    assert "no readable health file" in body["checks"]["listener"]["detail"]

    _health(health, "ok", {})
    status, body = _ready(app)
    assert status == 200 and body["checks"]["listener"] == {"ok": True, "detail": "ingesting"}

    _health(health, "down", {"database": "12 messages wait: connection refused"})
    status, body = _ready(app)
    assert status == 503 and body["not_ready"] == ["listener"]
    assert body["checks"]["listener"]["detail"] == "down: database: 12 messages wait: connection refused"

    _health(health, "ok", {}, age=120)  # written two minutes ago: the listener is stuck or gone
    status, body = _ready(app)
    assert status == 503 and "not updated for 120 s" in body["checks"]["listener"]["detail"]
