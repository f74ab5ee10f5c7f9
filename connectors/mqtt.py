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
- The network side never touches the database; a database outage stops the worker (no ack) until the
  database is back.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask
from sqlalchemy.exc import OperationalError

from app import runtime
from app.clock import Clock
from app.config import Settings
from app.extensions import db
from connectors.mqtt_network import Delivered, NetworkConfig, tune_garbage_collection

log = logging.getLogger(__name__)
QUEUE_SIZE = 2000  # messages in flight to us (unacknowledged) at most
BATCH_SIZE = 1000  # half of them: the broker keeps sending the other half while a batch commits
PRUNE_EVERY = 5000  # messages between forgetting expired message keys
RETRY_SECONDS = 2.0
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
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._process: Any = None  # multiprocessing's SpawnProcess
        self._from_network: Connection | None = None
        self._to_network: Connection | None = None
        self._worker = threading.Thread(target=self._work, name="mqtt-ingest", daemon=True)

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
                elif message[0] == "subscribed":
                    self._subscribed.set()
                timeout = 0
        except (EOFError, OSError):
            return False
        return True

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
        from connectors.ingest import prune_processed

        with self.app.app_context():
            since_prune = 0
            while not self._stopping.is_set():
                if not self._gather():
                    if self._stopping.is_set():
                        break
                    log.error("the MQTT network process stopped; starting it again")
                    self._arrived.clear()  # not acknowledged: the broker sends them again
                    self._stopping.wait(RETRY_SECONDS)
                    self._spawn_network()
                    continue
                batch = self._next_batch()
                if not batch:
                    continue
                results = self._ingest_until_done(batch)
                if results is None:
                    break  # stopping while the database was away: not acknowledged, the broker keeps it
                self.acknowledge(batch)
                with self._changed:
                    self.stats.handled += len(batch)
                    for result in results:
                        self.stats.outcomes[result.outcome] = self.stats.outcomes.get(result.outcome, 0) + 1
                    self._changed.notify_all()
                since_prune += len(batch)
                if since_prune >= PRUNE_EVERY:
                    since_prune = 0
                    window = timedelta(seconds=self.settings.sensors.dedup_window_seconds)
                    prune_processed(self.clock.now() - window)
            db.session.remove()

    def _next_batch(self) -> list[Delivered]:
        arrived, batch = self._arrived, list[Delivered]()
        while arrived and len(batch) < self.batch_size:
            batch.append(arrived.popleft())
        return batch

    def _ingest_until_done(self, batch: list[Delivered]) -> list[Any] | None:
        from connectors.ingest import Message, ingest_many

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
        while not self._stopping.is_set():
            try:
                return ingest_many(messages)
            except OperationalError:
                log.exception("database unavailable; %d messages kept unacknowledged", len(batch))
                self._stopping.wait(RETRY_SECONDS)
        return None

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self, wait_seconds: float | None = 10.0) -> None:
        """Start both processes and wait until subscribed (``None``: do not wait; paho keeps trying to
        reach the broker). A stop requested meanwhile ends the wait."""
        self._spawn_network()
        self._worker.start()
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

    def crash(self) -> None:
        """Leave now: what has arrived stays unacknowledged and the broker redelivers it next time."""
        self._stopping.set()
        if self._process is not None:
            self._process.kill()
        self._worker.join(timeout=30)
        self._end_network(timeout=10)

    def _end_network(self, timeout: float) -> None:
        if self._process is not None:
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
