"""The MQTT listener's health: states from problems, the health file, a log line a minute while not ok,
and ``flask connectors mqtt-health`` for a container health check or the stack's readiness."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from connectors.listener_health import ListenerHealth, read_health


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_problems_make_the_state_and_the_file_and_a_warning_a_minute(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Alembic's logging.fileConfig (the migrations of other tests) disables loggers that existed before it.
    monkeypatch.setattr(logging.getLogger("connectors.listener_health"), "disabled", False)
    clock = FakeTime()
    path = tmp_path / "health.json"
    health = ListenerHealth(path=path, monotonic=clock, wall=clock)
    assert health.tick()["state"] == "ok" and json.loads(path.read_text())["ingesting"] is True

    caplog.set_level(logging.WARNING, logger="connectors.listener_health")
    health.problem("redis", "3 jobs (case openings) wait for Redis")
    assert health.state == "degraded"
    health.problem("database", "12 messages wait: connection refused")
    assert health.state == "down"
    caplog.clear()
    written = health.tick()
    assert written["state"] == "down" and written["ingesting"] is False
    assert set(written["problems"]) == {"redis", "database"} and written["updated_at"] == clock.now
    assert json.loads(path.read_text()) == written
    assert len(caplog.records) == 1 and "database: 12 messages wait" in caplog.text

    clock.now += 59
    health.tick()
    assert len(caplog.records) == 1  # not more than a line a minute
    clock.now += 1
    health.tick()
    assert len(caplog.records) == 2

    health.clear("database")
    health.clear("redis")
    assert health.tick()["state"] == "ok"
    assert health.history == ["degraded", "down", "degraded", "ok"]
    assert health.seen == {"redis", "database"}

    caplog.clear()
    health.problem("worker", "stopped", expected=True)  # starting or stopping: down, but no warning
    assert health.tick()["state"] == "down"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert health.seen == {"redis", "database"}


def test_read_health_is_ready_only_when_fresh_and_ok(tmp_path: Path) -> None:
    clock = FakeTime()
    path = tmp_path / "health.json"
    assert read_health(path, wall=clock)[0] is False  # no file: not ready
    health = ListenerHealth(path=path, wall=clock)
    health.tick()
    assert read_health(path, wall=clock)[0] is True
    clock.now += 31
    ready, snapshot = read_health(path, max_age=30, wall=clock)
    assert not ready and "stuck or gone" in snapshot["reason"]
    health.problem("broker", "disconnected")
    health.tick()
    assert read_health(path, wall=clock)[0] is False


def test_the_mqtt_health_command_exits_0_only_for_a_healthy_listener(make_app: Any, tmp_path: Path) -> None:
    app: Flask = make_app("sqlite")
    path = tmp_path / "health.json"
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["connectors", "mqtt-health", "--health-file", str(path)])
    assert missing.exit_code == 1 and "no readable health file" in missing.output
    health = ListenerHealth(path=path)
    health.tick()
    ok = runner.invoke(args=["connectors", "mqtt-health", "--health-file", str(path)])
    assert ok.exit_code == 0 and json.loads(ok.output)["state"] == "ok"
    health.problem("database", "connection refused")
    health.tick()
    down = runner.invoke(args=["connectors", "mqtt-health"], env={"MQTT_HEALTH_FILE": str(path)})
    assert down.exit_code == 1 and json.loads(down.output)["problems"] == {"database": "connection refused"}
