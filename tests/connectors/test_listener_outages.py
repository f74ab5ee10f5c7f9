"""The MQTT listener heals itself: Redis, Mosquitto and the database go away and come back mid-stream, and
every case of the stream exists, none doubled, with no operator; its health file says what it could not do.
Also: the shipped broker configuration keeps 4,000 messages published while the listener is down (the
default one drops most of them), a broker that lost our session is recorded as a gap, and an ingesting
thread that fails or dies is started again. Private Redis and Mosquitto servers (tests/connectors/brokers.py);
the database outage only refuses connections to the test database and kills its connections."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.devices.models import Alarm, Incident
from app.devices.services import register_device, validate_device_fields
from app.extensions import db
from app.worker import run_worker
from connectors.mqtt import MqttListener
from tests.connectors.brokers import Mosquitto, Redis, publish
from tests.helpers import count

pytestmark = [pytest.mark.redis, pytest.mark.postgres]



@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    (tmp_path / "broker").mkdir()
    server = Mosquitto(tmp_path / "broker")
    server.start()
    yield server
    server.stop()



def _deploy_and_register(app: Flask, run_id: str, devices: int) -> None:
    from app.workflow import deploy

    deploy.deploy_folder(
        app.extensions["gridcase.settings"].bpmn_folder, app.extensions["gridcase.deploy_rules"]()
    )
    for n in range(devices):
        fields = {"device_id": f"{run_id}-leak-{n}", "friendly_name": f"{run_id}/leak-{n}"}
        register_device(validate_device_fields({**fields, "device_type": "water_leak_sensor"}))
    db.session.commit()


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _health(path: Path) -> dict[str, Any]:
    try:
        snapshot: dict[str, Any] = json.loads(path.read_text())
        return snapshot
    except (OSError, ValueError):
        return {}


class _Database:
    """Refuses connections to the app's test database and kills those open (never the shared server)."""

    def __init__(self, app: Flask) -> None:
        with app.app_context():
            url = db.engine.url
        self.name = url.database
        self.engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def go_away(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": self.name},
            )

    def come_back(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))


def test_redis_mosquitto_and_database_outages_heal_without_an_operator(
    make_app: Any, broker: Mosquitto, redis_server: Redis, run_id: str, tmp_path: Path
) -> None:
    app: Flask = make_app(
        "postgresql",
        redis_url=redis_server.url,
        mqtt_url=broker.url,
        mqtt_topics=(f"zigbee2mqtt/{run_id}/#",),
        mqtt_client_id=f"gridcase-test-{run_id}",
    )
    health_file = tmp_path / "listener-health.json"
    database = _Database(app)
    sent: dict[int, int] = {}  # device → leak messages published (each one counts once on its alarm)
    published = 0

    def phase(devices: range, repeats: int = 3) -> None:
        nonlocal published
        stream = []
        for n in devices:
            stream += [
                (f"zigbee2mqtt/{run_id}/leak-{n}", {"water_leak": True, "battery": 80}, False)
            ] * repeats
            sent[n] = sent.get(n, 0) + repeats
        publish(broker.url, stream)
        published += len(stream)

    def worker() -> None:  # what `flask worker` does all along in the stack
        run_worker(app, ["engine"], burst=True)

    with app.app_context():
        _deploy_and_register(app, run_id, 10)
        listener = MqttListener(app, health_file=health_file)
        listener.start()
        try:
            phase(range(0, 2))
            assert listener.wait_handled(published, timeout=30), listener.stats
            worker()

            # Redis away for 20 s: ingestion goes on, the case openings wait and are sent when it is back.
            redis_server.stop()
            stopped = time.monotonic()
            phase(range(2, 4))
            assert listener.wait_handled(published, timeout=30), listener.stats
            _wait(lambda: "redis" in _health(health_file).get("problems", {}), 10, "health names Redis")
            assert _health(health_file)["state"] == "degraded"
            time.sleep(max(0.0, 20 - (time.monotonic() - stopped)))
            redis_server.start()
            _wait(lambda: _health(health_file).get("state") == "ok", 15, "healthy once Redis is back")
            worker()

            # Mosquitto restarted (its persistence keeps our session): the listener reconnects by itself.
            broker.stop()
            _wait(lambda: "broker" in _health(health_file).get("problems", {}), 10, "health names the broker")
            assert _health(health_file)["state"] == "down"
            broker.start()
            _wait(lambda: _health(health_file).get("state") == "ok", 40, "healthy once the broker is back")
            phase(range(4, 6))
            assert listener.wait_handled(published, timeout=30), listener.stats

            # The database refuses connections and its connections are killed, while messages arrive.
            db.session.remove()
            database.go_away()
            try:
                phase(range(6, 8))
                _wait(
                    lambda: "database" in _health(health_file).get("problems", {}), 15, "health names the db"
                )
                assert _health(health_file)["ingesting"] is False
            finally:
                database.come_back()
            phase(range(8, 10))
            assert listener.wait_handled(published, timeout=30), listener.stats
            ended = time.monotonic()
            worker()
            _wait(lambda: count(Case) == 10, 60 - (time.monotonic() - ended), "every case within 60 s")
        finally:
            listener.stop()
            database.come_back()

        assert count(Incident) == 10 and count(Case) == 10  # none doubled
        alarms = {a.device.device_id: a.count for a in db.session.execute(select(Alarm)).scalars()}
        assert alarms == {
            f"{run_id}-leak-{n}": repeats for n, repeats in sent.items()
        }  # nothing counted twice
        assert listener.stats.handled >= published
        assert set(listener.health.seen) >= {"redis", "broker", "database"}
        assert count(AuditEvent, AuditEvent.action == "mqtt.messages_may_be_lost") == 0  # session kept
        assert json.loads(health_file.read_text())["state"] == "down"  # stopped
        db.session.remove()
        db.engine.dispose()
        database.engine.dispose()


