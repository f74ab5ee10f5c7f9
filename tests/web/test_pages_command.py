"""The command centre through the Flask test client: who may open its pages (403 for other roles, 404 for an
emergency outside the user's scope, as the API answers), the list's scope and empty state, launching a plan
from the page (refused fields in zh-CN beside the field, nothing written), the board's polling endpoint
(ETag / 304, the overdue state by the injected clock), the command steps completed from the board, and
on-scene updates with a photo."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.auth.models import User
from app.emergency.models import Emergency, EmergencyResponder, EmergencyUpdate
from app.emergency.plans import create_plan, sync_plans
from app.emergency.services import launch_plan
from app.extensions import db
from app.units.models import Unit
from tests.cases.territory import DISTRICT, EAST_COMPOUND, EAST_POINT, WEST_GRID, WEST_POINT, add_unit, assign
from tests.emergency.conftest import UNIT_HANDLERS, report_in, task_for
from tests.factories import staff_territory
from tests.helpers import case_events, case_row, count, fingerprint, fire_next_timer, jpeg
from tests.web.pages import (
    csrf_token,
    page_app,  # noqa: F401  (the app fixture: SQLite, PostgreSQL when asked)
    sign_in,
)


@pytest.fixture
def territory(users: dict[str, Any], create_user: Any, auth: Any, deployed: None) -> None:
    """tests/emergency's territory (a unit of every kind serving the district, each with a handler) plus a
    grid leader and a dispatcher of the west grid; every API user signed in before the tests' fingerprints."""
    staffed = staff_territory(create_user, handlers={user: unit for unit, user in UNIT_HANDLERS.items()})
    for unit in [*UNIT_HANDLERS, "water"]:
        add_unit(unit, unit, DISTRICT)
    create_user("grid_leader", "leader_west")
    create_user("dispatcher", "dispatcher_west")
    assign("leader_west", WEST_GRID)
    assign("dispatcher_west", WEST_GRID)
    sync_plans()
    db.session.commit()
    for username in [*users, *staffed]:
        auth(username)


pytestmark = pytest.mark.usefixtures("territory")


def user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def page_client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, username)
    return client


