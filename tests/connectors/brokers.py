"""Private Mosquitto and Redis servers for tests that stop and restart them (never the shared ones).

``Mosquitto`` runs the shipped configuration (``connectors/mosquitto.conf``) with only the listener port,
the persistence folder, the user it runs as and authentication replaced; ``default=True`` runs Mosquitto's
defaults instead.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from app.config import PROJECT_ROOT
from connectors.mqtt import BrokerAddress

SHIPPED_CONFIG = PROJECT_ROOT / "connectors" / "mosquitto.conf"
MOSQUITTO = os.environ.get("GRIDCASE_TEST_MOSQUITTO") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REPLACED = ("listener", "persistence_location", "allow_anonymous", "password_file", "log_dest", "user")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def broker_config(port: int, folder: Path, default: bool = False) -> str:
    """The shipped configuration for a test broker on ``port`` keeping its data in ``folder``."""
    # As root Mosquitto would drop to the user "mosquitto", who cannot write the test's persistence folder.
    own = f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
    if default:
        return own + "persistence false\n"
    kept = [
        line
        for line in SHIPPED_CONFIG.read_text().splitlines()
        if line.strip() and not line.startswith("#") and line.split()[0] not in REPLACED
    ]
    return own + f"persistence_location {folder}/\n" + "\n".join(kept) + "\n"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{what} did not start on port {port}") from exc
            time.sleep(0.05)


class _Server:
    what = "server"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        log = (self.folder / f"{self.what}.log").open("ab")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, cwd=self.folder)
        _wait_for_port(self.port, self.process, self.what)

    def stop(self) -> None:
        """As a service manager stops it (SIGTERM: Mosquitto saves its persistence file first)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Mosquitto(_Server):
    what = "mosquitto"

    def __init__(self, folder: Path, default: bool = False) -> None:
        super().__init__(folder)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(broker_config(self.port, folder, default))

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [MOSQUITTO, "-c", str(self.config)]


class Redis(_Server):
    what = "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--daemonize",
            "no",
        ]


def publish(url: str, messages: list[tuple[str, Any, bool]]) -> None:
    """Publish (topic, payload, retain) at QoS 1 and wait until the broker has each one."""
    address = BrokerAddress.parse(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"publisher-{uuid.uuid4().hex[:6]}")
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        for topic, payload, retain in messages:
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            client.publish(topic, raw, qos=1, retain=retain).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()