def _listener_app(make_app: Any, url: str, run_id: str) -> Flask:
    app: Flask = make_app(
        "sqlite",
        mqtt_url=url,
        mqtt_topics=(f"zigbee2mqtt/{run_id}/#",),
        mqtt_client_id=f"gridcase-test-{run_id}",
    )
    with app.app_context():
        _deploy_and_register(app, run_id, 1)
    return app


def _handled_after_downtime(app: Flask, broker: Mosquitto, run_id: str, published: int) -> int:
    """Subscribe once (the session), stop, publish ``published`` messages, start: how many arrive."""
    with app.app_context():
        first = MqttListener(app)
        first.start()
        first.stop()
        stream = [
            (f"zigbee2mqtt/{run_id}/leak-0", {"water_leak": False, "battery": n % 100}, False)
            for n in range(published)
        ]
        publish(broker.url, stream)
        second = MqttListener(app)
        second.start()
        try:
            # Until all arrived, or nothing more arrives for 3 s (a broker that dropped some).
            handled = -1
            while handled != second.stats.handled and not second.wait_handled(published + 1, timeout=3):
                handled = second.stats.handled
        finally:
            second.stop()
        return second.stats.handled


def test_the_shipped_broker_configuration_keeps_4000_messages_published_while_the_listener_is_down(
    make_app: Any, broker: Mosquitto, run_id: str, tmp_path: Path
) -> None:
    app = _listener_app(make_app, broker.url, run_id)
    assert _handled_after_downtime(app, broker, run_id, 4000) == 4000

    (tmp_path / "default").mkdir()
    default = Mosquitto(tmp_path / "default", default=True)  # Mosquitto's max_queued_messages 1000
    default.start()
    try:
        other = f"{run_id}x"
        app = _listener_app(make_app, default.url, other)
        assert _handled_after_downtime(app, default, other, 4000) < 2000
    finally:
        default.stop()


def test_a_broker_that_lost_our_session_is_recorded_as_a_gap(
    make_app: Any, tmp_path: Path, run_id: str
) -> None:
    (tmp_path / "volatile").mkdir()
    volatile = Mosquitto(tmp_path / "volatile", default=True)  # no persistence: a restart forgets sessions
    volatile.start()
    app = _listener_app(make_app, volatile.url, run_id)
    try:
        with app.app_context():
            listener = MqttListener(app)
            listener.start()
            try:
                volatile.restart()
                _wait(lambda: listener.health.counters.get("gaps") == 1, 30, "the lost session is seen")
                _wait(lambda: listener.health.state == "ok", 30, "subscribed again")
                publish(volatile.url, [(f"zigbee2mqtt/{run_id}/leak-0", {"water_leak": False}, False)])
                assert listener.wait_handled(1, timeout=30)
                _wait(
                    lambda: count(AuditEvent, AuditEvent.action == "mqtt.messages_may_be_lost") == 1,
                    10,
                    "gap",
                )
            finally:
                listener.stop()
            event = db.session.execute(
                select(AuditEvent).where(AuditEvent.action == "mqtt.messages_may_be_lost")
            ).scalar_one()
            assert event.entity_id == f"gridcase-test-{run_id}"
            assert "may be lost" in event.data["reason"]
    finally:
        volatile.stop()
