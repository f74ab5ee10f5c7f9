"""The MQTT listener against a real Mosquitto (started by the test session): a replayed stream with repeats,
retained messages and bad payloads gives exactly the expected alarms, cases and dead letters; a listener
killed mid-stream and restarted with the same client id loses nothing and doubles nothing."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cases.lifecycle import close_case
from app.cases.models import Case, CaseStatus
from app.config import ConfigError, Settings
from app.devices.models import Alarm, DeadLetter, Incident
from app.devices.services import register_device, validate_device_fields
from app.extensions import db
from connectors import mqtt_network
from connectors.mqtt import BrokerAddress, MqttListener, subscription_filters
from tests.connectors.brokers import publish
from tests.connectors.conftest import broker_app
from tests.devices.conftest import known_building
from tests.helpers import count

BUILDING = "510124001001001001001"


@pytest.fixture
def mqtt_app(make_app: Any, mosquitto_url: str, run_id: str) -> Iterator[Flask]:
    with broker_app(make_app, mosquitto_url, run_id, f"gridcase-test-{run_id}") as app:
        known_building(BUILDING)
        for device_id, device_type, extra in (
            ("leak", "water_leak_sensor", {"resident_name": "王大爷", "resident_notes": "独居老人"}),
            ("smoke-1", "smoke_detector", {"building_code": BUILDING}),
            ("smoke-2", "smoke_detector", {"building_code": BUILDING}),
            ("smoke-3", "smoke_detector", {"building_code": BUILDING}),
            ("sos", "sos_button", {"building_code": BUILDING}),
        ):
            register_device(
                validate_device_fields(
                    {
                        "device_id": f"{run_id}-{device_id}",
                        "friendly_name": f"{run_id}/{device_id}",
                        "device_type": device_type,
                        **extra,
                    }
                )
            )
        db.session.commit()
        yield app



def test_a_replayed_stream_gives_exactly_the_expected_alarms_and_cases(
    mqtt_app: Flask, mosquitto_url: str, run_id: str
) -> None:
    t = f"zigbee2mqtt/{run_id}"
    # Retained before the listener subscribes: they arrive as retained state and open nothing.
    retained = [(f"{t}/{d}/availability", {"state": "online"}, True) for d in ("leak", "smoke-1", "sos")]
    retained.append((f"{t}/leak", {"water_leak": True, "battery": 80}, True))
    publish(mosquitto_url, retained)
    stream: list[tuple[str, Any, bool]] = [(f"{t}/leak", {"water_leak": True, "battery": 80}, False)] * 3
    for n in (1, 2, 3):
        stream += [(f"{t}/smoke-{n}", {"smoke": True, "smoke_density": 30}, False)] * 2
    stream += [(f"{t}/sos", {"action": "emergency"}, False), (f"{t}/sos", {"action": ""}, False)]
    stream += [(f"{t}/leak", b"\x00\x01 not json", False), (f"{t}/nobody", {"water_leak": True}, False)]

    listener = MqttListener(mqtt_app)
    listener.start()
    try:
        publish(mosquitto_url, stream)
        assert listener.wait_handled(len(retained) + len(stream), timeout=30), listener.stats
    finally:
        listener.stop()
    alarms = {
        a.device.device_id.removeprefix(f"{run_id}-"): a for a in db.session.execute(select(Alarm)).scalars()
    }
    assert {name: (a.alarm_type, a.count) for name, a in alarms.items()} == {
        "leak": ("water_leak", 3),  # the retained copy neither opened nor counted
        "smoke-1": ("smoke", 2),
        "smoke-2": ("smoke", 2),
        "smoke-3": ("smoke", 2),
        "sos": ("sos", 1),
    }
    assert count(Incident) == 3 and count(Case) == 3 and count(Case, Case.source_channel == "sensor") == 3
    assert {d.reason_code for d in db.session.execute(select(DeadLetter)).scalars()} == {
        "binary",
        "unknown_device",
    }
    assert listener.stats.outcomes == {"processed": len(retained) + len(stream) - 2, "dead_letter": 2}


def test_qos1_redelivery_after_a_listener_crash_loses_nothing_and_doubles_nothing(
    mqtt_app: Flask, mosquitto_url: str, run_id: str
) -> None:
    topic, total, acked_before_crash, committed_unacked = f"zigbee2mqtt/{run_id}/leak", 60, 10, 5
    first = MqttListener(mqtt_app, batch_size=1)
    real_acknowledge = first.acknowledge
    acks: list[int] = []

    def ack_only_the_first(deliveries: list[Any]) -> None:
        # The process "dies" between commit and ack for the messages after these.
        allowed = deliveries[: max(0, acked_before_crash - len(acks))]
        acks.extend(d[5] for d in allowed)
        real_acknowledge(allowed)

    first.acknowledge = ack_only_the_first  # type: ignore[method-assign]
    first.start()
    publish(mosquitto_url, [(topic, {"water_leak": True, "battery": n % 100}, False) for n in range(total)])
    assert first.wait_handled(acked_before_crash + committed_unacked, timeout=30)
    first.crash()
    handled_first = first.stats.handled
    assert handled_first >= acked_before_crash + committed_unacked

    second = MqttListener(mqtt_app)  # same client id: the broker resumes the session
    second.start()
    try:
        assert second.wait_handled(total - acked_before_crash, timeout=30), second.stats
        # nothing more may arrive: a second delivery of anything would show here
        assert not second.wait_handled(total - acked_before_crash + 1, timeout=0.5)
    finally:
        second.stop()
    alarm = db.session.execute(select(Alarm)).scalar_one()
    db.session.refresh(alarm)
    assert alarm.count == total  # nothing lost, nothing doubled
    assert second.stats.handled == total - acked_before_crash
    assert second.stats.outcomes.get("duplicate") == handled_first - acked_before_crash
    assert count(Case) == 1


def test_shared_subscription_and_settings_are_validated(tmp_path: Any) -> None:
    settings = Settings.from_env(
        database_url="sqlite://", mqtt_topics=("zigbee2mqtt/#", "gridcase/devices/#"), mqtt_share_group="g1"
    )
    assert subscription_filters(settings) == ["$share/g1/zigbee2mqtt/#", "$share/g1/gridcase/devices/#"]
    for bad in (
        {"mqtt_topics": ("a/#/b",)},
        {"mqtt_topics": ("$share/x/a",)},
        {"mqtt_topics": ()},
        {"mqtt_share_group": "a/b"},
        {"mqtt_client_id": ""},
        {"mqtt_url": "http://broker"},
    ):
        with pytest.raises(ConfigError):
            Settings.from_env(database_url="sqlite://", **bad)
    assert BrokerAddress.parse("mqtts://u:p%40ss@broker.example:8884") == BrokerAddress(
        "broker.example", 8884, True, "u", "p@ss"
    )


def test_a_network_process_that_dies_is_started_again_and_nothing_is_lost(
    mqtt_app: Flask, mosquitto_url: str, run_id: str
) -> None:
    topic = f"zigbee2mqtt/{run_id}/leak"
    listener = MqttListener(mqtt_app)
    listener.start()
    try:
        publish(mosquitto_url, [(topic, {"water_leak": True, "battery": 90}, False)] * 5)
        assert listener.wait_handled(5, timeout=30), listener.stats
        first_pid = listener.network_pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)  # not through the listener: as the OOM killer would
        publish(mosquitto_url, [(topic, {"water_leak": True, "battery": 89}, False)] * 5)
        assert listener.wait_handled(10, timeout=30), listener.stats
        assert listener.network_pid not in (None, first_pid)
    finally:
        listener.stop()
    alarm = db.session.execute(select(Alarm)).scalar_one()
    db.session.refresh(alarm)
    assert alarm.count == 10  # the broker kept the second five for the session; none counted twice


def test_the_network_process_leaves_when_the_ingesting_process_is_gone(mqtt_app: Flask) -> None:
    """It holds the MQTT session: left behind, it would take messages nobody ingests."""
    listener = MqttListener(mqtt_app)
    context = multiprocessing.get_context("spawn")
    _, network_out = context.Pipe(duplex=False)
    network_control, to_network = context.Pipe(duplex=False)
    process = context.Process(
        target=mqtt_network.run, args=(listener.network_config, network_out, network_control)
    )
    process.start()
    network_out.close()
    network_control.close()
    to_network.close()  # what the ingesting process's death does to the pipe
    process.join(timeout=20)
    assert not process.is_alive()
    assert process.exitcode == 0


def test_a_flapping_sensor_over_mqtt_is_one_alarm_flagged_flapping_and_one_case(
    mqtt_app: Flask, mosquitto_url: str, run_id: str
) -> None:
    topic = f"zigbee2mqtt/{run_id}/leak"
    toggles = [(topic, {"water_leak": n % 2 == 0, "battery": 80}, False) for n in range(10)]
    listener = MqttListener(mqtt_app)
    listener.start()
    try:
        publish(mosquitto_url, toggles)
        assert listener.wait_handled(len(toggles), timeout=30), listener.stats
    finally:
        listener.stop()
    alarm = db.session.execute(select(Alarm)).scalar_one()
    db.session.refresh(alarm)
    assert (alarm.alarm_type, alarm.active, alarm.flapping) == ("water_leak", False, True)
    assert (alarm.count, alarm.reopen_count, alarm.toggle_count) == (5, 4, 10)
    assert count(Incident) == 1 and count(Case) == 1
    flagged = db.session.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "alarm.flapping")
    ).scalar_one()
    assert flagged == 1


def test_two_listeners_on_a_shared_subscription_split_the_stream_and_count_it_once(
    make_app: Any, mosquitto_url: str, run_id: str
) -> None:
    """``$share/<group>/…``: the broker gives each message to one of the listeners; both write the same
    alarm rows (locked per device), so the counts add up exactly."""
    settings = {
        "mqtt_url": mosquitto_url,
        "mqtt_topics": (f"zigbee2mqtt/{run_id}/#",),
        "mqtt_share_group": f"g{run_id}",
    }
    app: Flask = make_app("postgresql", **settings)
    with app.app_context():
        from app.workflow import deploy

        deploy.deploy_folder(
            app.extensions["gridcase.settings"].bpmn_folder, app.extensions["gridcase.deploy_rules"]()
        )
        for n in range(4):
            fields = {"device_id": f"{run_id}-leak-{n}", "friendly_name": f"{run_id}/leak-{n}"}
            register_device(validate_device_fields({**fields, "device_type": "water_leak_sensor"}))
        db.session.commit()
        listeners = [MqttListener(app, client_id=f"gridcase-test-{run_id}-{n}") for n in range(2)]
        for listener in listeners:
            listener.start()
        stream = [
            (f"zigbee2mqtt/{run_id}/leak-{n % 4}", {"water_leak": True, "battery": 90 - n % 7}, False)
            for n in range(400)
        ]
        try:
            publish(mosquitto_url, stream)
            deadline = time.monotonic() + 30
            while sum(listener.stats.handled for listener in listeners) < len(stream):
                assert time.monotonic() < deadline, [listener.stats for listener in listeners]
                time.sleep(0.05)
        finally:
            for listener in listeners:
                listener.stop()
        assert all(listener.stats.handled > 0 for listener in listeners)  # both took a share
        assert sum(listener.stats.handled for listener in listeners) == len(stream)
        db.session.expire_all()
        counts = sorted(a.count for a in db.session.execute(select(Alarm)).scalars())
        assert counts == [100, 100, 100, 100]
        assert count(Incident) == 4
        db.session.remove()
        db.engine.dispose()


def test_a_listener_whose_broker_is_down_keeps_trying_and_stops_at_once(make_app: Any) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app: Flask = make_app("sqlite", mqtt_url=f"mqtt://127.0.0.1:{port}")
    listener = MqttListener(app)
    with pytest.raises(TimeoutError, match="not subscribed"):
        listener.start(wait_seconds=0.5)
    assert listener.network_pid is not None and not os.path.exists(f"/proc/{listener.network_pid}")

    patient = MqttListener(app)
    patient.start(wait_seconds=None)  # what `flask connectors mqtt` does: paho keeps trying
    started = time.monotonic()
    patient.request_stop()
    patient.stop()
    assert time.monotonic() - started < 5
    assert patient.network_pid is not None and not os.path.exists(f"/proc/{patient.network_pid}")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death is the point
@pytest.mark.parametrize("failure", [RuntimeError("boom"), SystemExit(3)], ids=["exception", "thread-death"])
def test_an_ingesting_thread_that_fails_or_dies_is_started_again_and_nothing_is_doubled(
    mqtt_app: Flask, mosquitto_url: str, run_id: str, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    import connectors.ingest

    real = connectors.ingest.ingest_many
    failures: list[int] = []

    def fail_once_after_commit(messages: Any) -> Any:
        results = real(messages)  # committed: the failure comes after, as Redis's did
        if not failures:
            failures.append(len(messages))
            raise failure
        return results

    monkeypatch.setattr(connectors.ingest, "ingest_many", fail_once_after_commit)
    topic = f"zigbee2mqtt/{run_id}/leak"
    listener = MqttListener(mqtt_app)
    listener.start()
    try:
        publish(mosquitto_url, [(topic, {"water_leak": True, "battery": 90}, False)] * 8)
        assert listener.wait_handled(8, timeout=30), listener.stats
        deadline = time.monotonic() + 30
        while listener.health.state != "ok":
            assert time.monotonic() < deadline, listener.health.problems
            time.sleep(0.1)
    finally:
        listener.stop()
    assert "worker" in listener.health.seen
    alarm = db.session.execute(select(Alarm)).scalar_one()
    db.session.refresh(alarm)
    assert alarm.count == 8  # the batch committed before the failure came again as duplicates
    assert count(Incident) == 1 and count(Case) == 1


def test_a_message_missed_between_two_received_is_recorded_on_its_device(
    mqtt_app: Flask, mosquitto_url: str, run_id: str
) -> None:
    """zigbee2mqtt's last_seen and elapsed say a message came between two we received (connectors.gaps)."""
    topic, t0 = f"zigbee2mqtt/{run_id}/leak", 1_796_000_000_000
    stream = [
        (topic, {"water_leak": False, "last_seen": t0 + seconds * 1000, "elapsed": elapsed * 1000}, False)
        for seconds, elapsed in ((0, 60), (60, 60), (180, 60))  # the one of t0 + 120 s never came
    ]
    listener = MqttListener(mqtt_app)
    listener.start()
    try:
        publish(mosquitto_url, stream)
        assert listener.wait_handled(3, timeout=30), listener.stats
        publish(mosquitto_url, [(topic, {"water_leak": False}, False)])  # a batch after: records the gap
        assert listener.wait_handled(4, timeout=30), listener.stats
        deadline = time.monotonic() + 10
        while count(AuditEvent, AuditEvent.action == "device.messages_missed") == 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        listener.stop()
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "device.messages_missed")
    ).scalar_one()
    assert (event.entity_type, event.entity_id) == ("device", f"{run_id}-leak")
    assert event.data["elapsed_ms"] == 60_000 and event.data["missed_message_at"].startswith("2026-")
    assert listener.health.counters.get("device_gaps") == 1


