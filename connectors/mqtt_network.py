"""The MQTT listener's network side, in a process of its own: the paho client, and nothing else.

Python runs one thread at a time per process. Reading MQTT packets costs about as much CPU as ingesting them,
so with both in one process each waits for the other; in two processes they run side by side. This process
holds the MQTT session (paho-mqtt 2.x, callback API version 2, MQTT 5, manual acknowledgement) and talks to
the ingesting process (``connectors.mqtt.MqttListener``) through two pipes:

- out: ``("connected", session_present)`` on each connection, ``("subscribed",)`` after each
  (re)subscription, ``("disconnected", reason)`` when the connection is lost (paho reconnects), and
  ``("messages", [Delivered, ...])`` every few milliseconds while messages arrive (the pipe carries batches,
  not single messages);
- control: ``("ack", [(mid, qos), ...])`` for messages the ingesting process has committed, and
  ``("stop",)``. If the ingesting process dies, the control pipe closes and this process leaves too, with
  nothing acknowledged that was not committed.

It imports only paho and the standard library: it is started with ``spawn``, a fresh interpreter.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from app.logs import configure_logging

log = logging.getLogger(__name__)
FLUSH_SECONDS = 0.002  # how long a message may wait to join the next batch sent to the ingesting process

# (topic, payload, qos, retained, dup, mid): a tuple, as it crosses the pipe by the thousand
Delivered = tuple[str, bytes, int, bool, bool, int]


@dataclass(frozen=True)
class NetworkConfig:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    client_id: str
    filters: tuple[str, ...]
    session_expiry_seconds: int
    receive_maximum: int


def run(config: NetworkConfig, out: Connection, control: Connection) -> None:
    """The process's main function: connect, forward what arrives, acknowledge what the other side says."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    tune_garbage_collection()
    # A process of its own (spawned): its log lines in the format of the others (LOG_FORMAT, app.logs).
    configure_logging("text" if os.environ.get("LOG_FORMAT", "").strip().lower() == "text" else "json")
    network = _Network(config, out)
    network.start()
    try:
        while True:
            try:
                command = control.recv()
            except EOFError:
                log.warning("the ingesting process is gone; leaving without acknowledging more")
                return
            if command[0] == "ack":
                for mid, qos in command[1]:
                    network.client.ack(mid, qos)
            elif command[0] == "stop":
                return
    finally:
        network.stop()


def tune_garbage_collection() -> None:
    """For a process that handles a stream of messages: each allocates a few short-lived objects, and
    Python's default collector (a young-generation pass every 700 allocations, and full passes over every
    long-lived object of the app: SQLAlchemy's and SpiffWorkflow's) costs the ingesting process a third of
    its CPU. What exists now is frozen out of the collector's sight, and the young generation is collected
    every 50,000 allocations. Only for a process dedicated to this (``flask connectors mqtt``)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


class _Network:
    def __init__(self, config: NetworkConfig, out: Connection) -> None:
        self.config = config
        self.out = out
        self.received: deque[Delivered] = deque()  # paho's thread appends, the forwarding thread takes
        self.send_lock = threading.Lock()
        self.stopping = threading.Event()
        self.forwarder = threading.Thread(target=self._forward, name="mqtt-forward", daemon=True)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=config.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        if config.username:
            self.client.username_pw_set(config.username, config.password)
        if config.tls:
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.client.reconnect_delay_set(1, 30)

    def start(self) -> None:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.config.session_expiry_seconds
        properties.ReceiveMaximum = min(self.config.receive_maximum, 65535)
        self.forwarder.start()
        self.client.connect_async(
            self.config.host, self.config.port, keepalive=30, clean_start=False, properties=properties
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.stopping.set()
        self.client.disconnect()
        self.client.loop_stop()

    def _send(self, message: Any) -> None:
        with self.send_lock:
            self.out.send(message)

    # -- paho's thread --------------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("MQTT connection refused: %s", reason)
            return
        log.info(
            "connected (session present: %s); subscribing %s", flags.session_present, self.config.filters
        )
        with contextlib.suppress(OSError):
            self._send(("connected", bool(flags.session_present)))
        client.subscribe([(topic, mqtt.SubscribeOptions(qos=1)) for topic in self.config.filters])

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any
    ) -> None:
        failures = [r for r in reasons if r.is_failure]
        if failures:
            log.error("MQTT subscription refused: %s", failures)
            return
        self._send(("subscribed",))

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if not self.stopping.is_set():
            log.warning("disconnected (%s); paho reconnects", reason)
            with contextlib.suppress(OSError):  # the ingesting process is gone: the main thread leaves
                self._send(("disconnected", str(reason)))

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.received.append(
            (
                message.topic,
                bytes(message.payload),
                message.qos,
                bool(message.retain),
                bool(message.dup),
                message.mid,
            )
        )

    # -- the forwarding thread: batches to the ingesting process ----------------------------------------

    def _forward(self) -> None:
        received = self.received
        while not self.stopping.is_set():
            if not received:
                time.sleep(FLUSH_SECONDS)
                continue
            batch = []
            while received:
                batch.append(received.popleft())
            try:
                self._send(("messages", batch))
            except OSError:
                return  # the ingesting process is gone; the main thread leaves too
