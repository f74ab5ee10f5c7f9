"""The stack for ``bench.city``: private Redis and Mosquitto on free ports, and the app's processes in the
shape of a Procfile (``PROCFILE``: gunicorn web workers, RQ workers, the scheduler, the MQTT listener),
started and watched like a process supervisor would (systemd ``Restart=always``, a pod's restart policy):
a process that dies is started again after ``RESTART_DELAY``.

Switching to the project's Procfile later means reading ``PROCFILE`` from it; the rest stays.
The shared PostgreSQL is used (the seeded ``_bench`` database); Redis and Mosquitto are the bench's own,
because the bench restarts them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MOSQUITTO = os.environ.get("GRIDCASE_TEST_MOSQUITTO") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
RESTART_DELAY = 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s") from None
            time.sleep(0.1)


def procfile(web_port: int, web_workers: int, rq_workers: int) -> dict[str, list[str]]:
    """name → command, as a Procfile would say it (one line per process; RQ workers numbered). The web
    process is gunicorn with the stack's own settings (``deploy/gunicorn.conf.py``: gthread workers with
    ``GUNICORN_THREADS`` threads each, JSON logs, the app's access line), as ``deploy/Procfile`` runs it."""
    flask = [str(BIN / "flask"), "--app", "wsgi"]
    entries = {
        "web": [
            str(BIN / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
            "--workers", str(web_workers), "--bind", f"127.0.0.1:{web_port}", "wsgi:app",
        ],
        "scheduler": [*flask, "scheduler"],
        "listener": [*flask, "connectors", "mqtt"],
    }  # fmt: skip
    for n in range(1, rq_workers + 1):
        entries[f"worker.{n}"] = [*flask, "worker"]
    return entries


@dataclass
class Service:
    """One long-running process the bench owns, with its log, restarted when it dies unless stopping."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    supervised: bool = True
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    stopping: bool = False
    deaths: list[tuple[float, int]] = field(default_factory=list)  # (time, return code)

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def check(self) -> None:
        """Start it again if it died (the supervisor's loop calls this)."""
        if not self.supervised or self.stopping or self.process is None or self.process.poll() is None:
            return
        self.deaths.append((time.time(), self.process.returncode))
        if self.supervised:
            time.sleep(RESTART_DELAY)
            self.restarts += 1
            self.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping = True
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class Stack:
    """Redis, Mosquitto and the app's processes for one bench run, in ``folder``."""

    def __init__(
        self, folder: Path, database_url: str, web_workers: int, rq_workers: int, web_threads: int = 4
    ) -> None:
        self.folder = folder
        self.database_url = database_url
        self.redis_port, self.mqtt_port, self.web_port = free_port(), free_port(), free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.mqtt_url = f"mqtt://127.0.0.1:{self.mqtt_port}"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.web_workers, self.rq_workers, self.web_threads = web_workers, rq_workers, web_threads
        self.services: dict[str, Service] = {}
        self._watching = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- environment -------------------------------------------------------------------------------

    def app_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "MQTT_URL": self.mqtt_url,
            "MQTT_TOPICS": "zigbee2mqtt/#",
            "MQTT_CLIENT_ID": "bench-city-listener",
            "SECRET_KEY": "bench-city-secret",
            "GUNICORN_THREADS": str(self.web_threads),
            # The 300 simulated users all come from this machine's one address: the per-address sign-in
            # limit (10 a minute, against guessing) would refuse them. The limiter itself stays on.
            "RATE_LIMIT_SIGN_IN": "1000 per minute",
            "UPLOAD_FOLDER": str(self.folder / "uploads"),
            "MQTT_HEALTH_FILE": str(self.folder / "listener-health.json"),
            "PYTHONUNBUFFERED": "1",
        }

    # -- brokers -----------------------------------------------------------------------------------

    def _redis_service(self) -> Service:
        data = self.folder / "redis"
        data.mkdir(exist_ok=True)
        # Append-only file: a restart (SHUTDOWN, then start) keeps the queued jobs, as in production.
        command = [
            REDIS_SERVER, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(data),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
        ]  # fmt: skip
        return Service("redis", command, dict(os.environ), self.folder / "redis.log", supervised=False)

    def _mosquitto_service(self) -> Service:
        config = self.folder / "mosquitto.conf"
        # Persistence: the listener's persistent session and its queued QoS 1 messages survive a restart.
        # Started as root, Mosquitto runs as its own user: its folder must be writable by that user (else it
        # saves nothing, and a restart loses the listener's session and what was queued for it).
        data = self.folder / "mosquitto"
        data.mkdir(exist_ok=True)
        data.chmod(0o777)
        self.folder.chmod(self.folder.stat().st_mode | 0o011)  # a temp dir is 0700: let it pass through
        config.write_text(
            f"listener {self.mqtt_port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {data}/\nautosave_interval 5\n"
            "max_queued_messages 0\nmax_inflight_messages 0\n"
        )
        return Service(
            "mosquitto", [MOSQUITTO, "-c", str(config)], dict(os.environ), self.folder / "mosquitto.log",
            supervised=False,
        )  # fmt: skip

    def start_brokers(self) -> None:
        for service in (self._redis_service(), self._mosquitto_service()):
            self.services[service.name] = service
            service.start()
        wait_for_port(self.redis_port)
        wait_for_port(self.mqtt_port)

    def restart_broker(self, name: str, down_seconds: float = 2.0) -> float:
        """Stop the broker gracefully (Redis and Mosquitto write their data), wait, start it again; how
        long it was unreachable."""
        service = self.services[name]
        started = time.monotonic()
        service.stop()
        time.sleep(down_seconds)
        service.stopping = False
        service.start()
        wait_for_port(self.redis_port if name == "redis" else self.mqtt_port)
        return time.monotonic() - started

    # -- the app's processes -----------------------------------------------------------------------

    def start_app(self) -> None:
        env = self.app_env()
        for name, command in procfile(self.web_port, self.web_workers, self.rq_workers).items():
            service = Service(name, command, env, self.folder / f"{name}.log")
            self.services[name] = service
            service.start()
        wait_for_port(self.web_port, timeout=60)
        self._watching.set()
        self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while self._watching.is_set():
            for service in list(self.services.values()):
                service.check()
            time.sleep(0.2)

    def gunicorn_workers(self) -> list[int]:
        """The pids of the web master's worker processes."""
        import psutil  # comes with locust

        return [child.pid for child in psutil.Process(self.services["web"].pid).children()]

    def kill(self, name: str) -> int:
        """kill -9 one process of the stack (a gunicorn worker for ``web``); its pid."""
        # A web worker: gunicorn's master starts a new one by itself; the others: our supervisor does.
        pid = self.gunicorn_workers()[0] if name == "web" else self.services[name].pid
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        self._watching.clear()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        for name in [n for n in self.services if n not in ("redis", "mosquitto")]:
            self.services[name].stop()
        for name in ("mosquitto", "redis"):
            if name in self.services:
                self.services[name].stop()
