"""Grid worker pages through the test client: inbox, task page, claim, hand back, photo, complete; roles,
grid scope, CSRF and refusals that change nothing."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import Attachment
from app.extensions import db
from app.workflow.models import HumanTask, TaskStatus
from tests.helpers import fingerprint, jpeg, report
from tests.web.pages import csrf_token, sign_in
from tests.web.seed import case_at_handle, seed_people


@pytest.fixture
def seeded(app):
    api, auth = seed_people(app)
    key, task_id = case_at_handle(api, auth)
    return {"api": api, "auth": auth, "key": key, "task_id": task_id}


def _json_post(client, path, body, token):
    return client.post(path, json=body, headers={"X-CSRFToken": token})


def test_inbox_shows_own_and_claimable_tasks_by_severity_with_time_left(client, seeded):
    red = report(seeded["api"], seeded["auth"], severity="red", title="井盖缺失")
    seeded["api"].post(f"/api/v1/tasks/{seeded['task_id']}/unclaim", headers=seeded["auth"]("worker"))
    sign_in(client, "worker")
    # the red one is still in triage: only the yellow handle task is the worker's
    page = client.get("/m/").get_data(as_text=True)
    assert f'data-task-id="{seeded["task_id"]}"' in page and red["key"] not in page
    assert "剩余" in page and "认领" in page
    assert client.get("/m/?scope=mine").get_data(as_text=True).count("task-row") == 0
    assert client.get("/m/?scope=claimable").get_data(as_text=True).count('class="card task-row"') == 1
    assert client.get("/m/?scope=bogus&page=0").status_code == 200


def test_inbox_orders_orange_before_yellow(client, seeded):
    _other, other_task = case_at_handle(seeded["api"], seeded["auth"], severity="orange", title="井盖缺失")
    sign_in(client, "worker")
    page = client.get("/m/").get_data(as_text=True)
    assert page.index(f'data-task-id="{other_task}"') < page.index(f'data-task-id="{seeded["task_id"]}"')


@pytest.mark.parametrize("username", ["resident", "designer"])
def test_roles_without_tasks_get_403(client, seeded, username):
    sign_in(client, username)
    assert client.get("/m/").status_code == 403
    assert client.get(f"/m/tasks/{seeded['task_id']}").status_code == 403


def test_anonymous_is_sent_to_sign_in(client, seeded):
    response = client.get(f"/m/tasks/{seeded['task_id']}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_task_page_shows_case_map_photos_and_form(client, seeded):
    photo = (
        seeded["api"]
        .post(
            f"/api/v1/cases/{seeded['key']}/attachments?kind=report",
            data={"file": (io.BytesIO(jpeg()), "p.jpg")},
            headers=seeded["auth"]("resident"),
            content_type="multipart/form-data",
        )
        .get_json()
    )
    sign_in(client, "worker")
    response = client.get(f"/m/tasks/{seeded['task_id']}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert seeded["key"] in page and 'id="case-map"' in page and 'data-lat="30.7589"' in page
    assert f"/api/v1/attachments/{photo['id']}/content?thumbnail=1" in page
    # the form is drawn by task_form.js from the fields the server lists: every property, in zh-CN
    assert 'id="task-form"' in page and "/static/js/task_form.js" in page
    form = json.loads(html.unescape(re.search(r"data-form='([^']*)'", page).group(1)))
    labels = {field["name"]: field["label"] for field in form["fields"]}
    assert labels == {
        "handle_result": "处置结果",
        "handle_description": "处置情况说明",
        "beyond_means_reason": "超出处置能力的理由",
        "before_photos": "处置前照片",
    }
    assert "resident" not in page.split("<main", 1)[1]  # no reporter's name on the page
    # no json-editor any more: no inline style attributes allowed on the task page
    assert "style-src-attr 'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "<script>" not in page


def test_a_worker_of_another_grid_sees_neither_task_nor_case(client, seeded):
    seeded["api"].post(f"/api/v1/tasks/{seeded['task_id']}/unclaim", headers=seeded["auth"]("worker"))
    sign_in(client, "worker_west")
    assert f'data-task-id="{seeded["task_id"]}"' not in client.get("/m/").get_data(as_text=True)
    missing = client.get("/m/tasks/999999")
    hidden = client.get(f"/m/tasks/{seeded['task_id']}")
    assert hidden.status_code == missing.status_code == 404
    before = fingerprint()
    token = csrf_token(client)
    assert client.post(f"/m/tasks/{seeded['task_id']}/claim", data={"csrf_token": token}).status_code == 404
    assert fingerprint() == before


def test_claim_needs_csrf_and_then_claims(client, seeded):
    task_id = seeded["task_id"]
    seeded["api"].post(f"/api/v1/tasks/{task_id}/unclaim", headers=seeded["auth"]("worker"))
    sign_in(client, "worker")
    before = fingerprint()
    assert client.post(f"/m/tasks/{task_id}/claim").status_code == 400
    assert fingerprint() == before
    response = client.post(f"/m/tasks/{task_id}/claim", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"] == f"/m/tasks/{task_id}"
    db.session.expire_all()
    task = db.session.get(HumanTask, task_id)
    assert task.status == TaskStatus.CLAIMED
    claims = db.session.execute(select(AuditEvent).where(AuditEvent.action == "task.claimed")).scalars().all()
    assert any(event.entity_id == str(task_id) for event in claims)


def test_hand_back_returns_the_task_to_the_pool(client, seeded):
    sign_in(client, "worker")
    token = csrf_token(client)
    response = client.post(f"/m/tasks/{seeded['task_id']}/release", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/m/"
    db.session.expire_all()
    task = db.session.get(HumanTask, seeded["task_id"])
    assert (task.status, task.assignee_id, task.candidate_user) == (TaskStatus.READY, None, None)
    # handing back twice is a conflict, shown as a page
    again = client.post(f"/m/tasks/{seeded['task_id']}/release", data={"csrf_token": token})
    assert again.status_code == 409 and "<html" in again.get_data(as_text=True)


def test_complete_refuses_bad_form_data_naming_the_fields_and_changes_nothing(client, seeded):
    sign_in(client, "worker")
    token = csrf_token(client)
    path = f"/m/tasks/{seeded['task_id']}/complete"
    before = fingerprint()
    response = _json_post(client, path, {"data": {"handle_result": "beyond_means"}}, token)
    assert response.status_code == 422
    details = response.get_json()["details"]
    assert set(details) == {"handle_description", "beyond_means_reason"}
    response = _json_post(
        client,
        path,
        {
            "data": {"handle_result": "resolved", "handle_description": "ok"},
            "location": {"lat": 95, "lon": 1},
        },
        token,
    )
    assert response.status_code == 422 and "location.lat" in response.get_json()["details"]
    assert client.post(path, json={"data": {}}).status_code == 400  # no CSRF token
    assert fingerprint() == before


def test_complete_with_photo_and_location(client, seeded):
    sign_in(client, "worker")
    token = csrf_token(client)
    task_id = seeded["task_id"]
    bad = client.post(
        f"/m/tasks/{task_id}/photos?kind=before",
        data={"file": (io.BytesIO(b"not an image"), "x.jpg")},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 415 and "file" in bad.get_json()["details"]
    uploaded = client.post(
        f"/m/tasks/{task_id}/photos?kind=before",
        data={"file": (io.BytesIO(jpeg()), "before.jpg")},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201
    photo_id = uploaded.get_json()["id"]
    assert db.session.get(Attachment, photo_id).kind == "before"
    body = {
        "data": {"handle_result": "resolved", "handle_description": "已清运", "before_photos": [photo_id]},
        "location": {"lat": 30.7589, "lon": 103.9718, "accuracy": 12},
    }
    response = _json_post(client, f"/m/tasks/{task_id}/complete", body, token)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["case_status"] == "feedback"
    db.session.expire_all()
    assert db.session.get(HumanTask, task_id).status == TaskStatus.COMPLETED
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "task.location")).scalar_one()
    assert event.data["location"] == {"lat": 30.7589, "lon": 103.9718, "accuracy": 12.0}
    # the next task (photo proof) is the worker's, and the page offers the after-photo camera input
    proof = db.session.execute(
        select(HumanTask).where(HumanTask.element_id == "photo_proof", HumanTask.status.in_(TaskStatus.OPEN))
    ).scalar_one()
    page = client.get(f"/m/tasks/{proof.id}").get_data(as_text=True)
    assert '&#34;upload_kind&#34;: &#34;after&#34;' in page or '"upload_kind": "after"' in page


def test_inbox_in_english(client, seeded):
    sign_in(client, "worker")
    client.get("/lang/en")
    page = client.get("/m/").get_data(as_text=True)
    assert "Tasks" in page and "left" in page and "Yellow" in page


def test_refused_completion_lists_pointers_with_messages_in_the_users_language(client, seeded):
    sign_in(client, "worker")
    path = f"/m/tasks/{seeded['task_id']}/complete"
    data = {"handle_result": "beyond_means", "handle_description": " ", "before_photos": [999999]}
    before = fingerprint()
    refused = _json_post(client, path, {"data": data}, csrf_token(client))
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["message"] == "请修改标出的内容。"
    assert body["errors"] == [
        {"field": "before_photos.0", "pointer": "/before_photos/0", "message": "该照片不属于本案件"},
        {"field": "beyond_means_reason", "pointer": "/beyond_means_reason", "message": "此项必填"},
        {"field": "handle_description", "pointer": "/handle_description", "message": "至少 2 个字"},
        {"field": "handle_description", "pointer": "/handle_description", "message": "不能只填空白"},
    ]
    assert body["details"]["beyond_means_reason"] == "此项必填"
    client.get("/lang/en")
    english = _json_post(client, path, {"data": data}, csrf_token(client)).get_json()
    assert [e["message"] for e in english["errors"]][1:] == [
        "this field is required",
        "must be at least 2 characters long",
        "must not be blank",
    ]
    assert fingerprint() == before
    # the API answers as it always has: English, by dotted field
    api = seeded["api"].post(
        f"/api/v1/tasks/{seeded['task_id']}/complete", json={"data": data}, headers=seeded["auth"]("worker")
    )
    assert api.status_code == 422
    assert api.get_json()["details"]["beyond_means_reason"] == "this field is required"
