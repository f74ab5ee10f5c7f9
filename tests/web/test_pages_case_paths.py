"""The page pieces the walk of case_handling needed, through the test client: the resident's 撤销上报 (the
same service as the API's withdraw: confirmed, with a reason, refused once triaged, someone else's case
answered like an unknown one, CSRF required), the dispatch page's proposal by name and pre-selected, and
the triage page's duplicate picker."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import update

from app.auth.models import User
from app.extensions import db
from app.workflow.models import TaskStatus
from tests.helpers import case_events, case_row, complete, open_ids, open_task, report
from tests.web.pages import csrf_token, sign_in
from tests.web.seed import seed_people


@pytest.fixture
def seeded(app):
    api, auth = seed_people(app)
    db.session.execute(update(User).where(User.username == "worker").values(display_name="张伟"))
    db.session.commit()
    return {"api": api, "auth": auth}


def _withdraw(client, key, **form):
    token = csrf_token(client, f"/r/track?key={key}")
    return client.post(f"/r/cases/{key}/withdraw", data={"csrf_token": token, **form})


def test_resident_withdraws_a_report_awaiting_triage(client, seeded):
    key = report(seeded["api"], seeded["auth"])["key"]
    sign_in(client, "resident")
    page = client.get(f"/r/track?key={key}").get_data(as_text=True)
    assert 'id="withdraw"' in page and "撤销上报" in page
    response = _withdraw(client, key, reason="问题已经解决", confirm="yes")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/r/track?key={key}")
    case = case_row(key)
    assert case.status == "withdrawn" and open_ids(key) == []
    [message] = case_events(key, "message.correlated")
    assert message.data["message"] == "report_withdrawn"
    after = client.get(f"/r/track?key={key}").get_data(as_text=True)
    assert f"您的上报 {key} 已撤销。" in after and 'id="withdraw"' not in after


def test_withdrawal_needs_the_confirmation_and_a_reason(client, seeded):
    key = report(seeded["api"], seeded["auth"])["key"]
    sign_in(client, "resident")
    unconfirmed = _withdraw(client, key, reason="问题已经解决")
    assert unconfirmed.status_code == 422
    assert "请勾选确认撤销本次上报。" in unconfirmed.get_data(as_text=True)
    short = _withdraw(client, key, reason=" 好 ", confirm="yes")
    assert short.status_code == 422 and "请用 2 至 500 个字说明撤销原因。" in short.get_data(as_text=True)
    assert "好" in short.get_data(as_text=True)  # what was typed stays in the form
    no_csrf = client.post(f"/r/cases/{key}/withdraw", data={"reason": "问题已经解决", "confirm": "yes"})
    assert no_csrf.status_code == 400
    assert case_row(key).status == "triage" and open_ids(key) == ["triage"]


def test_withdrawal_is_refused_once_triaged(client, seeded):
    key = report(seeded["api"], seeded["auth"])["key"]
    complete(seeded["api"], seeded["auth"], "dispatcher", key, "triage", {"triage_decision": "accept"})
    sign_in(client, "resident")
    assert 'id="withdraw"' not in client.get(f"/r/track?key={key}").get_data(as_text=True)
    response = _withdraw(client, key, reason="问题已经解决", confirm="yes")
    assert response.status_code == 409
    assert "该上报已受理,不能再撤销。" in response.get_data(as_text=True)
    assert case_row(key).status == "dispatching" and open_ids(key) == ["dispatch"]


def test_someone_elses_report_cannot_be_withdrawn(client, seeded):
    key = report(seeded["api"], seeded["auth"])["key"]
    sign_in(client, "resident2")
    hidden = _withdraw(client, key, reason="不是我的", confirm="yes")
    unknown = _withdraw(client, "GC-2026-999999", reason="不是我的", confirm="yes")
    assert hidden.status_code == unknown.status_code == 404
    assert case_row(key).status == "triage"


def _form_of(page: str) -> tuple[dict, dict]:
    form = re.search(r"data-form='([^']*)'", page)
    values = re.search(r"data-values='([^']*)'", page)
    assert form and values
    unescape = lambda text: text.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")  # noqa: E731
    return json.loads(unescape(form.group(1))), json.loads(unescape(values.group(1)))


def test_dispatch_page_names_the_proposal_and_preselects_it(client, seeded):
    key = report(seeded["api"], seeded["auth"])["key"]
    complete(seeded["api"], seeded["auth"], "dispatcher", key, "triage", {"triage_decision": "accept"})
    task = open_task(key, "dispatch")
    sign_in(client, "dispatcher")
    client.post(f"/m/tasks/{task.id}/claim", data={"csrf_token": csrf_token(client, "/m/")})
    page = client.get(f"/m/tasks/{task.id}").get_data(as_text=True)
    assert '<strong id="proposal-name">张伟</strong>' in page
    assert "第2网格唯一人选:0 项待办" in page
    _form, values = _form_of(page)
    assert values == {"handler_user": "worker"}
    assert open_task(key, "dispatch").status == TaskStatus.CLAIMED


def test_triage_page_offers_recent_cases_as_the_original(client, seeded):
    api, auth = seeded["api"], seeded["auth"]
    original = report(api, auth, title="北门垃圾")["key"]
    far = report(api, auth, title="西边垃圾", lat=30.75, lon=103.92)["key"]
    other_kind = report(api, auth, title="路灯不亮", category_code="E0301")["key"]
    rejected = report(api, auth, title="被拒的")["key"]
    complete(
        api, auth, "dispatcher", rejected, "triage", {"triage_decision": "reject", "reject_reason": "不受理"}
    )
    new = report(api, auth, title="又报北门垃圾")["key"]
    task = open_task(new, "triage")
    sign_in(client, "dispatcher")
    client.post(f"/m/tasks/{task.id}/claim", data={"csrf_token": csrf_token(client, "/m/")})
    form, _values = _form_of(client.get(f"/m/tasks/{task.id}").get_data(as_text=True))
    [field] = [f for f in form["fields"] if f["name"] == "duplicate_of"]
    offered = [s["value"] for s in field["suggestions"]]
    # the same category first, nearest first; a rejected report and the case itself are no original
    assert offered == [original, far, other_kind]
    assert field["suggestions"][0]["label"].startswith(f"{original} · 北门垃圾 · 锦绣花园北门 · 0 米")


def test_the_new_pieces_speak_english_by_the_switch(client, seeded):
    key = report(seeded["api"], seeded["auth"])["key"]
    complete(seeded["api"], seeded["auth"], "dispatcher", key, "triage", {"triage_decision": "accept"})
    other = report(seeded["api"], seeded["auth"])["key"]
    client.set_cookie("lang", "en")
    sign_in(client, "resident")
    track = client.get(f"/r/track?key={other}").get_data(as_text=True)
    assert "Withdraw this report" in track and f"Yes, withdraw report {other}" in track
    dispatcher = client.application.test_client()
    dispatcher.set_cookie("lang", "en")
    sign_in(dispatcher, "dispatcher")
    task = open_task(key, "dispatch")
    dispatcher.post(f"/m/tasks/{task.id}/claim", data={"csrf_token": csrf_token(dispatcher, "/m/")})
    page = dispatcher.get(f"/m/tasks/{task.id}").get_data(as_text=True)
    assert "Proposed handler" in page and "Only candidate on 第2网格: 0 open tasks" in page
    assert "系统推荐" not in page
