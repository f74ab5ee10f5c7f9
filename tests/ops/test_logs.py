"""JSON logs: one object per line with time, level, logger, message, request_id and user; the request id is
the caller's ``X-Request-ID`` (or a new one), returned in the response, and carried into the jobs the
request queues, whose log lines in the worker carry it too."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from rq import Queue

from app import logs, runtime
from app.extensions import db
from app.worker import run_worker
from tests.conftest import PASSWORD, REDIS_URL
from tests.helpers import report, upload_photo


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the JSON handler writes, as the processes write it to stderr."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield out
    root.removeHandler(handler)


def _entries(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]  # every line is one JSON object


def test_the_callers_request_id_is_logged_and_returned(client, users, auth, log_lines):
    headers = {**auth("supervisor"), "X-Request-ID": "req-7f3a.42"}
    response = client.get("/api/v1/cases", headers=headers)
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-7f3a.42"
    access = [
        e for e in _entries(log_lines) if e["logger"] == "gridcase.access" and e["path"] == "/api/v1/cases"
    ]
    assert len(access) == 1
    entry = access[0]
    assert set(entry) >= {"time", "level", "logger", "message", "request_id", "user"}
    assert entry["request_id"] == "req-7f3a.42"
    assert entry["user"] == "supervisor"
    assert entry["level"] == "INFO" and entry["message"] == "GET /api/v1/cases 200"
    assert entry["status"] == 200 and entry["endpoint"] == "/api/v1/cases"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", entry["time"])


def test_a_request_without_an_acceptable_id_gets_a_new_one(client, log_lines):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    replaced = client.get("/healthz", headers={"X-Request-ID": "has spaces\tand tabs"}).headers[
        "X-Request-ID"
    ]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced) and replaced != generated
    too_long = client.get("/healthz", headers={"X-Request-ID": "x" * 129}).headers["X-Request-ID"]
    assert too_long != "x" * 129
    ids = [e["request_id"] for e in _entries(log_lines) if e["logger"] == "gridcase.access"]
    assert ids == [generated, replaced, too_long]
    assert all(e["user"] is None for e in _entries(log_lines))


@pytest.mark.redis
def test_the_request_id_travels_into_the_job_it_queued(make_app, redis, log_lines):
    from app.auth.services import create_user
    from app.workflow import deploy

    app = make_app("sqlite", redis_url=REDIS_URL)
    with app.app_context():
        create_user("resident", PASSWORD, "resident", None, None)
        deploy.deploy_folder(runtime.settings().bpmn_folder, runtime.deploy_rules())
        db.session.commit()
        client = app.test_client()
        token = client.post("/api/v1/tokens", json={"username": "resident", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
        created = report(client, lambda _: headers)
        tagged = {**headers, "X-Request-ID": "upload-5e1d"}
        upload_photo(
            client, lambda _: tagged, "resident", created["key"], kind="report"
        )  # queues a thumbnail
        [job] = Queue("photos", connection=runtime.redis()).get_jobs()
        assert job.meta["request_id"] == "upload-5e1d"
        db.session.remove()
    run_worker(app, ["photos"], burst=True)

    entries = _entries(log_lines)
    web = [e for e in entries if e["logger"] == "gridcase.access" and e["request_id"] == "upload-5e1d"]
    assert [e["path"] for e in web] == [f"/api/v1/cases/{created['key']}/attachments"]
    worker = [e for e in entries if e["logger"] == "app.jobs.running" and e["request_id"] == "upload-5e1d"]
    assert len(worker) == 1
    assert worker[0]["job"] == "app.cases.jobs.make_thumbnail" and worker[0]["outcome"] == "ok"
