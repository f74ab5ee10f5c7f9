"""The MQTT listener (``flask connectors mqtt``): paho-mqtt 2.x, callback API version 2, MQTT 5.

- A persistent session: a stable client id (``MQTT_CLIENT_ID``), clean start off and a session expiry
  (``MQTT_SESSION_EXPIRY_SECONDS``), so the broker keeps our subscriptions and unacknowledged messages
  while we are away; subscriptions are renewed in ``on_connect`` anyway (QoS 1, optionally as the shared
  subscription ``$share/<MQTT_SHARE_GROUP>/<topic>`` so several listeners split the load).
- Manual acknowledgement: the network thread only puts messages on a bounded queue (the broker never has
  more in flight to us than the queue holds: MQTT 5 receive maximum). One worker thread takes whatever is
  queued (up to ``batch_size``, without waiting for more), ingests it in one transaction (``ingest_many``)
  and then acknowledges each message, in arrival order. A crash before the acks means the broker
  redelivers (DUP flag set, same packet id), and ingestion recognizes what it already committed. Batching
  costs no latency (a lone message is a batch of one) and under load turns hundreds of commits into one.
- The network thread never touches the database; a database outage stops the worker (no ack) until the
  database is back.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from flask import Flask
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.exc import OperationalError

from app.clock import Clock
from app.config import Settings
from app.extensions import db

log = logging.getLogger(__name__)
QUEUE_SIZE = 500
BATCH_SIZE = 250  # half the queue: the broker keeps sending the other half while a batch commits
PRUNE_EVERY = 5000  # messages between forgetting expired message keys
RETRY_SECONDS = 2.0


@dataclass(frozen=True)
class Delivery:
    topic: str
    payload: bytes
    qos: int
    retained: bool
    dup: bool
    mid: int
    received_at: datetime


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
    """``start()`` connects and runs; ``stop()`` finishes the message in hand and leaves; ``crash()`` leaves
    at once without acknowledging what is queued (what a killed process does; the tests use it)."""

    def __init__(
        self,
        app: Flask,
        queue_size: int = QUEUE_SIZE,
        client_id: str | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.app = app
        self.settings: Settings = app.extensions["gridcase.settings"]
        self.clock: Clock = app.extensions["gridcase.clock"]
        if not self.settings.mqtt_url:
            raise ValueError("MQTT_URL is not set")
        self.address = BrokerAddress.parse(self.settings.mqtt_url)
        self.client_id = client_id or self.settings.mqtt_client_id
        self.queue: queue.Queue[Delivery] = queue.Queue(maxsize=queue_size)
        self.batch_size = max(1, min(batch_size, queue_size))
        self.stats = Stats()
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._worker = threading.Thread(target=self._work, name="mqtt-ingest", daemon=True)
        self.client = self._make_client(queue_size)

    # -- network thread (paho): no database here --------------------------------------------------------

    def _make_client(self, queue_size: int) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.reconnect_delay_set(1, 30)
        self._queue_size = queue_size
        return client

    def _connect_properties(self) -> Properties:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.settings.mqtt_session_expiry_seconds
        properties.ReceiveMaximum = min(self._queue_size, 65535)
        return properties

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("MQTT connection refused: %s", reason)
            return
        filters = subscription_filters(self.settings)
        log.info("MQTT connected (session present: %s); subscribing %s", flags.session_present, filters)
        client.subscribe([(topic, mqtt.SubscribeOptions(qos=1)) for topic in filters])
        self._connected.set()

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any
    ) -> None:
        failures = [r for r in reasons if r.is_failure]
        if failures:
            log.error("MQTT subscription refused: %s", failures)
            return
        self._subscribed.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if not self._stopping.is_set():
            log.warning("MQTT disconnected (%s); paho reconnects", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        delivery = Delivery(
            topic=message.topic,
            payload=bytes(message.payload),
            qos=message.qos,
            retained=bool(message.retain),
            dup=bool(message.dup),
            mid=message.mid,
            received_at=self.clock.now(),
        )
        # Blocks only if the broker ignores our receive maximum: back-pressure instead of dropping.
        self.queue.put(delivery)

    # -- worker thread: ingest, then acknowledge -------------------------------------------------------

    def _work(self) -> None:
        from connectors.ingest import prune_processed

        with self.app.app_context():
            since_prune = 0
            while not self._stopping.is_set():
                batch = self._next_batch()
                if not batch:
                    continue
                results = self._ingest_until_done(batch)
                if results is None:
                    return  # stopping while the database was away: not acknowledged, the broker keeps it
                for delivery in batch:
                    self.client.ack(delivery.mid, delivery.qos)
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

    def _next_batch(self) -> list[Delivery]:
        """What is queued now, up to ``batch_size``; waits briefly only for the first message."""
        try:
            batch = [self.queue.get(timeout=0.1)]
        except queue.Empty:
            return []
        while len(batch) < self.batch_size:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _ingest_until_done(self, batch: list[Delivery]) -> list[Any] | None:
        from connectors.ingest import Message, ingest_many

        messages = [
            Message(
                topic=d.topic,
                payload=d.payload,
                retained=d.retained,
                received_at=d.received_at,
                source="mqtt",
                message_ref=f"{self.client_id}:{d.mid}" if d.qos else None,
                redelivery=d.dup,
            )
            for d in batch
        ]
        while not self._stopping.is_set():
            try:
                return ingest_many(messages)
            except OperationalError:
                log.exception("database unavailable; %d messages kept unacknowledged", len(batch))
                self._stopping.wait(RETRY_SECONDS)
        return None

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self, wait_seconds: float = 10.0) -> None:
        self._worker.start()
        self.client.connect_async(
            self.address.host,
            self.address.port,
            keepalive=30,
            clean_start=False,
            properties=self._connect_properties(),
        )
        self.client.loop_start()
        if not self._subscribed.wait(wait_seconds):
            raise TimeoutError(
                f"not subscribed to {self.address.host}:{self.address.port} in {wait_seconds}s"
            )

    def wait_handled(self, count: int, timeout: float = 10.0) -> bool:
        """Tests and benchmarks: wait until ``count`` messages were handled (ingested and acknowledged)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.stats.handled >= count, timeout)

    def stop(self) -> None:
        self._stopping.set()
        self._worker.join(timeout=30)
        self.client.disconnect()
        self.client.loop_stop()

    def crash(self) -> None:
        """Leave now: queued messages stay unacknowledged and the broker redelivers them next time."""
        self._stopping.set()
        self.client.disconnect()
        self.client.loop_stop()
        self._worker.join(timeout=30)

    def request_stop(self) -> None:
        """From a signal handler: ``run_forever`` stops after the message in hand."""
        self._stopping.set()

    def run_forever(self) -> None:
        self.start(wait_seconds=60)
        try:
            while not self._stopping.wait(60):
                log.info("MQTT listener: %s", self.stats)
        finally:
            self.stop()