def launched(plan_code: str = "gas_leak", point: tuple[float, float] = EAST_POINT) -> str:
    fields = {"plan_code": plan_code, "title": "锦绣花园 3 栋燃气泄漏", "lat": point[0], "lon": point[1]}
    key = launch_plan(user("dispatcher"), fields).case.key
    db.session.commit()
    return key


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def field_error(html: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="err-{re.escape(name)}"[^>]*>([^<]*)</p>', html)
    assert match, f"no error beside {name}"
    return match.group(1)


# -- who may open what -----------------------------------------------------------------------------------


# Each role only reads (and is refused): one emergency launched once, every role a subtest.
OUTSIDE_ROLES = ["resident", "worker", "handler", "designer", "fire1"]


def test_roles_outside_the_command_centre_are_refused(app, subtests):
    key = launched()
    for username in OUTSIDE_ROLES:
        with subtests.test(username=username):
            client = page_client(app, username)
            for path in (
                "/command/",
                "/command/plans",
                f"/command/emergencies/{key}",
                "/command/plans/gas_leak/launch",
            ):
                assert client.get(path).status_code == 403, path
            assert (
                client.get(
                    f"/command/emergencies/{key}/live", headers={"Accept": "application/json"}
                ).status_code
                == 403
            )


def test_anonymous_visitors_sign_in_first_and_the_board_script_gets_401(app):
    key = launched()
    client = app.test_client()
    for path in ("/command/", f"/command/emergencies/{key}", f"/command/emergencies/{key}/live"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    assert live(client, key).status_code == 401


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_the_list_holds_what_the_user_may_see_and_an_unseen_emergency_is_a_404(app, client, auth):
    east = launched()
    west = launched("high_rise_fire", WEST_POINT)
    supervisor = text(page_client(app, "supervisor").get("/command/"))
    assert east in supervisor and west in supervisor and "指挥中心" in supervisor
    leader = page_client(app, "leader_west")
    shown = text(leader.get("/command/"))
    assert west in shown and east not in shown
    for path in (f"/command/emergencies/{east}", f"/command/emergencies/{east}/live"):
        assert leader.get(path).status_code == 404
    assert leader.get("/command/emergencies/GC-2099-999999").status_code == 404
    assert leader.get(f"/command/emergencies/{west}").status_code == 200
    # the API answers the same
    assert client.get(f"/api/v1/emergencies/{east}", headers=auth("dispatcher_west")).status_code == 404
    assert client.get(f"/api/v1/emergencies/{west}", headers=auth("dispatcher_west")).status_code == 200


def test_the_list_is_paginated_and_has_an_empty_state(app):
    client = page_client(app, "supervisor")
    html = text(client.get("/command/"))
    assert 'id="no-emergencies"' in html and "当前没有进行中的应急事件" in html
    assert "从预案库启动预案" in html  # a launcher is shown the way to the library
    keys = [launched() for _ in range(21)]
    first = text(client.get("/command/"))
    assert "共 21 起应急事件" in first and 'rel="next"' in first
    second = text(client.get("/command/?page=2"))
    assert keys[0] in second and keys[0] not in first and keys[-1] in first
    assert 'id="no-emergencies"' in text(client.get("/command/?page=9"))  # past the end: an empty page


# -- the plan library and launching ----------------------------------------------------------------------


def test_the_library_shows_plans_with_units_and_limits_and_launch_buttons_for_launchers(app):
    html = text(page_client(app, "supervisor").get("/command/plans"))
    assert "燃气泄漏" in html and "燃气抢修" in html and "10 分钟" in html and "等级:红色" in html
    assert "/command/plans/gas_leak/launch" in html
    coordinator = page_client(app, "community")
    listed = text(coordinator.get("/command/plans"))
    assert "燃气泄漏" in listed and "/command/plans/gas_leak/launch" not in listed
    assert coordinator.get("/command/plans/gas_leak/launch").status_code == 403
    assert page_client(app, "supervisor").get("/command/plans/no_such_plan/launch").status_code == 404


def test_a_supervisor_launches_a_plan_from_the_page(app):
    client = page_client(app, "supervisor")
    token = csrf_token(client, "/command/plans/gas_leak/launch")
    form = {
        "csrf_token": token,
        "idempotency_key": "launch-1",
        "title": "锦绣花园 3 栋燃气泄漏",
        "description": "住户闻到燃气味",
        "address": "锦绣花园 3 栋",
        "lat": str(EAST_POINT[0]),
        "lon": str(EAST_POINT[1]),
    }
    response = client.post("/command/plans/gas_leak/launch", data=form)
    assert response.status_code == 302, text(response)[:400]
    key = response.headers["Location"].rsplit("/", 1)[-1]
    case = case_row(key)
    assert (case.title, case.severity, case.grid_code, case.reporter.username) == (
        "锦绣花园 3 栋燃气泄漏",
        "red",
        EAST_COMPOUND,
        "supervisor",
    )
    emergency = db.session.execute(select(Emergency).where(Emergency.case_id == case.id)).scalar_one()
    assert (emergency.plan_code, emergency.trigger, emergency.launched_by_id) == (
        "gas_leak",
        "plan",
        user("supervisor").id,
    )
    assert [r.unit_code for r in emergency.responders] == ["gas", "fire", "property", "police"]
    assert [e.data["plan_code"] for e in case_events(key, "emergency.opened")] == ["gas_leak"]
    # the same form sent twice (a double click) launches one emergency
    again = client.post("/command/plans/gas_leak/launch", data=form)
    assert again.status_code == 302 and count(Emergency) == 1
    board = text(client.get(f"/command/emergencies/{key}"))
    assert "燃气抢修" in board and "待报到" in board and 'data-live-url="/command/emergencies/' in board


# Every case is refused and writes nothing (its own fingerprint check; a refused answer leaves the
# idempotency key free): subtests of one test over one seeded territory.
BAD_LAUNCH_INPUT = [
    ({"title": "x"}, "title", "标题 2 至 120 个字"),
    ({"lat": "30.75"}, "location", "请在地图上点选事发地点"),
    ({"lat": "91", "lon": "103.9"}, "location", "请在地图上点选事发地点"),
    ({"description": "很" * 4001}, "description", "最多 4000 个字"),
    ({"address": "路" * 301}, "address", "最多 300 个字"),
]


def test_bad_launch_input_is_said_beside_the_field_and_writes_nothing(app, subtests):
    client = page_client(app, "dispatcher")
    token = csrf_token(client, "/command/plans/gas_leak/launch")
    for fields, field, words in BAD_LAUNCH_INPUT:
        with subtests.test(fields=sorted(fields), field=field):
            before = fingerprint()
            response = client.post(
                "/command/plans/gas_leak/launch",
                data={"csrf_token": token, "idempotency_key": "k1", **fields},
            )
            assert response.status_code == 422
            html = text(response)
            assert words in field_error(html, field) and "预案未启动" in html
            assert fingerprint() == before
            for name, value in fields.items():  # what was typed comes back
                if name in ("title", "address"):
                    assert f'value="{value}"' in html


def test_a_plan_without_an_available_responder_is_refused_and_writes_nothing(app):
    create_plan(
        user("supervisor"),
        {
            "code": "fire_only",
            "name": "仅消防",
            "name_en": "Fire only",
            "responders": [{"unit_code": "fire", "limit": "10m"}],
            "checklist": ["灭火"],
        },
    )
    db.session.execute(update(Unit).where(Unit.code == "fire").values(active=False))
    db.session.commit()
    client = page_client(app, "supervisor")
    token = csrf_token(client, "/command/plans/fire_only/launch")
    before = fingerprint()
    response = client.post(
        "/command/plans/fire_only/launch", data={"csrf_token": token, "idempotency_key": "k"}
    )
    assert response.status_code == 422
    assert (
        field_error(text(response), "plan")
        == "该预案当前没有可派出的响应单位(fire):请在管理后台检查相关单位。"
    )
    assert fingerprint() == before


# -- the board and its polling ---------------------------------------------------------------------------


def live(client: FlaskClient, key: str, etag: str | None = None) -> Any:
    headers = {"Accept": "application/json", **({"If-None-Match": etag} if etag else {})}
    return client.get(f"/command/emergencies/{key}/live", headers=headers)


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_the_live_endpoint_answers_304_until_something_shown_changes(app, client, auth):
    key = launched()
    board = page_client(app, "supervisor")
    first = live(board, key)
    assert first.status_code == 200 and first.headers["X-Board-Now"]
    etag = first.headers["ETag"]
    parts = first.get_json()["parts"]
    assert set(parts) == {"summary", "responders", "timings", "updates", "steps"}
    assert "待报到 4" in parts["summary"] and parts["responders"].count('data-state="pending"') == 4
    unchanged = live(board, key, etag)
    assert unchanged.status_code == 304 and unchanged.get_data() == b"" and unchanged.headers["X-Board-Now"]
    # a browser asks compressed: the tag is the same, and its If-None-Match gets the 304 too
    compressed = board.get(
        f"/command/emergencies/{key}/live", headers={"Accept": "application/json", "Accept-Encoding": "gzip"}
    )
    assert compressed.headers.get("Content-Encoding") == "gzip" and compressed.headers["ETag"] == etag
    assert live(board, key, compressed.headers["ETag"]).status_code == 304

    app.extensions["gridcase.clock"].advance(minutes=3)
    report_in(client, auth, key, "property")
    changed = live(board, key, etag)
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    parts = changed.get_json()["parts"]
    assert "已报到 1" in parts["summary"] and "负责人:张队长" in parts["responders"]
    assert "首次报到" in parts["timings"] and "用时 3 分 0 秒" in parts["timings"]

    # the gas company's ten minutes pass (by the injected clock): it shows overdue before any timer fires
    etag = changed.headers["ETag"]
    app.extensions["gridcase.clock"].advance(minutes=8)
    late = live(board, key, etag)
    assert late.status_code == 200
    rows = late.get_json()["parts"]["responders"]
    assert rows.count('data-state="overdue"') == 2  # gas and fire (10 min); police has 15
    assert "逾期 2" in late.get_json()["parts"]["summary"]


def test_a_dispatcher_declares_control_from_the_board(app):
    key = launched()
    dispatcher = page_client(app, "dispatcher")
    html = text(dispatcher.get(f"/command/emergencies/{key}"))
    assert 'id="step-declare_control"' in html
    task = task_for(key, "declare_control")
    # the supervisor sees the step and whom it waits for, without its form
    supervisor_view = text(page_client(app, "supervisor").get(f"/command/emergencies/{key}"))
    assert 'id="step-declare_control"' not in supervisor_view and "等待:指挥中心调度员" in supervisor_view
    token = csrf_token(dispatcher, f"/command/emergencies/{key}")
    before = fingerprint()
    refused = dispatcher.post(
        f"/command/emergencies/{key}/steps/{task.id}",
        data={"csrf_token": token, "control_note": " ", "casualties": "两个"},
    )
    assert refused.status_code == 422
    html = text(refused)
    assert field_error(html, "declare_control-casualties") == "应为整数"
    assert field_error(html, "declare_control-control_note")
    assert fingerprint() == before
    done = dispatcher.post(
        f"/command/emergencies/{key}/steps/{task.id}",
        data={"csrf_token": token, "control_note": "阀门已关闭,浓度下降", "casualties": "0"},
    )
    assert done.status_code == 302
    db.session.expire_all()
    emergency = db.session.execute(select(Emergency)).scalar_one()
    assert emergency.status == "controlled" and emergency.controlled_at is not None
    assert [e.data["note"] for e in case_events(key, "emergency.controlled")] == ["阀门已关闭,浓度下降"]
    # a task of another case, or not a step, answers 404
    report_task = task_for(key, "emergency_report_in", unit="gas")
    other = dispatcher.post(f"/command/emergencies/{key}/steps/{report_task.id}", data={"csrf_token": token})
    assert other.status_code == 404


def test_an_on_scene_update_with_a_photo_is_posted_from_the_board(app):
    key = launched()
    dispatcher = page_client(app, "dispatcher")
    token = csrf_token(dispatcher, f"/command/emergencies/{key}")
    before = fingerprint()
    empty = dispatcher.post(
        f"/command/emergencies/{key}/updates", data={"csrf_token": token, "idempotency_key": "u0", "note": ""}
    )
    assert empty.status_code == 422 and "请填写现场情况" in field_error(text(empty), "note")
    assert fingerprint() == before
    sent = dispatcher.post(
        f"/command/emergencies/{key}/updates",
        data={
            "csrf_token": token,
            "idempotency_key": "u1",
            "note": "已疏散 3 栋住户",
            "photos": [(io.BytesIO(jpeg()), "scene.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302, text(sent)[:300]
    row = db.session.execute(select(EmergencyUpdate)).scalar_one()
    assert row.note == "已疏散 3 栋住户" and len(row.attachment_ids) == 1
    assert [e.data["note"] for e in case_events(key, "emergency.scene_update")] == ["已疏散 3 栋住户"]
    parts = live(page_client(app, "supervisor"), key).get_json()["parts"]
    assert (
        "已疏散 3 栋住户" in parts["updates"]
        and f"/api/v1/attachments/{row.attachment_ids[0]}/content" in parts["updates"]
    )


def test_responder_rows_stay_as_the_service_wrote_them(app, client, auth):
    """The board reads; it never writes responder rows (a poll leaves the database as it was)."""
    key = launched()
    board = page_client(app, "supervisor")
    before = fingerprint()
    live(board, key)
    board.get(f"/command/emergencies/{key}")
    assert fingerprint() == before
    assert count(EmergencyResponder) == 4


def test_close_and_review_are_done_from_the_board_by_their_roles(app, client, auth):
    key = launched()
    for unit in ("gas", "fire", "property", "police"):
        report_in(client, auth, key, unit)
    dispatcher = page_client(app, "dispatcher")
    token = csrf_token(dispatcher, f"/command/emergencies/{key}")
    control = task_for(key, "declare_control")
    data = {"csrf_token": token, "control_note": "浓度已下降"}
    assert dispatcher.post(f"/command/emergencies/{key}/steps/{control.id}", data=data).status_code == 302
    close = task_for(key, "close_emergency")
    html = text(dispatcher.get(f"/command/emergencies/{key}"))
    assert 'id="step-close_emergency"' in html and 'name="close_note"' in html
    data = {"csrf_token": token, "close_note": "现场恢复正常"}
    assert dispatcher.post(f"/command/emergencies/{key}/steps/{close.id}", data=data).status_code == 302
    # the review is the supervisor's (candidateRoles supervisor): its form is on their board
    review = task_for(key, "review_emergency")
    supervisor = page_client(app, "supervisor")
    board = text(supervisor.get(f"/command/emergencies/{key}"))
    assert 'id="step-review_emergency"' in board
    assert all(f'name="{n}"' in board for n in ("cause", "timeline_summary", "improvements"))
    assert 'id="update-form"' not in board  # an ended emergency takes no more on-scene updates
    token = csrf_token(supervisor, f"/command/emergencies/{key}")
    fields = {"cause": "软管老化", "timeline_summary": "全部按时报到", "improvements": "排查老旧软管"}
    response = supervisor.post(
        f"/command/emergencies/{key}/steps/{review.id}", data={"csrf_token": token, **fields}
    )
    assert response.status_code == 302
    db.session.expire_all()
    emergency = db.session.execute(select(Emergency)).scalar_one()
    assert (emergency.status, emergency.cause, case_row(key).status) == ("reviewed", "软管老化", "closed")
    parts = live(supervisor, key).get_json()["parts"]
    assert parts["steps"].count('data-state="done"') == 3 and "已复盘" in parts["summary"]
    # a step done already: the board says so and changes nothing
    again = supervisor.post(
        f"/command/emergencies/{key}/steps/{review.id}", data={"csrf_token": token, **fields}
    )
    assert again.status_code == 302
    assert "该步骤已由他人办理" in text(supervisor.get(f"/command/emergencies/{key}"))


def test_the_board_speaks_english_when_asked(app):
    key = launched()
    client = page_client(app, "supervisor")
    client.get("/lang/en")
    html = text(client.get(f"/command/emergencies/{key}"))
    assert "Responders" in html and "Pending 4" in html and "Declare under control" in html
    assert "Gas leak" in text(client.get("/command/plans"))


def test_a_coordinator_summoned_to_urge_a_unit_finds_the_task_on_the_board(app, clock):
    key = launched()
    fire_next_timer(clock, key)  # the property company's five minutes pass: the community is summoned
    urge = task_for(key, "urge_community")
    community = page_client(app, "community")
    html = text(community.get(f"/command/emergencies/{key}"))
    assert f'href="/m/tasks/{urge.id}"' in html and "社区督促报到" in html
    assert "已升级至:社区" in html and 'data-state="overdue"' in html
    # the supervisor is not summoned: no such link on their board
    assert f'href="/m/tasks/{urge.id}"' not in text(
        page_client(app, "supervisor").get(f"/command/emergencies/{key}")
    )
