"""The grid worker's app through the test client: the manifest, the service worker's script and scope, and
the page endpoints honouring Idempotency-Key (the offline queue's retries store one photo, one completion)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cases.models import Attachment
from app.extensions import db
from app.workflow.models import HumanTask, TaskStatus
from tests.helpers import jpeg
from tests.web.pages import csrf_token, sign_in
from tests.web.seed import case_at_handle, seed_people


@pytest.fixture
def seeded(app):
    api, auth = seed_people(app)
    key, task_id = case_at_handle(api, auth)
    return {"api": api, "auth": auth, "key": key, "task_id": task_id}


def test_manifest_and_service_worker(client, seeded):
    manifest = client.get("/m/manifest.webmanifest")
    assert manifest.status_code == 200 and manifest.mimetype == "application/manifest+json"
    body = manifest.get_json()
    assert body["name"] == "网格通" and body["start_url"] == "/m/" and body["display"] == "standalone"
    assert {icon["sizes"] for icon in body["icons"]} >= {"192x192", "512x512"}
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200
    worker = client.get("/m/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Service-Worker-Allowed"] == "/m/" and "no-cache" in worker.headers["Cache-Control"]
    assert b"gridcase-m-v1" in worker.data
    # the worker pages link the manifest and carry what the service worker and the queue need
    sign_in(client, "worker")
    for path in ("/m/", f"/m/tasks/{seeded['task_id']}"):
        page = client.get(path).get_data(as_text=True)
        assert 'rel="manifest" href="/m/manifest.webmanifest"' in page
        assert 'data-sw-url="/m/sw.js"' in page and "idb-keyval/dist/umd.js" in page


def _upload(client, token, task_id, key, content):
    return client.post(
        f"/m/tasks/{task_id}/photos?kind=before",
        data={"file": (io.BytesIO(content), "before.jpg")},
        headers={"X-CSRFToken": token, "Accept": "application/json", "Idempotency-Key": key},
        content_type="multipart/form-data",
    )


def test_photo_and_completion_retried_with_their_keys_are_done_once(client, seeded):
    sign_in(client, "worker")
    token = csrf_token(client)
    task_id = seeded["task_id"]
    first = _upload(client, token, task_id, "photo-key-1", jpeg())
    again = _upload(client, token, task_id, "photo-key-1", jpeg())
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert first.get_json()["thumbnail"] is None  # not made yet: the page keeps its local picture
    assert first.get_json()["status"] == f"/api/v1/attachments/{first.get_json()['id']}"
    assert db.session.execute(select(func.count()).select_from(Attachment)).scalar_one() == 1
    # the same key for another photo is refused, nothing stored
    other = _upload(client, token, task_id, "photo-key-1", jpeg(color=(10, 200, 10)))
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["details"]
    assert db.session.execute(select(func.count()).select_from(Attachment)).scalar_one() == 1

    body = {
        "data": {
            "handle_result": "resolved",
            "handle_description": "已清运",
            "before_photos": [first.json["id"]],
        },
        "location": None,
    }
    headers = {"X-CSRFToken": token, "Idempotency-Key": "complete-key-1"}
    done = client.post(f"/m/tasks/{task_id}/complete", json=body, headers=headers)
    replay = client.post(f"/m/tasks/{task_id}/complete", json=body, headers=headers)
    assert done.status_code == replay.status_code == 200 and replay.get_json() == done.get_json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    db.session.expire_all()
    assert db.session.get(HumanTask, task_id).status == TaskStatus.COMPLETED
    completed = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "task.completed", AuditEvent.entity_id == str(task_id))
    )
    assert db.session.execute(completed).scalar_one() == 1
    # the answer leads to the next task of the case the worker now holds: 处置反馈, in the same visit
    proof = db.session.execute(
        select(HumanTask).where(HumanTask.element_id == "photo_proof", HumanTask.status == TaskStatus.CLAIMED)
    ).scalar_one()
    assert (
        done.get_json()["redirect"] == f"/m/tasks/{proof.id}" and done.get_json()["next_task_id"] == proof.id
    )


def test_a_refused_completion_leaves_its_key_free_for_the_corrected_one(client, seeded):
    sign_in(client, "worker")
    token = csrf_token(client)
    path = f"/m/tasks/{seeded['task_id']}/complete"
    headers = {"X-CSRFToken": token, "Idempotency-Key": "complete-key-2"}
    refused = client.post(path, json={"data": {"handle_result": "resolved"}}, headers=headers)
    assert refused.status_code == 422
    fixed = {"data": {"handle_result": "resolved", "handle_description": "已清运"}}
    assert client.post(path, json=fixed, headers=headers).status_code == 200
