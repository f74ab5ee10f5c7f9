"""A step the process refuses after the form passed, through the task page's JSON: the field marked with the
page's words in the page language, nothing changed; and the inspection photo upload refuses a task that is
not an inspection."""

from __future__ import annotations

import io

from flask_babel import refresh

from tests.helpers import fingerprint, jpeg, open_task, report
from tests.web.pages import csrf_token, sign_in
from tests.web.seed import seed_people


def _complete(client, task_id, data, token):
    return client.post(f"/m/tasks/{task_id}/complete", json={"data": data}, headers={"X-CSRFToken": token})


def test_a_refused_step_marks_its_field_in_the_page_language(app, client):
    api, auth = seed_people(app)
    key = report(api, auth)["key"]
    triage_id = open_task(key, "triage").id
    sign_in(client, "dispatcher")
    token = csrf_token(client)
    assert client.post(f"/m/tasks/{triage_id}/claim", data={"csrf_token": token}).status_code == 302
    before = fingerprint()
    unknown = {"triage_decision": "duplicate", "duplicate_of": "GC-2026-999999"}
    answer = _complete(client, triage_id, unknown, token)
    assert answer.status_code == 422
    assert answer.get_json()["errors"] == [
        {"field": "duplicate_of", "pointer": "/duplicate_of", "message": "没有这个编号的案件。"}
    ]
    assert "no case" in answer.get_json()["details"]["duplicate_of"]  # the API's own words stay in details
    assert fingerprint() == before
    client.set_cookie("lang", "en")
    refresh()
    answer = _complete(client, triage_id, unknown, token)
    assert answer.get_json()["errors"][0]["message"] == "No case has this number."


def test_inspection_photos_only_for_an_inspection_task(app, client):
    api, auth = seed_people(app)
    key = report(api, auth)["key"]
    triage_id = open_task(key, "triage").id
    sign_in(client, "dispatcher")
    answer = client.post(
        f"/m/tasks/{triage_id}/inspection-photos",
        data={"file": (io.BytesIO(jpeg()), "p.jpg")},
        headers={"X-CSRFToken": csrf_token(client), "Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 404
