"""The case page's supervisor actions and the review panel, server side (Flask test client): only
supervisors and admins of the case's grid see and use the actions (others: no panel, 404 on posting);
refused input answers 422 with the reason next to the field and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from tests.cases.territory import DISTRICT, EAST_GRID, WEST_GRID, assign, build_territory
from tests.factories import create_case
from tests.helpers import case_events, fingerprint
from tests.web.pages import PageClient, csrf_token, sign_in


@pytest.fixture
def placed(users: dict[str, Any], create_user: Any, auth: Any) -> None:
    build_territory()
    create_user("supervisor", "supervisor_west")
    for username, grid in [
        ("worker", EAST_GRID),
        ("worker2", EAST_GRID),
        ("dispatcher", DISTRICT),
        ("supervisor", DISTRICT),
        ("supervisor_west", WEST_GRID),
    ]:
        assign(username, grid)
    db.session.commit()
    for username in [*users, "supervisor_west"]:
        auth(username)


pytestmark = pytest.mark.usefixtures("users", "placed", "deployed")


def _client(app: Flask, username: str) -> FlaskClient:
    app.test_client_class = PageClient
    client = app.test_client()
    sign_in(client, username)
    return client


def _post(client: FlaskClient, key: str, action: str, data: dict[str, str]) -> Any:
    token = csrf_token(client, f"/supervise/cases/{key}")
    return client.post(f"/supervise/cases/{key}/actions/{action}", data={**data, "csrf_token": token})


def test_supervisors_see_the_actions_others_do_not(app, client, auth):
    key = create_case(client, auth, "handle")
    body = _client(app, "supervisor").get(f"/supervise/cases/{key}").get_data(as_text=True)
    assert 'id="case-actions"' in body and 'id="action-extend"' in body
    assert '<option value="worker2">' in body  # the picker offers the grid's workers by name
    dispatcher = _client(app, "dispatcher")
    assert 'id="case-actions"' not in dispatcher.get(f"/supervise/cases/{key}").get_data(as_text=True)


def test_the_reassign_picker_offers_the_department_handlers_of_the_units_serving_the_grid(
    app, client, auth, create_user
):
    from tests.cases.territory import add_unit

    add_unit("water", "water", EAST_GRID)  # the fixture's "handler" belongs to unit water
    add_unit("gas_co", "district_bureau", WEST_GRID)
    create_user("department_handler", "gas_handler", unit_code="gas_co")
    key = create_case(client, auth, "handle")
    supervisor = _client(app, "supervisor")
    body = supervisor.get(f"/supervise/cases/{key}").get_data(as_text=True)
    assert '<option value="handler">' in body and '<option value="gas_handler">' not in body
    answer = _post(supervisor, key, "reassign", {"username": "handler", "reason": "需水务部门处置"})
    assert answer.status_code == 302
    db.session.expire_all()
    [moved] = case_events(key, "task.reassigned")
    assert moved.data == {"reason": "需水务部门处置"}


@pytest.mark.parametrize("who", ["dispatcher", "supervisor_west"])
def test_posting_an_action_is_404_for_others(app, client, auth, who):
    key = create_case(client, auth, "handle")
    page = _client(app, who)
    token = csrf_token(page, "/supervise/cases")
    before = fingerprint()
    response = page.post(f"/supervise/cases/{key}/actions/urge", data={"note": "x", "csrf_token": token})
    assert response.status_code == 404
    assert fingerprint() == before


def test_an_unknown_action_is_404(app, client, auth):
    key = create_case(client, auth, "handle")
    assert _post(_client(app, "supervisor"), key, "close", {}).status_code == 404


def test_refused_input_is_shown_next_to_its_field(app, client, auth):
    key = create_case(client, auth, "handle")
    page = _client(app, "supervisor")
    before = fingerprint()
    response = _post(page, key, "extend", {"hours": "abc", "reason": "需协调"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="err-extend-hours"' in body and "请填写 1 到 240 之间的整数工作小时。" in body
    assert 'value="需协调"' in body  # the form comes back as typed
    response = _post(page, key, "comment", {"body": "   "})
    assert response.status_code == 422 and 'id="err-comment-body"' in response.get_data(as_text=True)
    assert fingerprint() == before


def test_an_action_redirects_back_with_its_audit_event(app, client, auth):
    key = create_case(client, auth, "handle")
    response = _post(_client(app, "supervisor"), key, "urge", {"note": "尽快"})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/supervise/cases/{key}#case-actions"
    )
    assert [e.data["note"] for e in case_events(key, "task.urged")] == ["尽快"]


def test_the_case_page_shows_the_review_panel_once_handled(app, client, auth):
    key = create_case(client, auth, "review")
    body = _client(app, "supervisor").get(f"/supervise/cases/{key}").get_data(as_text=True)
    assert 'id="review-panel"' in body and "已清理" in body  # the handler's description
    assert "无拍摄时间" in body  # the test photo has no EXIF
    early = create_case(client, auth, "handle")
    assert 'id="review-panel"' not in _client(app, "supervisor").get(f"/supervise/cases/{early}").get_data(
        as_text=True
    )
