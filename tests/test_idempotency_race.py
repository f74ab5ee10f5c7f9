"""Idempotency-Key under a race: the same report sent at once by several web workers makes one case."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from app.cases.models import Case
from app.extensions import db
from tests.conftest import PASSWORD
from tests.helpers import count, ensure_catalogue
from tests.probes import deploy_bpmn_folder

REPORT = {"title": "井盖缺失", "description": "东门人行道井盖缺失", "category_code": "E0102"}


@pytest.mark.postgres
def test_the_same_key_sent_at_once_by_many_makes_one_case(make_app: Any) -> None:
    """Eight retries race (each its own connection, as separate web workers): one case; every answer is the
    first one (201, the same body) or 409 "still being processed", never a second case or a 500."""
    race = make_app("postgresql")
    with race.app_context():
        from app.auth.services import create_user, issue_token

        deploy_bpmn_folder()
        ensure_catalogue()
        token, _row = issue_token(create_user("racer", PASSWORD, "resident"))
        db.session.commit()
        db.session.remove()
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "race-1"}
    barrier = threading.Barrier(8)
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def send() -> None:
        client = race.test_client()
        with race.app_context():
            barrier.wait(timeout=30)
            response = client.post("/api/v1/cases", json=REPORT, headers=headers)
            with lock:
                answers.append((response.status_code, response.get_json()))
            db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == 8
    assert {code for code, _ in answers} <= {201, 409}, answers
    created = [body for code, body in answers if code == 201]
    assert created and all(body == created[0] for body in created)
    with race.app_context():
        assert count(Case) == 1
        db.session.remove()
        db.engine.dispose()
