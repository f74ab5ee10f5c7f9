"""The MQTT listener (``flask connectors mqtt``): paho-mqtt 2.x, callback API version 2, MQTT 5.

- A persistent session: a stable client id (``MQTT_CLIENT_ID``), clean start off and a session expiry
  (``MQTT_SESSION_EXPIRY_SECONDS``), so the broker keeps our subscriptions and unacknowledged messages
  while we are away; subscriptions are renewed on every connect anyway (QoS 1, optionally as the shared
  subscription ``$share/<MQTT_SHARE_GROUP>/<topic>`` so several listeners split the load).
- Two processes, so reading packets and ingesting them run side by side instead of taking turns for one
  interpreter: the network process (``connectors.mqtt_network``) holds the MQTT client and forwards what
  arrives in batches; this process ingests and tells it what to acknowledge. The broker never has more in
  flight to us than ``queue_size`` (MQTT 5 receive maximum).
- Manual acknowledgement: one worker thread here takes whatever has arrived (up to ``batch_size``, without
  waiting for more), ingests it in one transaction (``ingest_many``) and only then has it acknowledged, in
  arrival order. A crash before the acks means the broker redelivers (DUP flag set, same packet id), and
  ingestion recognizes what it already committed. Batching costs no latency (a lone message is a batch of
  one) and under load turns thousands of commits into one.
- It heals itself, with no operator: a database outage stops the worker (nothing acknowledged) and the
  batch is retried with backoff (0.5 s doubling to 8 s) until the database is back; Redis being away
  delays only the case openings (``app.jobs`` keeps the jobs and the worker sends them again); a broker
  that goes away is reconnected by paho (the persistent session brings what was published meanwhile); a
  network process that dies, an unforeseen error in the worker, even a worker thread that dies, restart
  the MQTT connection (the broker resends what was not acknowledged; ingestion recognizes what it had
  committed). A watchdog thread checks the worker and writes the health (``connectors.listener_health``:
  the health file, a warning a minute while not ok).
- A gap it can see is recorded, not pretended away: when the broker no longer has our session on a
  reconnection (restarted without persistence, session expired), messages published while we were away
  may be lost: an audit event ``mqtt.messages_may_be_lost`` (entity ``mqtt_listener``, the client id) and
  an error in the log; and when a device's zigbee2mqtt ``last_seen``/``elapsed`` show that a message
  between two we received never reached us (``connectors.gaps``): ``device.messages_missed``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask

from app import metrics, runtime
from app.clock import Clock
from app.config import Settings
from app.extensions import db
from connectors.gaps import SequenceWatch
from connectors.listener_health import ListenerHealth
from connectors.mqtt_network import Delivered, NetworkConfig, tune_garbage_collection

log = logging.getLogger(__name__)
QUEUE_SIZE = 2000  # messages in flight to us (unacknowledged) at most
BATCH_SIZE = 1000  # half of them: the broker keeps sending the other half while a batch commits
PRUNE_EVERY = 5000  # messages between forgetting expired message keys
RETRY_SECONDS = 0.5  # the first wait after a failure; doubled on each failure in a row, up to:
MAX_RETRY_SECONDS = 8.0
HEALTH_SECONDS = 2.0  # how often the health file is written and the ingesting thread checked
FILL_SECONDS = 0.005  # how long a small batch waits for more messages


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def subscription_filters(settings: Settings) -> list[str]:
    group = settings.mqtt_share_group
    return [f"$share/{group}/{topic}" if group else topic for topic in settings.mqtt_topics]


@dataclass
class Stats:
    handled: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class MqttListener:
    """``start()`` connects and runs; ``stop()`` finishes the batch in hand and leaves; ``crash()`` leaves at
    once without acknowledging what has arrived (what a killed process does; the tests use it)."""

    def __init__(
        self,
        app: Flask,
        queue_size: int = QUEUE_SIZE,
        client_id: str | None = None,
        batch_size: int = BATCH_SIZE,
        health_file: Path | None = None,
    ) -> None:
        self.app = app
        self.settings: Settings = runtime.settings(app)
        self.clock: Clock = runtime.clock(app)
        if not self.settings.mqtt_url:
            raise ValueError("MQTT_URL is not set")
        self.address = BrokerAddress.parse(self.settings.mqtt_url)
        self.client_id = client_id or self.settings.mqtt_client_id
        self.network_config = NetworkConfig(
            host=self.address.host,
            port=self.address.port,
            tls=self.address.tls,
            username=self.address.username,
            password=self.address.password,
            client_id=self.client_id,
            filters=tuple(subscription_filters(self.settings)),
            session_expiry_seconds=self.settings.mqtt_session_expiry_seconds,
            receive_maximum=queue_size,
        )
        self.batch_size = max(1, min(batch_size, queue_size))
        self.stats = Stats()
        self._arrived: deque[Delivered] = deque()
        # When each group of ``_arrived`` came (monotonic time, how many): the listener's lag metric.
        self._arrivals: deque[list[float]] = deque()
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._process: Any = None  # multiprocessing's SpawnProcess
        self._from_network: Connection | None = None
        self._to_network: Connection | None = None
        self._worker = self._new_worker()
        self._watchdog = threading.Thread(target=self._watch, name="mqtt-watchdog", daemon=True)
        self.health = ListenerHealth(path=health_file)
        self.health.problem("broker", "not connected yet", expected=True)
        self._had_session = False  # a session with the broker existed (its loss is a gap in the stream)
        self._disconnected_at: float | None = None
        self._gaps: list[
            tuple[str, dict[str, Any]]
        ] = []  # (action, data) to record when the database is there
        # Device sequences reveal gaps only if we see the whole stream, not a share of it.
        self._sequences = None if self.settings.mqtt_share_group else SequenceWatch()

    def _new_worker(self) -> threading.Thread:
        return threading.Thread(target=self._work, name="mqtt-ingest", daemon=True)

    # -- the network process ----------------------------------------------------------------------------

    def _spawn_network(self) -> None:
        from connectors import mqtt_network

        context = multiprocessing.get_context(
            "spawn"
        )  # a fresh interpreter: no database connections inherited
        from_network, network_out = context.Pipe(duplex=False)
        network_control, to_network = context.Pipe(duplex=False)
        self._process = context.Process(
            target=mqtt_network.run,
            args=(self.network_config, network_out, network_control),
            name=f"mqtt-network {self.client_id}",
            daemon=True,
        )
        self._process.start()
        network_out.close()
        network_control.close()
        self._from_network, self._to_network = from_network, to_network

    def _receive(self, timeout: float) -> bool:
        """Take what the network process sent within ``timeout``; False if it is gone."""
        assert self._from_network is not None
        try:
            while self._from_network.poll(timeout):
                message = self._from_network.recv()
                if message[0] == "messages":
                    self._arrived.extend(message[1])
                    self._arrivals.append([time.monotonic(), len(message[1])])
                else:
                    self._connection_event(message)
                timeout = 0
        except (EOFError, OSError):
            return False
        return True

    def _connection_event(self, message: tuple[Any, ...]) -> None:
        if message[0] == "subscribed":
            self._subscribed.set()
            self.health.clear("broker")
        elif message[0] == "disconnected":
            self._disconnected_at = self._disconnected_at or time.time()
            self.health.problem("broker", f"disconnected ({message[1]}); reconnecting")
        elif message[0] == "connected":
            session_present = bool(message[1])
            if self._had_session and not session_present:
                self._note_gap()
            self._had_session = self.network_config.session_expiry_seconds > 0
            self._disconnected_at = None

    def _note_gap(self) -> None:
        """The broker no longer had our session (restarted without persistence, session expired): what was
        published while we were away is lost, and the stream has a gap we must not pretend away."""
        gap = {
            "broker": f"{self.address.host}:{self.address.port}",
            "client_id": self.client_id,
            "disconnected_at": self._disconnected_at,
            "reconnected_at": time.time(),
            "reason": "broker had no session for us: messages published while disconnected may be lost",
        }
        log.error("MQTT: %s (%s)", gap["reason"], gap)
        self.health.count("gaps")
        self._gaps.append(("mqtt.messages_may_be_lost", gap))

    def _watch_sequences(self, batch: list[Delivered]) -> None:
        if self._sequences is None:
            return
        for topic, payload, _qos, _retained, dup, _mid in batch:
            gap = None if dup else self._sequences.observe(topic, payload)
            if gap is not None:
                log.warning("MQTT: messages of %s were missed: %s", gap["friendly_name"], gap)
                self.health.count("device_gaps")
                self._gaps.append(("device.messages_missed", gap))

    def _restart_network(self, why: str) -> None:
        """A fresh network process and MQTT connection: the broker sends again everything not acknowledged."""
        self._end_network(timeout=5, kill=True)
        self._arrived.clear()  # not acknowledged: the broker sends them again
        self._arrivals.clear()
        self._subscribed.clear()
        self.health.problem("broker", why)
        self.health.count("network_restarts")
        self._spawn_network()

    def _gather(self) -> bool:
        """Wait for messages (a tenth of a second at most), then, while they make a small batch, up to
        ``FILL_SECONDS`` for more: under load a batch of hundreds costs hardly more than one of ten, and a
        message that comes alone waits a few milliseconds. False if the network process is gone."""
        if not self._receive(0.1 if not self._arrived else 0):
            return False
        deadline = time.monotonic() + FILL_SECONDS
        while self._arrived and len(self._arrived) < self.batch_size // 4:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if not self._receive(remaining):
                return False
        return True

    def acknowledge(self, deliveries: list[Delivered]) -> None:
        """Have the network process acknowledge these (committed) messages, in this order."""
        assert self._to_network is not None
        try:
            self._to_network.send(("ack", [(d[5], d[2]) for d in deliveries if d[2]]))
        except OSError:
            # The network process is gone, and the connection with it: the broker redelivers these and
            # ingestion recognizes them as committed.
            log.warning("%d committed messages could not be acknowledged", len(deliveries))

    # -- worker thread: ingest, then acknowledge -------------------------------------------------------

    def _work(self) -> None:
        with self.app.app_context():
            try:
                self._work_loop()
            finally:
                with contextlib.suppress(Exception):  # a session on a dead connection may fail to close
                    db.session.remove()

    def _work_loop(self) -> None:
        since_prune = 0
        while not self._stopping.is_set():
            try:
                if not self._gather():
                    if self._stopping.is_set():
                        break
                    log.error("the MQTT network process stopped; starting it again")
                    self._stopping.wait(RETRY_SECONDS)
                    self._restart_network("the MQTT network process stopped; starting it again")
                    continue
                batch = self._next_batch()
                if batch:
                    results = self._ingest_until_done(batch)
                    if results is None:
                        break  # stopping while the database was away: not acknowledged, the broker keeps it
                    self.acknowledge(batch)
                    self._count(batch, results)
                    self._watch_sequences(batch)
                    self.health.clear("worker")
                    since_prune += len(batch)
                self._after_batch(since_prune >= PRUNE_EVERY)
                if since_prune >= PRUNE_EVERY:
                    since_prune = 0
            except Exception as exc:
                # Not the database being away (``_ingest_until_done`` waits for it): something unforeseen.
                # What was not acknowledged stays with the broker; a fresh MQTT connection has it sent again
                # (ingestion recognizes what it committed), and the thread goes on.
                log.exception("the ingesting thread failed; resuming the MQTT session")
                self.health.problem("worker", f"{exc.__class__.__name__}: {exc}"[:300])
                self._rollback_quietly()
                self._stopping.wait(RETRY_SECONDS)
                if not self._stopping.is_set():
                    self._restart_network("resuming after an ingesting failure")

    def _count(self, batch: list[Delivered], results: list[Any]) -> None:
        self._measure(batch, results)
        with self._changed:
            self.stats.handled += len(batch)
            for result in results:
                self.stats.outcomes[result.outcome] = self.stats.outcomes.get(result.outcome, 0) + 1
            self._changed.notify_all()

    def _measure(self, batch: list[Delivered], results: list[Any]) -> None:
        """Metrics of a committed batch: messages by outcome, the lag of its oldest message (from reaching
        this process to its commit), and what still waits."""
        outcomes: dict[str, int] = {}
        for result in results:
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        for outcome, n in outcomes.items():
            metrics.LISTENER_MESSAGES.labels(outcome).inc(n)
        if self._arrivals:
            metrics.LISTENER_LAG.observe(time.monotonic() - self._arrivals[0][0])
        left = len(batch)
        while left and self._arrivals:
            group = self._arrivals[0]
            taken = min(left, int(group[1]))
            group[1] -= taken
            left -= taken
            if group[1] <= 0:
                self._arrivals.popleft()
        metrics.LISTENER_BACKLOG.set(len(self._arrived))

    def _after_batch(self, prune: bool) -> None:
        """What the worker does between batches: send again the jobs Redis did not take, record the gaps it
        saw, now and then forget expired message keys. The database being away only postpones these."""
        from app.jobs import resend_unsent_jobs, unsent_jobs
        from connectors.ingest import DATABASE_UNAVAILABLE, prune_processed

        if self.settings.redis_url:
            waiting = resend_unsent_jobs()
            if waiting:
                self.health.problem(
                    "redis", f"{waiting} jobs (case openings) wait for Redis: {unsent_jobs()[1]}"
                )
            else:
                self.health.clear("redis")
        if not self._gaps and not prune:
            return
        try:
            if self._gaps:
                self._record_gaps()
            if prune:
                window = timedelta(seconds=self.settings.sensors.dedup_window_seconds)
                prune_processed(self.clock.now() - window)
        except DATABASE_UNAVAILABLE:
            self._rollback_quietly()  # the next batch finds out and waits for the database

    def _record_gaps(self) -> None:
        from sqlalchemy import select

        from app.audit.services import record
        from app.devices.models import Device

        for action, gap in self._gaps:
            entity_type, entity_id = "mqtt_listener", self.client_id
            if action == "device.messages_missed":
                name = gap["friendly_name"]
                device_id = db.session.execute(
                    select(Device.device_id).where(Device.friendly_name == name)
                ).scalar_one_or_none()
                entity_type, entity_id = "device", device_id or name
            record(
                action, entity_type=entity_type, entity_id=entity_id, actor_label="MQTT listener", data=gap
            )
        db.session.commit()
        self._gaps.clear()

    def _rollback_quietly(self) -> None:
        try:
            db.session.rollback()
        except Exception:
            log.warning("rollback failed; starting a fresh session", exc_info=True)
            with contextlib.suppress(Exception):
                db.session.remove()

    def _next_batch(self) -> list[Delivered]:
        arrived, batch = self._arrived, list[Delivered]()
        while arrived and len(batch) < self.batch_size:
            batch.append(arrived.popleft())
        return batch

    def _ingest_until_done(self, batch: list[Delivered]) -> list[Any] | None:
        from connectors.ingest import DATABASE_UNAVAILABLE, Message, ingest_many

        received_at = self.clock.now()
        messages = [
            Message(
                topic=topic,
                payload=payload,
                retained=retained,
                received_at=received_at,
                source="mqtt",
                message_ref=f"{self.client_id}:{mid}" if qos else None,
                redelivery=dup,
            )
            for topic, payload, qos, retained, dup, mid in batch
        ]
        delay = RETRY_SECONDS
        while not self._stopping.is_set():
            try:
                results = ingest_many(messages)
            except DATABASE_UNAVAILABLE as exc:
                # Not acknowledged: the broker keeps the batch (and so do we) until the database is back.
                # A connection lost during the commit leaves unknown whether it committed: the retry treats
                # the batch as a redelivery, so keys committed already are recognized and not counted twice.
                messages = [replace(m, redelivery=True) if m.message_ref else m for m in messages]
                if "database" not in self.health.problems:
                    log.exception("database unavailable; %d messages kept unacknowledged", len(batch))
                self._rollback_quietly()
                detail = str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__
                self.health.problem("database", f"{len(batch)} messages wait: {detail}")
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
                continue
            self.health.clear("database")
            return results
        return None

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self, wait_seconds: float | None = 10.0) -> None:
        """Start both processes and wait until subscribed (``None``: do not wait; paho keeps trying to
        reach the broker). A stop requested meanwhile ends the wait."""
        self._spawn_network()
        self._worker.start()
        self._watchdog.start()
        if wait_seconds is None:
            return
        deadline = time.monotonic() + wait_seconds
        while not self._subscribed.wait(0.1):
            if self._stopping.is_set():
                return
            if time.monotonic() > deadline:
                self.crash()
                raise TimeoutError(
                    f"not subscribed to {self.address.host}:{self.address.port} in {wait_seconds}s"
                )

    def _watch(self) -> None:
        """Every ``HEALTH_SECONDS``: an ingesting thread that died (an error nothing caught, even
        ``SystemExit``) is started again with a fresh MQTT connection, and the health file is written."""
        while not self._stopping.wait(HEALTH_SECONDS):
            if not self._worker.is_alive() and not self._stopping.is_set():
                log.error("the ingesting thread died; starting it again")
                self.health.problem("worker", "the ingesting thread died; starting it again")
                self.health.count("worker_restarts")
                self._restart_network("resuming after the ingesting thread died")
                self._worker = self._new_worker()
                self._worker.start()
            self.health.tick()

    @property
    def network_pid(self) -> int | None:
        """The network process's pid (benchmarks add its CPU time to this process's)."""
        return self._process.pid if self._process is not None else None

    def wait_handled(self, count: int, timeout: float = 10.0) -> bool:
        """Tests and benchmarks: wait until ``count`` messages were handled (ingested and acknowledged)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.stats.handled >= count, timeout)

    def stop(self) -> None:
        """Finish the batch in hand, have it acknowledged, disconnect."""
        self._stopping.set()
        self._worker.join(timeout=30)
        if self._to_network is not None:
            with contextlib.suppress(OSError):  # already gone
                self._to_network.send(("stop",))
        self._end_network(timeout=10)
        self._stopped()

    def crash(self) -> None:
        """Leave now: what has arrived stays unacknowledged and the broker redelivers it next time."""
        self._stopping.set()
        if self._process is not None:
            self._process.kill()
        self._worker.join(timeout=30)
        self._end_network(timeout=10)
        self._stopped()

    def _stopped(self) -> None:
        if self._watchdog.is_alive():
            self._watchdog.join(timeout=HEALTH_SECONDS + 5)
        self.health.problem("worker", "stopped", expected=True)
        self.health.tick()

    def _end_network(self, timeout: float, kill: bool = False) -> None:
        if self._process is not None:
            if kill:
                self._process.kill()
            self._process.join(timeout)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        for connection in (self._from_network, self._to_network):
            if connection is not None:
                connection.close()

    def request_stop(self) -> None:
        """From a signal handler: ``run_forever`` stops after the batch in hand."""
        self._stopping.set()

    def run_forever(self) -> None:
        """The ``flask connectors mqtt`` command: run until ``request_stop`` (SIGTERM, Ctrl-C). A broker that
        cannot be reached is retried (paho, up to 30 s apart) and said every minute."""
        tune_garbage_collection()  # this process does nothing else
        self.start(wait_seconds=None)
        try:
            while not self._stopping.wait(60):
                if not self._subscribed.is_set():
                    log.warning(
                        "MQTT listener: not subscribed yet to %s:%s", self.address.host, self.address.port
                    )
                log.info("MQTT listener: %s", self.stats)
        finally:
            self.stop()
