"""The mediation pages through the Flask test client: who may open them, the list's scope and filters, the
dispute page's parties masked exactly as the API masks them (compared with its JSON), filing on a
resident's behalf (the API's rules, refusals beside the fields, nothing written), documents and the current
task completed in place.

The territory and people are tests/mediation's: two communities of one street, ``worker`` on the first
party's grid (GRID_A1), ``worker_b`` in the other community, mediators ``med1``/``med2`` of community A.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.mediation.models import DisputeDocument, DisputeParty
from tests.helpers import Auth, fingerprint
from tests.mediation.conftest import deployed_mediation, mediation_settings, people  # noqa: F401
from tests.mediation.flow import (
    DESCRIPTION,
    NAME_1,
    PHONE_1,
    case_row,
    dispute_row,
    file_dispute,
    intake,
    open_elements,
    pdf,
    session,
)
from tests.mediation.territory import GRID_A1, GRID_A2, GRID_B1
from tests.web.pages import PageClient, csrf_token, sign_in


@pytest.fixture
def app(make_app: Any) -> Iterator[Flask]:
    app = make_app("sqlite")
    app.test_client_class = PageClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


pytestmark = pytest.mark.usefixtures("people", "deployed_mediation")


def page_client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, username)
    return client


class PartyFields(HTMLParser):
    """The party fields a page shows: ``{position: {name, phone, address}}`` from ``data-party`` items and
    their ``data-field`` cells."""

    def __init__(self) -> None:
        super().__init__()
        self.parties: dict[int, dict[str, str]] = {}
        self._party: int | None = None
        self._field: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "li" and found.get("data-party"):
            self._party = int(found["data-party"] or 0)
            self.parties[self._party] = {}
        elif self._party is not None and found.get("data-field"):
            self._field = found["data-field"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "dd":
            self._field = None
        elif tag == "li":
            self._party = None

    def handle_data(self, data: str) -> None:
        if self._party is not None and self._field is not None:
            cell = self.parties[self._party]
            cell[self._field] = cell.get(self._field, "") + data.strip()


def shown_parties(html: str) -> dict[int, dict[str, str]]:
    parser = PartyFields()
    parser.feed(html)
    return parser.parties


def api_parties(client: FlaskClient, auth: Auth, key: str, who: str) -> dict[int, dict[str, str]]:
    body = client.get(f"/api/v1/disputes/{key}", headers=auth(who)).get_json()
    return {p["position"]: {f: p[f] or "—" for f in ("name", "phone", "address")} for p in body["parties"]}


def listed_keys(html: str) -> list[str]:
    return re.findall(r'<tr data-key="([^"]+)"', html)


# -- who may open what ------------------------------------------------------------------------------------


def test_the_pages_are_for_the_roles_the_api_lets_list_disputes(app: Flask) -> None:
    anonymous = app.test_client()
    response = anonymous.get("/mediation/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for username in ("handler", "designer"):
        client = page_client(app, username)
        assert client.get("/mediation/").status_code == 403
        assert client.get("/mediation/new").status_code == 403
    for username in ("med1", "community", "worker", "leader", "supervisor", "dispatcher", "street"):
        page = page_client(app, username).get("/mediation/")
        assert page.status_code == 200, username
        assert "矛盾纠纷" in page.get_data(as_text=True)
    # Filing follows the API's filers: a grid worker may, a mediator may not.
    assert page_client(app, "worker").get("/mediation/new").status_code == 200
    assert page_client(app, "med1").get("/mediation/new").status_code == 403
    nav = page_client(app, "med1").get("/m/").get_data(as_text=True)
    assert 'href="/mediation/"' in nav


def test_a_dispute_the_user_may_not_see_answers_like_a_missing_one(app, client, auth) -> None:
    key = file_dispute(client, auth)["key"]
    other = page_client(app, "worker_b")
    hidden = other.get(f"/mediation/{key}")
    missing = other.get("/mediation/GC-2099-999999")
    assert hidden.status_code == missing.status_code == 404
    assert NAME_1 not in hidden.get_data(as_text=True)
    assert page_client(app, "worker").get(f"/mediation/{key}").status_code == 200


# -- the list ---------------------------------------------------------------------------------------------


def test_the_list_holds_only_what_the_user_may_open_masked_as_the_api_lists_it(app, client, auth, clock):
    a = file_dispute(client, auth)["key"]
    clock.advance(minutes=1)
    b = file_dispute(
        client,
        auth,
        who="dispatcher",
        grid_code=GRID_B1,
        parties=[{"name": "王五", "phone": "13700001111", "role": "applicant"}],
    )["key"]
    assert listed_keys(page_client(app, "supervisor").get("/mediation/").get_data(as_text=True)) == [b, a]
    worker_page = page_client(app, "worker").get("/mediation/").get_data(as_text=True)
    assert listed_keys(worker_page) == [a]
    assert NAME_1 in worker_page  # the first party's grid staff see the names
    worker_b_page = page_client(app, "worker_b").get("/mediation/").get_data(as_text=True)
    assert listed_keys(worker_b_page) == [b]
    assert a not in worker_b_page and NAME_1 not in worker_b_page
    community_page = page_client(app, "community").get("/mediation/").get_data(as_text=True)
    assert listed_keys(community_page) == [a]
    api = client.get("/api/v1/disputes", headers=auth("community")).get_json()["items"][0]
    assert [p["name"] for p in api["parties"]] == ["张*", "李**"]
    assert "张*" in community_page and NAME_1 not in community_page


def test_filters_status_type_grid_and_the_empty_state(app, client, auth, clock):
    a = file_dispute(client, auth)["key"]
    intake(client, auth, a, grade="complex")
    clock.advance(minutes=1)
    b = file_dispute(client, auth, grid_code=GRID_A2, dispute_type="noise")["key"]
    supervisor = page_client(app, "supervisor")

    def keys(query: str) -> list[str]:
        response = supervisor.get(f"/mediation/{query}")
        assert response.status_code == 200, query
        return listed_keys(response.get_data(as_text=True))

    assert keys("?status=mediating") == [a]
    assert keys("?status=intake") == [b]
    assert keys("?dispute_type=noise") == [b]
    assert keys(f"?grid={GRID_A1}") == [a]
    assert keys(f"?grid={GRID_A2}&dispute_type=water_leak") == []
    empty = supervisor.get("/mediation/?status=closed").get_data(as_text=True)
    assert 'id="no-disputes"' in empty and "没有符合条件的纠纷" in empty
    refused = supervisor.get("/mediation/?status=unknown")
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert 'id="err-status"' in text and listed_keys(text) == [b, a]  # the bad filter dropped


def test_the_list_pages(app, client, auth, clock):
    made = []
    for _ in range(21):
        made.append(file_dispute(client, auth)["key"])
        clock.advance(minutes=1)
    supervisor = page_client(app, "supervisor")
    first = supervisor.get("/mediation/").get_data(as_text=True)
    second = supervisor.get("/mediation/?page=2").get_data(as_text=True)
    assert listed_keys(first) == made[::-1][:20]
    assert listed_keys(second) == [made[0]]
    assert 'rel="next"' in first and 'rel="prev"' in second


# -- the dispute page: masking as the API masks -------------------------------------------------------------


@pytest.mark.parametrize(
    "who", ["worker", "leader", "med1", "supervisor", "community", "dispatcher", "street"]
)
def test_the_page_shows_the_parties_exactly_as_the_api_gives_them(app, client, auth, who):
    key = file_dispute(client, auth)["key"]
    intake(client, auth, key, grade="simple", mediator_user="med1", override_reason="熟悉该小区情况")
    html = page_client(app, who).get(f"/mediation/{key}").get_data(as_text=True)
    assert shown_parties(html) == api_parties(client, auth, key, who)
    full = who in ("worker", "leader", "med1", "supervisor")
    assert (NAME_1 in html) is full and (PHONE_1 in html) is full
    assert (DESCRIPTION in html) is full
    assert ('id="redacted-notice"' in html) is not full
    # The case's timeline and diagram: a link for those who may use the supervision pages.
    assert (f'href="/supervise/cases/{key}"' in html) is (
        who in ("leader", "supervisor", "community", "dispatcher", "street")
    )


# -- filing -------------------------------------------------------------------------------------------------


def filing_form(**overrides: str) -> dict[str, str]:
    form = {
        "dispute_type": "water_leak",
        "description": DESCRIPTION,
        "grid_code": GRID_A1,
        "address": "郫都区望丛社区杜鹃雅居3栋",
        "parties-0-name": NAME_1,
        "parties-0-phone": PHONE_1,
        "parties-0-address": "杜鹃雅居3栋2单元1201",
        "parties-0-role": "applicant",
        "parties-1-name": "李四娃",
        "parties-1-phone": "028-87654321",
        "parties-1-role": "respondent",
        "parties-1-grid_code": GRID_A2,
        "parties-2-role": "third_party",
    }
    form.update(overrides)
    return form


def post_filing(client: FlaskClient, form: dict[str, str]) -> Any:
    return client.post("/mediation/new", data={**form, "csrf_token": csrf_token(client, "/mediation/new")})


def test_a_grid_worker_files_a_dispute_for_a_resident(app) -> None:
    worker = page_client(app, "worker")
    response = post_filing(worker, filing_form())
    assert response.status_code == 302
    key = response.headers["Location"].rsplit("/", 1)[-1]
    dispute = dispute_row(key)
    assert (dispute.dispute_type, dispute.status, dispute.description) == (
        "water_leak",
        "intake",
        DESCRIPTION,
    )
    parties = (
        db.session.execute(
            select(DisputeParty).where(DisputeParty.dispute_id == dispute.id).order_by(DisputeParty.position)
        )
        .scalars()
        .all()
    )
    assert [(p.name, p.phone, p.role, p.grid_code) for p in parties] == [
        (NAME_1, PHONE_1, "applicant", None),
        ("李四娃", "028-87654321", "respondent", GRID_A2),
    ]
    assert case_row(key).grid_code == GRID_A1
    assert open_elements(key) == ["intake"]
    filed = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "dispute.filed", AuditEvent.case_id == dispute.case_id)
    ).scalar_one()
    assert filed.after["parties"] == 2 and NAME_1 not in str(filed.after)
    page = worker.get(f"/mediation/{key}").get_data(as_text=True)
    assert "已提交" in page and NAME_1 in page


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"parties-0-phone": "12345"}, "parties-0-phone", "手机号"),
        ({"description": "吵"}, "description", "5"),
        ({"dispute_type": ""}, "dispute_type", "纠纷类型"),
        (
            {
                "parties-0-name": "",
                "parties-0-phone": "",
                "parties-0-address": "",
                "parties-1-name": "",
                "parties-1-phone": "",
            },
            "parties",
            "当事人",
        ),
        ({"parties-1-name": ""}, "parties-1-name", "姓名"),
        ({"grid_code": "510124001009009"}, "grid_code", "网格"),
    ],
)
def test_bad_input_is_refused_beside_its_field_and_writes_nothing(app, overrides, field, words) -> None:
    worker = page_client(app, "worker")
    csrf_token(worker, "/mediation/new")
    before = fingerprint()
    response = post_filing(worker, filing_form(**overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="err-{re.escape(field)}" role="alert">([^<]+)</p>', html)
    assert error is not None and words in error.group(1), html[:3000]
    assert fingerprint() == before
    # What was typed stays in the form.
    assert DESCRIPTION in html or overrides.get("description") == "吵"


# -- documents ----------------------------------------------------------------------------------------------


def upload_page(client: FlaskClient, key: str, kind: str, content: bytes, name: str) -> Any:
    return client.post(
        f"/mediation/{key}/documents",
        data={
            "kind": kind,
            "file": (io.BytesIO(content), name),
            "csrf_token": csrf_token(client, f"/mediation/{key}"),
        },
        content_type="multipart/form-data",
    )


def at_agreement(client: FlaskClient, auth: Auth) -> str:
    key = file_dispute(client, auth)["key"]
    intake(client, auth, key, grade="simple", mediator_user="med1", override_reason="熟悉该小区情况")
    session(client, auth, key, "med1", "agreement")
    return key


def test_the_mediator_uploads_the_agreement_a_non_document_is_refused(app, client, auth) -> None:
    key = at_agreement(client, auth)
    mediator = page_client(app, "med1")
    page = mediator.get(f"/mediation/{key}").get_data(as_text=True)
    assert 'id="upload-form"' in page and 'value="agreement"' in page
    before = fingerprint()
    refused = upload_page(mediator, key, "agreement", b"just some text", "协议.txt")
    assert refused.status_code == 422
    assert "PDF" in refused.get_data(as_text=True) and 'id="err-file"' in refused.get_data(as_text=True)
    assert fingerprint() == before
    done = upload_page(mediator, key, "agreement", pdf(), "调解协议书.pdf")
    assert done.status_code == 302
    document = db.session.execute(select(DisputeDocument)).scalar_one()
    assert (document.kind, document.content_type, document.uploaded_by_id) == (
        "agreement",
        "application/pdf",
        people_id("med1"),
    )
    page = mediator.get(f"/mediation/{key}").get_data(as_text=True)
    assert f"/api/v1/disputes/documents/{document.id}/content" in page
    # Someone who sees the dispute masked sees that it exists, not a link to it.
    community = page_client(app, "community").get(f"/mediation/{key}").get_data(as_text=True)
    assert f'data-document="{document.id}"' in community
    assert f"/api/v1/disputes/documents/{document.id}/content" not in community
    assert 'id="upload-form"' not in community or 'value="agreement"' not in community


def people_id(username: str) -> int:
    from app.auth.models import User

    return db.session.execute(select(User.id).where(User.username == username)).scalar_one()


# -- the current task, completed in place -------------------------------------------------------------------


def complete_in_page(client: FlaskClient, key: str, task_id: int, data: dict[str, Any]) -> Any:
    return client.post(
        f"/mediation/{key}/tasks/{task_id}/complete",
        json={"data": data},
        headers={"X-CSRFToken": csrf_token(client, f"/mediation/{key}")},
    )


def open_task_id(key: str, element: str) -> int:
    from tests.helpers import open_task

    return open_task(key, element).id


def test_the_session_form_is_on_the_page_and_completes_in_place(app, client, auth) -> None:
    key = file_dispute(client, auth)["key"]
    intake(client, auth, key, grade="simple", mediator_user="med1", override_reason="熟悉该小区情况")
    task_id = open_task_id(key, "session")
    mediator = page_client(app, "med1")
    page = mediator.get(f"/mediation/{key}").get_data(as_text=True)
    assert f'data-task="{task_id}"' in page and 'id="task-form"' in page
    # Others see the step, not its form.
    supervisor = page_client(app, "supervisor").get(f"/mediation/{key}").get_data(as_text=True)
    assert f'data-task="{task_id}"' in supervisor and 'id="task-form"' not in supervisor
    before = fingerprint()
    refused = complete_in_page(mediator, key, task_id, {"session_mode": "offline"})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.get_json()["errors"]} >= {"session_at", "session_record"}
    assert fingerprint() == before
    data = {
        "session_at": "2026-11-02T16:00:00+08:00",
        "session_mode": "offline",
        "session_place": "社区解忧聊天室",
        "attendees": [1, 2],
        "session_record": "当事人1陈述漏水经过,当事人2同意检修",
        "session_outcome": "continue",
    }
    # A task of another dispute is not this page's.
    other = file_dispute(client, auth)["key"]
    assert complete_in_page(mediator, other, task_id, data).status_code == 404
    done = complete_in_page(mediator, key, task_id, data)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["redirect"] == f"/mediation/{key}"
    dispute = dispute_row(key)
    assert (dispute.status, dispute.session_count) == ("mediating", 1)
    page = mediator.get(f"/mediation/{key}").get_data(as_text=True)
    assert 'data-session="1"' in page and "社区解忧聊天室" in page


def test_intake_on_the_page_a_refusal_of_the_process_is_marked_and_changes_nothing(app, client, auth):
    key = file_dispute(client, auth)["key"]
    task_id = open_task_id(key, "intake")
    staff = page_client(app, "community")
    page = staff.get(f"/mediation/{key}").get_data(as_text=True)
    assert 'id="task-form"' in page and 'data-context="proposal"' in page  # the proposed mediators
    assert "med2" in page  # offered in the mediator choice
    before = fingerprint()
    # Another mediator than the proposal without a reason: the process refuses it, named at its field.
    refused = complete_in_page(
        staff, key, task_id, {"grade": "simple", "dispute_type": "water_leak", "mediator_user": "med2"}
    )
    assert refused.status_code == 422
    errors = {e["field"]: e["message"] for e in refused.get_json()["errors"]}
    assert "改派" in errors["override_reason"] or "理由" in errors["override_reason"], errors
    assert fingerprint() == before
    done = complete_in_page(
        staff,
        key,
        task_id,
        {
            "grade": "simple",
            "dispute_type": "water_leak",
            "mediator_user": "med2",
            "override_reason": "当事人要求更换调解员",
        },
    )
    assert done.status_code == 200, done.get_json()
    assert dispute_row(key).mediator.username == "med2"
    # Without the page's CSRF token the step is refused.
    other = file_dispute(client, auth)["key"]
    bare = staff.post(
        f"/mediation/{other}/tasks/{open_task_id(other, 'intake')}/complete",
        json={"data": {"grade": "simple", "dispute_type": "water_leak"}},
    )
    assert bare.status_code == 400 and open_elements(other) == ["intake"]


def test_the_follow_up_opens_on_its_date_and_closes_the_dispute_from_the_page(app, client, auth, clock):
    from datetime import timedelta

    from tests.mediation.flow import sign_agreement, tick_at

    key = at_agreement(client, auth)
    sign_agreement(client, auth, key, "med1")
    mediator = page_client(app, "med1")
    page = mediator.get(f"/mediation/{key}").get_data(as_text=True)
    assert 'id="no-task"' in page and 'id="task-form"' not in page
    assert tick_at(clock, dispute_row(key).follow_up_at + timedelta(seconds=1)) == 1
    page = mediator.get(f"/mediation/{key}").get_data(as_text=True)
    task_id = open_task_id(key, "follow_up")
    assert f'data-task="{task_id}"' in page and 'id="task-form"' in page
    done = complete_in_page(
        mediator,
        key,
        task_id,
        {"follow_up_method": "phone", "agreement_kept": "kept", "satisfaction": "very_satisfied"},
    )
    assert done.status_code == 200, done.get_json()
    dispute = dispute_row(key)
    assert (dispute.status, dispute.agreement_kept, dispute.satisfaction) == (
        "closed",
        "kept",
        "very_satisfied",
    )
    assert case_row(key).status == "closed"
    page = mediator.get(f"/mediation/{key}").get_data(as_text=True)
    assert "该纠纷已结案" in page and "非常满意" in page
    assert 'id="upload-form"' not in page  # a closed dispute takes no more documents


def test_the_pages_speak_english_when_asked(app, client, auth) -> None:
    key = at_agreement(client, auth)
    mediator = page_client(app, "med1")
    mediator.get("/lang/en")
    listing = mediator.get("/mediation/").get_data(as_text=True)
    assert "Kind of dispute" in listing and "Water leaking between floors" in listing
    page = mediator.get(f"/mediation/{key}").get_data(as_text=True)
    assert "Agreed, follow-up pending" in page and "Mediation sessions" in page
    assert "Agreement reached" in page and NAME_1 in page


def test_a_place_marked_on_the_map_finds_the_grid_when_none_is_chosen(app) -> None:
    from tests.mediation.territory import POINT_A1

    worker = page_client(app, "worker")
    form = filing_form(grid_code="", lat=str(POINT_A1[0]), lon=str(POINT_A1[1]))
    response = post_filing(worker, form)
    assert response.status_code == 302
    case = case_row(response.headers["Location"].rsplit("/", 1)[-1])
    assert (case.grid_code, case.lat, case.lon) == (GRID_A1, POINT_A1[0], POINT_A1[1])
    before = fingerprint()
    half = post_filing(worker, filing_form(lat=str(POINT_A1[0])))
    assert half.status_code == 422 and 'id="err-lon"' in half.get_data(as_text=True)
    assert fingerprint() == before
