"""The MQTT listener's health: what keeps it from ingesting, said in a file, in the log, and to tests.

Each dependency that fails reports a *problem* under its name and clears it when it works again:

- ``broker``: not connected to (or not subscribed on) the broker: nothing arrives;
- ``database``: the last batch could not be committed: nothing is ingested (nor acknowledged);
- ``worker``: the ingesting thread failed unexpectedly and is being started again;
- ``redis``: batches are ingested, but the jobs opening their cases wait for Redis (sent when it is back).

The state is ``ok`` (no problem), ``degraded`` (only ``redis``: ingesting, cases opened late) or ``down``
(anything else: not ingesting). The listener writes it every few seconds as JSON to the health file
(``flask connectors mqtt --health-file PATH``, env ``MQTT_HEALTH_FILE``), atomically, with ``updated_at``
(epoch seconds): a file older than a few intervals means the listener itself is stuck or gone.
``flask connectors mqtt-health`` reads it for a container health check or the stack's ``/readyz``
(exit 0: fresh and ``ok``; 1 otherwise). While not ``ok`` it logs a warning a minute naming the problems.
Needs neither Redis nor the database.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
LOG_EVERY_SECONDS = 60.0
STALE_AFTER_SECONDS = (
    30.0  # the listener writes every HEALTH_SECONDS (connectors.mqtt); this is many times that
)
NOT_INGESTING = ("broker", "database", "worker")


@dataclass
class ListenerHealth:
    path: Path | None = None
    monotonic: Callable[[], float] = time.monotonic  # injectable: the log line a minute
    wall: Callable[[], float] = time.time
    problems: dict[str, str] = field(default_factory=dict)
    since: dict[str, float] = field(default_factory=dict)  # wall time each problem started
    counters: dict[str, int] = field(default_factory=dict)  # handled, restarts, gaps…
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_log: float | None = None
    history: list[str] = field(default_factory=list)  # every state it went through, in order
    seen: set[str] = field(default_factory=set)  # every problem it had (not counting expected ones)
    _expected: set[str] = field(default_factory=set)

    def problem(self, name: str, detail: str, expected: bool = False) -> None:
        """``expected``: starting or stopping, not a failure (logged at info, no warning a minute)."""
        with self._lock:
            if name not in self.problems:
                self.since[name] = self.wall()
                log.log(logging.INFO if expected else logging.WARNING, "MQTT listener: %s: %s", name, detail)
            self.problems[name] = detail
            if expected:
                self._expected.add(name)
            else:
                self._expected.discard(name)
                self.seen.add(name)
            self._note_state()

    def clear(self, name: str) -> None:
        with self._lock:
            if self.problems.pop(name, None) is not None:
                started = self.since.pop(name, self.wall())
                level = logging.INFO if name in self._expected else logging.WARNING
                log.log(level, "MQTT listener: %s works again after %.0f s", name, self.wall() - started)
                self._expected.discard(name)
                self._note_state()

    def count(self, name: str, by: int = 1) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + by

    @property
    def state(self) -> str:
        problems = set(self.problems)
        if problems & set(NOT_INGESTING):
            return "down"
        return "degraded" if problems else "ok"

    def _note_state(self) -> None:
        state = self.state
        if not self.history or self.history[-1] != state:
            self.history.append(state)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "state": self.state,
                "ingesting": self.state != "down",
                "problems": dict(self.problems),
                "since": dict(self.since),
                "counters": dict(self.counters),
                "pid": os.getpid(),
                "updated_at": self.wall(),
            }

    def tick(self) -> dict[str, Any]:
        """Write the health file and, while not ``ok``, log a line a minute. Returns what was written."""
        snapshot = self.snapshot()
        if self.path is not None:
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(snapshot, ensure_ascii=False, sort_keys=True))
            os.replace(temporary, self.path)  # readers never see half a file
        at = self.monotonic()
        if snapshot["state"] == "ok" or set(snapshot["problems"]) <= self._expected:
            self._last_log = None
        elif self._last_log is None or at - self._last_log >= LOG_EVERY_SECONDS:
            self._last_log = at
            problems = "; ".join(f"{name}: {detail}" for name, detail in sorted(snapshot["problems"].items()))
            log.warning("MQTT listener %s (%s)", snapshot["state"], problems)
        return snapshot


def read_health(
    path: Path, max_age: float = STALE_AFTER_SECONDS, wall: Callable[[], float] = time.time
) -> tuple[bool, dict[str, Any]]:
    """What ``flask connectors mqtt-health`` checks: (ready, the file's content plus why not ready)."""
    try:
        snapshot: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return False, {"state": "unknown", "reason": f"no readable health file {path}: {exc}"}
    age = wall() - float(snapshot.get("updated_at", 0))
    if age > max_age:
        return False, {**snapshot, "reason": f"not updated for {age:.0f} s: the listener is stuck or gone"}
    return snapshot.get("state") == "ok", snapshot
