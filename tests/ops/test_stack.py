"""``make stack``: on a fresh database it starts every process (gunicorn with two workers, an RQ worker,
the scheduler, the MQTT listener and its Mosquitto), ``/readyz`` answers 200, a request's id reaches the
job it queued in the worker's log, one scrape shows the web's and the worker's counts, and SIGTERM stops
everything cleanly within a bound."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from app.config import PROJECT_ROOT
from tests.conftest import POSTGRES_URL, REDIS_URL, _free_port, postgres_available
from tests.helpers import jpeg
from tests.ops.servers import VENV_BIN, get, send_file, send_json, start, stop, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

STOP_BOUND_SECONDS = 45  # STACK_STOP_TIMEOUT (30) plus the launcher's own exit


def _fresh_database() -> str:
    """``<test database>_stack``, dropped so that the stack creates and migrates it."""
    parts = urlsplit(POSTGRES_URL)
    name = parts.path.lstrip("/") + "_stack"
    admin = create_engine(
        urlunsplit(parts._replace(scheme="postgresql+psycopg", path="/postgres")),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    return urlunsplit(parts._replace(path=f"/{name}"))


def _stack_command() -> str:
    dry_run = subprocess.run(
        ["make", "-n", "-s", "stack"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    [command] = [line for line in dry_run.stdout.splitlines() if "deploy/stack.py" in line]
    return command  # what `make stack` runs once set up


def _json_lines(log: str, process: str) -> list[dict]:
    """The JSON log lines of one process of the stack (honcho prefixes each line with its name)."""
    entries = []
    for line in log.splitlines():
        match = re.match(rf"^\S+ {re.escape(process)}\s*\| (\{{.*\}})$", line)
        if match:
            entries.append(json.loads(match.group(1)))
    return entries


def test_make_stack_starts_every_process_serves_and_stops_cleanly(redis, tmp_path: Path):
    postgres_available()
    database_url = _fresh_database()
    port, broker_port = _free_port(), _free_port()
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "STACK_PORT": str(port),
        "STACK_MQTT_PORT": str(broker_port),
        "STACK_DIR": str(tmp_path / "stack"),
        "STACK_WEB_WORKERS": "2",
        "STACK_RQ_WORKERS": "1",
        "STACK_STOP_TIMEOUT": "30",
        "SECRET_KEY": "",  # the launcher makes one key for every web worker
        "MQTT_URL": "",
    }
    log = tmp_path / "stack.log"
    stack = start(_stack_command(), env, log, shell=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/readyz", stack, log, 240)
        status, body = get(f"{base}/readyz")
        checks = json.loads(body)["checks"]
        assert status == 200 and set(checks) == {"database", "redis", "broker", "listener"}
        assert all(check["ok"] for check in checks.values())

        # A resident reports and sends a photo: the thumbnail job runs in the RQ worker process.
        subprocess.run(
            [
                str(VENV_BIN / "flask"),
                "--app",
                "app",
                "create-user",
                "resident1",
                "--role",
                "resident",
                "--password",
                "stack-resident-9271",
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": "cli"},
            check=True,
            capture_output=True,
        )
        code, answer, _ = send_json(
            "POST", f"{base}/api/v1/tokens", {"username": "resident1", "password": "stack-resident-9271"}
        )
        assert code == 201, answer
        bearer = {"Authorization": f"Bearer {answer['token']}"}
        code, case, _ = send_json(
            "POST",
            f"{base}/api/v1/cases",
            {"title": "垃圾满溢", "category_code": "E0102", "severity": "yellow"},
            bearer,
        )
        assert code == 201, case
        code, photo, headers = send_file(
            f"{base}/api/v1/cases/{case['key']}/attachments?kind=report",
            "photo.jpg",
            jpeg(),
            {**bearer, "X-Request-ID": "stack-photo-1"},
        )
        assert code == 201, photo
        assert headers["X-Request-ID"] == "stack-photo-1"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            jobs = [e for e in _json_lines(log.read_text(), "worker.1") if e.get("job")]
            if jobs:
                break
            time.sleep(0.5)
        assert [(e["job"], e["outcome"], e["request_id"]) for e in jobs] == [
            ("app.cases.jobs.make_thumbnail", "ok", "stack-photo-1")
        ]
        web = [e for e in _json_lines(log.read_text(), "web.1") if e.get("request_id") == "stack-photo-1"]
        assert [(e["logger"], e["status"], e["user"]) for e in web] == [("gridcase.access", 201, "resident1")]

        # One scrape of the web port: the web workers' counts and the RQ worker's, from the shared folder.
        status, body = get(f"{base}/metrics")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }
        assert (
            samples[
                ("gridcase_jobs_run_total", (("job", "app.cases.jobs.make_thumbnail"), ("outcome", "ok")))
            ]
            == 1
        )
        assert samples[("gridcase_engine_steps_total", (("outcome", "ok"),))] >= 1
        assert samples[("gridcase_source_up", (("source", "redis"),))] == 1
    finally:
        took = stop(stack, seconds=STOP_BOUND_SECONDS)
    output = log.read_text()
    assert stack.returncode == 0, output[-3000:]
    assert took < STOP_BOUND_SECONDS
    for process in ("web.1", "worker.1", "scheduler.1", "listener.1", "broker.1"):
        assert f"{process} stopped (rc=0)" in output, output[-3000:]
    assert "SIGKILL" not in output
    with pytest.raises(OSError):
        get(f"{base}/healthz", timeout=2)