RECORDED = Path(__file__).parent / "data" / "zigbee2mqtt"


def test_over_mqtt_todays_zigbee2mqtt_payloads_alarm_and_a_second_sos_is_a_second_case(
    mqtt_app: Flask, mosquitto_url: str, run_id: str
) -> None:
    t = f"zigbee2mqtt/{run_id}"

    def recorded(name: str) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads((RECORDED / name).read_text(encoding="utf-8"))["payload"]
        return payload

    sos = recorded("tuya_TS0215A_sos_button.json")
    listener = MqttListener(mqtt_app)
    listener.start()
    try:
        publish(
            mosquitto_url,
            [
                (f"{t}/leak", recorded("aqara_SJCGQ11LM_water_leak.json"), False),
                (f"{t}/smoke-1", recorded("aqara_JTYJ-GD-01LM_BW_smoke.json"), False),
                (f"{t}/sos", sos, False),
            ],
        )
        assert listener.wait_handled(3, timeout=30), listener.stats
    finally:
        listener.stop()
    (first,) = db.session.execute(
        select(Case).join(Incident, Incident.case_id == Case.id).where(Incident.alarm_type == "sos")
    ).scalars()
    # The emergency was handled and closed (SQLite: one writer, so between runs).
    close_case(first, CaseStatus.CLOSED, None)
    db.session.commit()
    listener = MqttListener(mqtt_app)
    listener.start()
    try:
        publish(mosquitto_url, [(f"{t}/sos", sos, False)])
        assert listener.wait_handled(1, timeout=30), listener.stats
    finally:
        listener.stop()
    assert count(DeadLetter) == 0
    assert count(Alarm, Alarm.alarm_type.in_(("water_leak", "smoke"))) == 2
    assert count(Incident, Incident.alarm_type == "sos", Incident.case_id.is_not(None)) == 2
