"""Sensor listener throughput and latency, with a local Mosquitto the bench starts on a free port.

Stack mode, as in production: PostgreSQL, Redis, an RQ worker process (``flask worker``) that opens the
cases of new incidents, the listener (its ingesting side in this process, its network process beside it),
and a broker.

(a) messages per second through our MQTT listener (``connectors.mqtt.MqttListener``: QoS 1, batches of what
    has arrived, one PostgreSQL transaction per batch, manual acks after its commit) against a bare paho
    subscriber that does nothing with them (same QoS, MQTT 5, same receive maximum), as a ratio (target
    >= 0.5), and the CPU each spends per message (the listener's two processes added up). The mix is
    realistic: mostly telemetry and repeats of active alarms, 2 % alarm transitions, each opening an
    incident the listener hands on to the worker. Both drain the same N messages the broker queued for
    their (persistent, offline) sessions, so the publisher's speed does not count, and each has the machine
    to itself: the worker starts after (a) and opens its cases before (b).
(b) publish-to-case latency of alarm transitions, p50 / p99 (target p99 < 1 s): from the publish to the
    case row the worker committed (its ``created_at``, same machine clock); telemetry published live at half
    the listener's measured rate, new alarms among it at ``LIVE_INCIDENTS_PER_SECOND``, then a
    five-detector fire in one building;
(c) cases created vs incidents injected (must be equal).

The database (``GRIDCASE_BENCH_SENSORS_POSTGRES_URL``, default ``gridcase_bench3``) is dropped and rebuilt by
the migrations; the Redis database (``GRIDCASE_BENCH_SENSORS_REDIS_URL``, default db 13) is flushed. Run:
``python -m bench.sensors [--messages N] [--alarms K]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

POSTGRES_URL = os.environ.get(
    "GRIDCASE_BENCH_SENSORS_POSTGRES_URL", "postgresql://gridcase:gridcase@127.0.0.1:5432/gridcase_bench3"
)
REDIS_URL = os.environ.get("GRIDCASE_BENCH_SENSORS_REDIS_URL", "redis://127.0.0.1:6379/13")
MOSQUITTO = os.environ.get("GRIDCASE_TEST_MOSQUITTO") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
BASE = "zigbee2mqtt"
TOPIC_FILTER = "zigbee2mqtt/bench/#"
RECEIVE_MAXIMUM = 2000  # the listener's queue size: the broker keeps this many in flight to each
TRANSITION_SHARE = 0.02
REPEAT_SHARE = 0.2
FIRE_DETECTORS = 5
FIRE_BUILDING = "510124001001001001001"
TELEMETRY_DEVICES = 200
LIVE_INCIDENTS_PER_SECOND = 10  # (b): far above a district's real rate


def process_cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a live process (Linux /proc), e.g. the listener's network process."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def mosquitto() -> Iterator[str]:
    """A throwaway broker on a free port of 127.0.0.1, unlimited queues for offline persistent sessions."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="gridcase-bench-mqtt-"))
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_inflight_messages 0\n"
    )
    process = subprocess.Popen(
        [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=(folder / "log").open("wb")
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                sys.exit(f"mosquitto did not start: see {folder / 'log'}")
            time.sleep(0.05)
    try:
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- the message mix --------------------------------------------------------------------------------------


def leak_name(n: int) -> str:
    return f"bench/leak-{n}"


def quiet(rng: random.Random) -> bytes:
    state = {"water_leak": False, "battery": rng.randint(60, 100), "linkquality": rng.randint(40, 200)}
    return json.dumps(state).encode()


def leaking(rng: random.Random) -> bytes:
    state = {"water_leak": True, "battery": rng.randint(60, 100), "linkquality": rng.randint(40, 200)}
    return json.dumps(state).encode()


def throughput_mix(total: int, rng: random.Random) -> tuple[list[tuple[str, bytes]], int]:
    """(topic, payload) in order, and the number of transitions (one incident each): quiet telemetry from
    ``TELEMETRY_DEVICES`` sensors, repeats from sensors already leaking, and new leaks on fresh sensors."""
    messages: list[tuple[str, bytes]] = []
    leaking_now: list[int] = []
    transitions = 0
    for _ in range(total):
        roll = rng.random()
        if roll < TRANSITION_SHARE or (roll < TRANSITION_SHARE + REPEAT_SHARE and not leaking_now):
            sensor = TELEMETRY_DEVICES + transitions
            transitions += 1
            leaking_now.append(sensor)
            messages.append((f"{BASE}/{leak_name(sensor)}", leaking(rng)))
        elif roll < TRANSITION_SHARE + REPEAT_SHARE:
            messages.append((f"{BASE}/{leak_name(rng.choice(leaking_now))}", leaking(rng)))
        else:
            messages.append((f"{BASE}/{leak_name(rng.randrange(TELEMETRY_DEVICES))}", quiet(rng)))
    return messages, transitions


# -- clients ---------------------------------------------------------------------------------------------


def publish_all(url: str, messages: list[tuple[str, bytes]]) -> None:
    from connectors.mqtt import BrokerAddress

    address = BrokerAddress.parse(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}")
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect(address.host, address.port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


class BareSubscriber:
    """Does nothing with a message but count it (paho acknowledges QoS 1 itself)."""

    def __init__(self, url: str) -> None:
        from connectors.mqtt import BrokerAddress

        self.address = BrokerAddress.parse(url)
        self.received = 0
        self.subscribed = threading.Event()
        self.done = threading.Event()
        self.expected = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *_: c.subscribe(TOPIC_FILTER, options=mqtt.SubscribeOptions(qos=1))
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message

    def _on_message(self, *_: Any) -> None:
        self.received += 1
        if self.received >= self.expected:
            self.done.set()

    def connect(self) -> None:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect(self.address.host, self.address.port, clean_start=False, properties=properties)
        self.client.loop_start()

    def disconnect(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def rq_worker(database_url: str, redis_url: str, folder: Path) -> Iterator[None]:
    """``flask worker`` in its own process, on the engine queue (where case openings go)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench",
        "UPLOAD_FOLDER": str(folder / "uploads"),
    }
    root = Path(__file__).resolve().parent.parent
    log = (folder / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--queues", "engine"],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def wait_for_cases(app: Any, timeout: float = 120.0) -> None:
    """Until every incident has its case (the worker opens them)."""
    from app.devices.models import Incident

    deadline = time.monotonic() + timeout
    while count_rows(app, Incident, Incident.case_id.is_(None)):
        if time.monotonic() > deadline:
            sys.exit("the worker did not open every incident's case in time: see its log")
        time.sleep(0.05)


def case_created_at(app: Any) -> dict[str, tuple[int, datetime]]:
    """The friendly name of each device with an alarm in a sensor case's incident → (case id, created at)."""
    from sqlalchemy import select

    from app.cases.models import Case
    from app.clock import as_utc
    from app.devices.models import Alarm, Device, Incident
    from app.extensions import db

    with app.app_context():
        rows = db.session.execute(
            select(Device.friendly_name, Case.id, Case.created_at)
            .join(Alarm, Alarm.device_id == Device.id)
            .join(Incident, Incident.id == Alarm.incident_id)
            .join(Case, Case.id == Incident.case_id)
            .order_by(Alarm.id)
        ).all()
        return {name: (case_id, as_utc(created_at)) for name, case_id, created_at in rows}


# -- the app ---------------------------------------------------------------------------------------------


def make_app(database_url: str, broker_url: str, redis_url: str | None, folder: Path) -> Any:
    from sqlalchemy import text

    from app import create_app, runtime
    from app.config import Settings
    from app.extensions import db
    from app.workflow import deploy

    settings = Settings.from_env(
        database_url=database_url,
        redis_url=redis_url,
        upload_folder=folder / "uploads",
        secret_key="bench",
        mqtt_url=broker_url,
        mqtt_topics=(TOPIC_FILTER,),
        mqtt_client_id="bench-listener",
    )
    app = create_app(settings)
    with app.app_context():
        from flask_migrate import upgrade

        db.session.execute(text("DROP SCHEMA public CASCADE"))
        db.session.execute(text("CREATE SCHEMA public"))
        db.session.commit()
        upgrade()
        deploy.deploy_folder(settings.bpmn_folder, runtime.deploy_rules(app))
        db.session.commit()
    return app


def register(app: Any, leak_sensors: int) -> None:
    from app.devices.services import register_device, validate_device_fields
    from app.extensions import db
    from app.grids.demo import demo_territory
    from app.grids.services import import_geojson

    with app.app_context():
        import_geojson(demo_territory())  # the smoke detectors name FIRE_BUILDING, which must exist
        rows = [
            {
                "device_id": f"bench-leak-{n}",
                "friendly_name": leak_name(n),
                "device_type": "water_leak_sensor",
            }
            for n in range(leak_sensors)
        ]
        rows += [
            {
                "device_id": f"bench-smoke-{n}",
                "friendly_name": f"bench/smoke-{n}",
                "device_type": "smoke_detector",
                "building_code": FIRE_BUILDING,
            }
            for n in range(FIRE_DETECTORS)
        ]
        for row in rows:
            register_device(validate_device_fields(row), with_token=False)
        db.session.commit()


def count_rows(app: Any, model: Any, *where: Any) -> int:
    from sqlalchemy import func, select

    from app.extensions import db

    with app.app_context():
        return int(db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


# -- the runs --------------------------------------------------------------------------------------------


def run(total: int, alarms: int, database_url: str, redis_url: str) -> dict[str, Any]:

    rng = random.Random(7)
    mix, transitions = throughput_mix(total, rng)
    latency_sensors = list(range(TELEMETRY_DEVICES + transitions, TELEMETRY_DEVICES + transitions + alarms))
    from redis import Redis

    Redis.from_url(redis_url).flushdb()
    folder = Path(tempfile.mkdtemp(prefix="gridcase-bench-sensors-"))
    with mosquitto() as url:
        app = make_app(database_url, url, redis_url, folder)
        register(app, TELEMETRY_DEVICES + transitions + alarms)
        with ExitStack() as stack:

            def start_worker() -> None:
                stack.enter_context(rq_worker(database_url, redis_url, folder))

            return _measure(app, url, mix, transitions, latency_sensors, alarms, rng, start_worker)


def _measure(
    app: Any,
    url: str,
    mix: list[tuple[str, bytes]],
    transitions: int,
    latency_sensors: list[int],
    alarms: int,
    rng: random.Random,
    start_worker: Callable[[], None],
) -> dict[str, Any]:
    total = len(mix)
    from app.cases.models import Case
    from app.devices.models import Incident
    from connectors.mqtt import MqttListener
    from connectors.mqtt_network import tune_garbage_collection

    # Both consumers subscribe once, leave, and find the whole mix queued for them when they return.
    bare = BareSubscriber(url)
    bare.expected = total
    bare.connect()
    bare.subscribed.wait(10)
    bare.disconnect()
    first = MqttListener(app)
    first.start()
    first.stop()
    publish_all(url, mix)

    bare = BareSubscriber(url)
    bare.expected = total
    started, cpu = time.perf_counter(), time.process_time()
    bare.connect()
    if not bare.done.wait(600):
        sys.exit(f"the bare subscriber got {bare.received} of {total}")
    bare_rate = total / (time.perf_counter() - started)
    bare_cpu = (time.process_time() - cpu) / total
    bare.disconnect()

    listener = MqttListener(app)
    tune_garbage_collection()  # as ``flask connectors mqtt`` does (``MqttListener.run_forever``)
    started, cpu = time.perf_counter(), time.process_time()
    listener.start(wait_seconds=30)
    network_cpu = process_cpu_seconds(listener.network_pid)
    if not listener.wait_handled(total, timeout=1800):
        sys.exit(f"the listener handled {listener.stats.handled} of {total}")
    elapsed = time.perf_counter() - started
    listener_rate = total / elapsed
    ingest_cpu = (time.process_time() - cpu) / total
    network_cpu = (process_cpu_seconds(listener.network_pid) - network_cpu) / total
    print(f"(a) {total} messages ({transitions} transitions): bare {bare_rate:,.0f}/s, ", end="")
    print(f"listener {listener_rate:,.0f}/s, ratio {listener_rate / bare_rate:.2f} (target >= 0.5)")
    print(
        f"    CPU per message: bare subscriber {bare_cpu * 1e6:.0f} us; listener "
        f"{(ingest_cpu + network_cpu) * 1e6:.0f} us (network process {network_cpu * 1e6:.0f}, "
        f"ingesting process {ingest_cpu * 1e6:.0f})"
    )

    # The worker starts now: during (a) the two consumers had the same machine to themselves.
    started = time.perf_counter()
    start_worker()
    wait_for_cases(app)  # (a)'s case openings must not queue ahead of (b)'s
    print(f"    the RQ worker then opened (a)'s {transitions} cases in {time.perf_counter() - started:.1f} s")
    # (b) live: telemetry at half the listener's rate, alarm transitions among it at a steady
    # LIVE_INCIDENTS_PER_SECOND (what one RQ worker keeps up with on a 2-CPU machine beside the listener),
    # then a fire.
    rate = max(10.0, listener_rate / 2)
    live = _live_stream(latency_sensors, rng, gap=max(50, round(rate / LIVE_INCIDENTS_PER_SECOND)))
    handled_before = listener.stats.handled
    # The publisher is a process of its own, so it does not take turns with ingestion for this interpreter.
    context = multiprocessing.get_context("spawn")
    times, times_out = context.Pipe(duplex=False)
    publisher = context.Process(target=publish_live, args=(url, live, rate, times_out))
    publisher.start()
    times_out.close()
    published_at: dict[str, datetime] = times.recv()
    publisher.join()
    published = time.perf_counter()
    behind = handled_before + len(live) - listener.stats.handled
    if not listener.wait_handled(handled_before + len(live), timeout=600):
        sys.exit(f"the listener handled {listener.stats.handled - handled_before} of {len(live)} live")
    print(
        f"    (b) live: {len(live)} messages; when the last was published the listener was {behind} behind, "
        f"handled {time.perf_counter() - published:.2f} s later"
    )
    listener.stop()
    wait_for_cases(app)
    created = case_created_at(app)
    fire_cases = {created[name][0] for name in created if "/smoke-" in name}
    first_smoke = min((at, name) for name, at in published_at.items() if "/smoke-" in name)[1]
    latencies = sorted(
        (created[name][1] - at).total_seconds()
        for name, at in published_at.items()
        if name in created and ("/smoke-" not in name or name == first_smoke)
    )
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(
        f"(b) publish-to-case latency of {len(latencies)} alarm transitions at {rate:,.0f} msg/s: "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms "
        "(target p99 < 1000 ms)"
    )
    injected = transitions + alarms + 1  # the fire: five detectors, one incident
    cases = count_rows(app, Case, Case.source_channel == "sensor")
    incidents = count_rows(app, Incident)
    verdict = "equal" if cases == injected == incidents else "NOT EQUAL"
    print(
        f"(c) incidents injected {injected}, incidents {incidents}, cases created {cases}: {verdict} "
        f"(the fire's {FIRE_DETECTORS} detectors: {len(fire_cases)} case)"
    )
    return {
        "bare_rate": bare_rate,
        "listener_rate": listener_rate,
        "p50": p50,
        "p99": p99,
        "injected": injected,
        "cases": cases,
    }


def _live_stream(sensors: list[int], rng: random.Random, gap: int) -> list[tuple[str, bytes]]:
    """Each latency sensor's first leak after ``gap - 1`` telemetry messages, then the fire."""
    stream: list[tuple[str, bytes]] = []
    for sensor in sensors:
        stream += [
            (f"{BASE}/{leak_name(rng.randrange(TELEMETRY_DEVICES))}", quiet(rng)) for _ in range(gap - 1)
        ]
        stream.append((f"{BASE}/{leak_name(sensor)}", leaking(rng)))
    for n in range(FIRE_DETECTORS):
        stream.append((f"{BASE}/bench/smoke-{n}", json.dumps({"smoke": True, "smoke_density": 60}).encode()))
    return stream


def publish_live(url: str, live: list[tuple[str, bytes]], rate: float, times: Any) -> None:
    """(b)'s publisher, in a process of its own: ``live`` at ``rate`` messages a second; sends back when
    each alarm sensor's first alarm was published."""
    from connectors.mqtt import BrokerAddress

    address = BrokerAddress.parse(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-live-{os.getpid()}")
    client.max_queued_messages_set(0)
    client.connect(address.host, address.port)
    client.loop_start()
    published_at: dict[str, datetime] = {}
    next_at = time.monotonic()
    for topic, payload in live:
        next_at += 1 / rate
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if b'"water_leak": true' in payload or b'"smoke": true' in payload:
            published_at.setdefault(topic.removeprefix(f"{BASE}/"), datetime.now(UTC))
        last = client.publish(topic, payload, qos=1)
    last.wait_for_publish(120)  # paho sends in order: the rest are out too
    client.disconnect()
    client.loop_stop()
    times.send(published_at)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000, help="messages of the throughput mix")
    parser.add_argument("--alarms", type=int, default=200, help="alarm transitions timed for latency")
    parser.add_argument("--database-url", default=POSTGRES_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    args = parser.parse_args()
    if args.messages < 100 or args.alarms < 1:
        parser.error("--messages must be >= 100 and --alarms >= 1")
    run(args.messages, args.alarms, args.database_url, args.redis_url)


if __name__ == "__main__":
    main()
