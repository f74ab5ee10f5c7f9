"""Prometheus metrics of one process: requests by endpoint and status with their latency, engine steps,
jobs, and the figures read at scrape time (open incidents, due and late timers, waiting jobs); who may read
``/metrics``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from app import runtime
from app.extensions import db
from app.workflow import incidents, instances
from app.workflow.models import IncidentKind, ProcessInstance
from tests.conftest import PASSWORD, REDIS_URL
from tests.helpers import report, upload_photo


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _scrape(client, **kwargs) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def test_requests_are_counted_by_endpoint_and_status_with_their_latency(client, users, auth):
    ok = ("gridcase_http_requests_total", {"method": "GET", "endpoint": "/api/v1/cases", "status": "200"})
    refused = (
        "gridcase_http_requests_total",
        {"method": "GET", "endpoint": "/api/v1/cases", "status": "401"},
    )
    timed = ("gridcase_http_request_duration_seconds_count", {"method": "GET", "endpoint": "/api/v1/cases"})
    before = [_value(name, **labels) for name, labels in (ok, refused, timed)]
    for _ in range(3):
        assert client.get("/api/v1/cases", headers=auth("supervisor")).status_code == 200
    assert client.get("/api/v1/cases").status_code == 401
    after = [_value(name, **labels) for name, labels in (ok, refused, timed)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 1, 4]
    # One series per route, not per path: ids stay out of the labels.
    client.get("/api/v1/cases/GC-2026-000001", headers=auth("supervisor"))
    client.get("/api/v1/cases/GC-2026-000002", headers=auth("supervisor"))
    endpoints = {
        sample.labels["endpoint"]
        for family in REGISTRY.collect()
        if family.name == "gridcase_http_requests"
        for sample in family.samples
    }
    assert "/api/v1/cases/<key>" in endpoints
    assert not any("GC-2026" in endpoint for endpoint in endpoints)


def test_engine_steps_and_their_latency(client, users, auth, deployed):
    steps, timed = (
        _value("gridcase_engine_steps_total", outcome="ok"),
        _value("gridcase_engine_step_duration_seconds_count"),
    )
    report(client, auth)  # starts the case_handling instance: one engine run
    assert _value("gridcase_engine_steps_total", outcome="ok") == steps + 1
    assert _value("gridcase_engine_step_duration_seconds_count") == timed + 1


def test_open_incidents_and_due_and_late_timers_are_read_at_scrape(app, client, users, auth, deployed, clock):
    first, second = report(client, auth), report(client, auth)
    ids = dict(
        db.session.execute(
            select(ProcessInstance.business_key, ProcessInstance.id).where(
                ProcessInstance.business_key.in_([first["key"], second["key"]])
            )
        ).all()
    )
    instance = instances.lock_instance(ids[first["key"]])
    incidents.open_incident(instance, kind=IncidentKind.STEP, reason="no condition holds", element_id="gw")
    db.session.execute(  # a timer due 10 s ago (due, not late) and one due 5 minutes ago (late)
        update(ProcessInstance)
        .where(ProcessInstance.id == ids[second["key"]])
        .values(next_timer_at=clock.now() - timedelta(minutes=5))
    )
    db.session.commit()
    figures = _scrape(client)
    assert figures[("gridcase_incidents_open", (("kind", "step"),))] == 1
    assert figures[("gridcase_incidents_open_all", ())] == 1
    assert figures[("gridcase_instances", (("status", "error"),))] == 1
    assert figures[("gridcase_timers_due", ())] == 1
    assert figures[("gridcase_timers_late", ())] == 1
    assert figures[("gridcase_timer_oldest_due_seconds", ())] == 300
    assert figures[("gridcase_source_up", (("source", "database"),))] == 1

    incidents.resolve_incident(
        incidents.open_incident_of(instance.id), instance, resolution="resolved", actor=None
    )
    db.session.commit()
    assert _scrape(client)[("gridcase_incidents_open_all", ())] == 0


@pytest.mark.redis
def test_jobs_queued_and_waiting(make_app, redis):
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
        queued = _value("gridcase_jobs_queued_total", queue="photos")
        created = report(client, lambda _: headers)
        upload_photo(client, lambda _: headers, "resident", created["key"], kind="report")  # a thumbnail job
        assert _value("gridcase_jobs_queued_total", queue="photos") == queued + 1
        figures = _scrape(client)
        assert figures[("gridcase_jobs_waiting", (("queue", "photos"),))] == 1
        assert figures[("gridcase_jobs_failed", (("queue", "photos"),))] == 0
        assert figures[("gridcase_source_up", (("source", "redis"),))] == 1
        db.session.remove()


def test_metrics_are_refused_outside_the_allowed_networks(client, users, auth):
    outside = {"environ_base": {"REMOTE_ADDR": "10.1.2.3"}}
    response = client.get("/metrics", **outside)
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    assert "指标" in response.get_json()["message"]
    assert client.get("/metrics", headers=auth("worker"), **outside).status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer nonsense"}, **outside).status_code == 403
    _scrape(client, headers=auth("admin"), **outside)  # an admin's API token
    _scrape(client)  # this machine (the default allowed network)
    # A proxy on this machine passing a caller on: loopback is not the caller's network.
    for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}):
        assert client.get("/metrics", headers=header).status_code == 403
    _scrape(client, headers={"X-Forwarded-For": "203.0.113.9", **auth("admin")})


def test_metrics_token_and_allowed_networks_are_settings(make_app, monkeypatch):
    monkeypatch.setenv("METRICS_ALLOWED_NETWORKS", "10.0.0.0/8")
    monkeypatch.setenv("METRICS_TOKEN", "prometheus-scrape-secret")
    client = make_app("sqlite").test_client()
    _scrape(client, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.1.1"}).status_code == 403
    assert client.get("/metrics").status_code == 403  # loopback is no longer in the list
    _scrape(client, headers={"Authorization": "Bearer prometheus-scrape-secret"})


def test_admins_read_the_engine_figures_as_json(client, users, auth, deployed):
    report(client, auth)
    response = client.get("/api/v1/engine/metrics", headers=auth("admin"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["instances"] == {"running": 1}
    assert body["incidents_open"] == {} and body["timers_due"] == 0 and body["timers_late"] == 0
    assert body["jobs_waiting"] is None  # embedded mode: jobs run in-process
    for who in ("supervisor", "designer", "worker", "resident"):
        assert client.get("/api/v1/engine/metrics", headers=auth(who)).status_code == 403
    assert client.get("/api/v1/engine/metrics").status_code == 401
