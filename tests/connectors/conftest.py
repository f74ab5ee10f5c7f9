"""Connector fixtures: apps listening to one test's own topics on the session's Mosquitto."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask

from app.extensions import db
from tests.probes import deploy_bpmn_folder


@pytest.fixture
def run_id() -> str:
    """This test's own topic prefix and device ids: the broker is shared by the whole session."""
    return uuid.uuid4().hex[:8]


@contextmanager
def broker_app(make_app: Any, mosquitto_url: str, run_id: str, client_id: str) -> Iterator[Flask]:
    """A SQLite app subscribed to ``zigbee2mqtt/<run_id>/#`` on the test broker as ``client_id``, with
    bpmn/ deployed and its context pushed."""
    app: Flask = make_app(
        "sqlite",
        mqtt_url=mosquitto_url,
        mqtt_topics=(f"zigbee2mqtt/{run_id}/#",),
        mqtt_client_id=client_id,
    )
    with app.app_context():
        deploy_bpmn_folder()
        yield app
        db.session.remove()
