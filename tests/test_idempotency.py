"""Idempotency-Key on reports (API and the resident's page), task completions and photo uploads: a retry
with the same key and body gets the first answer and creates nothing more (rows counted); the same key with
another body is refused; a refused input leaves the key free; keys are per user and expire."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import Attachment, Case
from app.idempotency import IdempotencyKey
from app.workflow.models import HumanTask
from tests.factories import app_on_both_backends
from tests.helpers import count, ensure_catalogue, jpeg, open_task, report
from tests.web.pages import PageClient, csrf_token, sign_in

app = app_on_both_backends

REPORT = {"title": "井盖缺失", "description": "东门人行道井盖缺失", "category_code": "E0102"}


@pytest.fixture(autouse=True)
def _ready(deployed: None, users: dict[str, Any]) -> None:
    ensure_catalogue()


def _post_report(
    client: Any, auth: Any, key: str | None, body: dict[str, Any] = REPORT, who: str = "resident"
):
    headers = {**auth(who), **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/v1/cases", json=body, headers=headers)


def test_a_retried_report_returns_the_first_answer_and_makes_one_case(client: Any, auth: Any) -> None:
    first = _post_report(client, auth, "report-7f3a")
    assert first.status_code == 201
    retry = _post_report(client, auth, "report-7f3a")
    assert retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(Case) == 1
    assert count(AuditEvent, AuditEvent.action == "case.reported") == 1

    # Without a key, every request is a new one.
    assert _post_report(client, auth, None).status_code == 201
    assert _post_report(client, auth, None).status_code == 201
    assert count(Case) == 3


def test_the_same_key_with_another_body_is_refused(client: Any, auth: Any) -> None:
    assert _post_report(client, auth, "k-1").status_code == 201
    other = _post_report(client, auth, "k-1", {**REPORT, "title": "另一个问题"})
    assert other.status_code == 422
    assert other.get_json()["details"] == {"Idempotency-Key": "used for a different request"}
    assert count(Case) == 1


def test_keys_are_per_user_and_a_malformed_key_is_refused(client: Any, auth: Any) -> None:
    assert _post_report(client, auth, "shared-key").status_code == 201
    assert _post_report(client, auth, "shared-key", who="worker").status_code == 201  # worker's own key
    assert count(Case) == 2
    bad = _post_report(client, auth, "has space")
    assert bad.status_code == 422 and "Idempotency-Key" in bad.get_json()["details"]
    assert _post_report(client, auth, "x" * 256).status_code == 422
    assert count(Case) == 2


def test_a_refused_input_leaves_the_key_free(client: Any, auth: Any) -> None:
    refused = _post_report(client, auth, "k-2", {"description": "no title"})
    assert refused.status_code == 422
    assert count(IdempotencyKey) == 0
    corrected = _post_report(client, auth, "k-2", {**REPORT, "description": "no title"})
    assert corrected.status_code == 201
    assert count(Case) == 1


def test_keys_expire(client: Any, auth: Any, app: Any) -> None:
    assert _post_report(client, auth, "k-3").status_code == 201
    clock = app.extensions["gridcase.clock"]
    clock.advance(timedelta(hours=25))  # IDEMPOTENCY_HOURS is 24 by default
    again = _post_report(client, auth, "k-3")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert count(Case) == 2
    assert count(IdempotencyKey) == 1  # the expired one was replaced


def test_a_retried_completion_is_recorded_once(client: Any, auth: Any) -> None:
    key = report(client, auth)["key"]
    task_id = open_task(key, "triage").id
    headers = {**auth("dispatcher"), "Idempotency-Key": "triage-1"}
    body = {"data": {"triage_decision": "accept"}}
    first = client.post(f"/api/v1/tasks/{task_id}/complete", json=body, headers=headers)
    assert first.status_code == 200, first.get_json()
    retry = client.post(f"/api/v1/tasks/{task_id}/complete", json=body, headers=headers)
    assert retry.status_code == 200
    assert retry.get_json() == first.get_json()
    assert count(AuditEvent, AuditEvent.action == "task.completed") == 1
    assert count(HumanTask, HumanTask.element_id == "dispatch") == 1
    # Without the key the retry is a second completion: refused, the task is done.
    assert (
        client.post(f"/api/v1/tasks/{task_id}/complete", json=body, headers=auth("dispatcher")).status_code
        == 409
    )


def test_a_retried_photo_upload_stores_one_photo(client: Any, auth: Any) -> None:
    key = report(client, auth)["key"]
    content = jpeg()

    def upload() -> Any:
        return client.post(
            f"/api/v1/cases/{key}/attachments?kind=report",
            data={"file": (io.BytesIO(content), "photo.jpg")},  # a new multipart boundary each time
            headers={**auth("resident"), "Idempotency-Key": "photo-1"},
            content_type="multipart/form-data",
        )

    first, retry = upload(), upload()
    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert count(Attachment) == 1


def test_the_resident_page_makes_one_case_from_a_form_sent_twice(app: Any, users: dict[str, Any]) -> None:
    app.test_client_class = PageClient
    client = app.test_client()
    sign_in(client, "resident")
    page = client.get("/r/report").get_data(as_text=True)
    marker = 'name="idempotency_key" value="'
    form_key = page.split(marker, 1)[1].split('"', 1)[0]
    assert len(form_key) == 32
    form = {
        "csrf_token": csrf_token(client, "/r/report"),
        "idempotency_key": form_key,
        "description": "楼道灯坏了",
        "category_code": "E0102",
    }
    first = client.post("/r/report", data=form)
    second = client.post("/r/report", data=form)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count(Case) == 1
    key = first.headers["Location"].split("/r/cases/")[1].split("/")[0]
    assert select(Case.key).where(Case.key == key) is not None

