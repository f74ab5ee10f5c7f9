"""The admin console's people half through the Flask test client: who may open it, the user list's search,
filters and pagination, creating and editing users (roles, grids, unit) with the API's rules, deactivating
(sign-in, session and tokens refused at once; open tasks listed and reassigned), reactivating, one-time
password resets through the reset page, and the audit log's filters. Refused input: 422 with the reason
beside the field, and the database unchanged (``fingerprint``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import PasswordReset, User
from app.extensions import db
from app.grids.members import user_grid_codes
from app.workflow.models import HumanTask, TaskStatus
from tests.cases.territory import COMMUNITY, DISTRICT, EAST_GRID, WEST_GRID, add_unit, assign, build_territory
from tests.conftest import PASSWORD
from tests.helpers import fingerprint, open_task, report, walk_to
from tests.web.pages import (
    csrf_token,
    page_app,  # noqa: F401  (the app fixture: SQLite, PostgreSQL when asked)
    post_form,
    sign_in,
)
from tests.web.seed import deploy_case_handling

NEW_PASSWORD = "Qingshui-River-42"


@pytest.fixture(autouse=True)
def territory(users: dict[str, Any]) -> None:
    build_territory()
    add_unit("property-a", "property", EAST_GRID, name="锦绣物业")
    assign("worker", EAST_GRID)
    assign("worker2", WEST_GRID)
    assign("dispatcher", DISTRICT)
    assign("supervisor", DISTRICT)


def page_client(app: Flask, username: str = "admin", password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    sign_in(client, username, password)
    return client


def user(username: str) -> User:
    db.session.expire_all()
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def actions(entity_id: Any) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "user", AuditEvent.entity_id == str(entity_id))
            .order_by(AuditEvent.id)
        ).scalars()
    )


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def field_error(html: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="err-{re.escape(name)}" role="alert">([^<]*)</p>', html)
    assert match, f"no error beside {name}"
    return match.group(1)


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-username="([^"]+)"', html)


def issued_code(html: str) -> str:
    match = re.search(r'id="reset-code" class="ad-secret ad-code" value="([^"]+)"', html)
    assert match, "no reset code on the page"
    return match.group(1)


# -- who may open it ----------------------------------------------------------------------------------------

PAGES = ("/admin/", "/admin/users", "/admin/users/new", "/admin/users/worker", "/admin/audit")


@pytest.mark.parametrize("path", PAGES)
def test_admins_open_every_page_and_anonymous_visitors_are_sent_to_sign_in(app: Flask, path: str) -> None:
    assert page_client(app).get(path).status_code == 200
    response = app.test_client().get(path)
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


@pytest.mark.parametrize(
    "username", ["resident", "worker", "dispatcher", "handler", "supervisor", "designer"]
)
def test_every_other_role_is_refused_every_page_and_action(app: Flask, username: str) -> None:
    client = page_client(app, username)
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    before = fingerprint()
    token = csrf_token(client, "/m/" if username != "resident" else "/r/")
    for path in ("/admin/users/worker/deactivate", "/admin/users/worker/password-reset", "/admin/users/new"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    assert fingerprint() == before


def test_a_user_that_does_not_exist_is_a_404_page(app: Flask) -> None:
    client = page_client(app)
    assert client.get("/admin/users/nobody").status_code == 404
    response = post_form(client, "/admin/users/nobody/deactivate", {}, page="/admin/users")
    assert response.status_code == 404


def test_the_home_links_every_section_of_the_console(app: Flask) -> None:
    html = text(page_client(app).get("/admin/"))
    for path in ("/admin/users", "/admin/audit", "/admin/grids", "/admin/units", "/admin/categories"):
        assert f'href="{path}"' in html
    assert 'href="/admin/plans"' in html and 'href="/admin/holidays"' in html
    assert "系统管理" in html
    # /admin (no slash), once a raw JSON 404, leads to the console.
    response = page_client(app).get("/admin")
    assert response.status_code == 308 and response.headers["Location"].endswith("/admin/")
    # The admin's navigation leads to the console.
    assert 'href="/admin/"' in text(page_client(app).get("/"))


# -- the list ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_the_list_searches_and_filters_by_role_grid_unit_and_state(app: Flask) -> None:
    client = page_client(app)
    everyone = listed(text(client.get("/admin/users")))
    assert everyone == sorted(everyone) and {"admin", "worker", "resident"} <= set(everyone)
    assert listed(text(client.get("/admin/users?role=grid_worker"))) == ["worker", "worker2"]
    assert listed(text(client.get(f"/admin/users?grid={EAST_GRID}"))) == ["worker"]
    # A grid's subtree: the district holds everyone assigned below it.
    assert listed(text(client.get(f"/admin/users?grid={DISTRICT}"))) == [
        "dispatcher",
        "supervisor",
        "worker",
        "worker2",
    ]
    assert listed(text(client.get("/admin/users?unit=water"))) == ["handler"]
    assert listed(text(client.get("/admin/users?q=WORK"))) == ["worker", "worker2"]
    user("worker2").active = False
    db.session.commit()
    assert listed(text(client.get("/admin/users?role=grid_worker&state=active"))) == ["worker"]
    assert listed(text(client.get("/admin/users?state=inactive"))) == ["worker2"]
    assert 'id="users-empty"' in text(client.get("/admin/users?q=nobody-at-all"))


def test_the_list_pages(app: Flask, create_user: Any) -> None:
    for n in range(30):
        create_user("resident", f"r{n:02d}")
    client = page_client(app)
    first = text(client.get("/admin/users?role=resident"))
    assert len(listed(first)) == 25 and 'rel="next"' in first and "1 / 2" in first
    second = listed(text(client.get("/admin/users?role=resident&page=2")))
    assert len(second) == 6 and second[-1] == "resident"


def test_a_malformed_filter_is_named_beside_its_field(app: Flask) -> None:
    client = page_client(app)
    response = client.get("/admin/users?role=king&grid=5101")
    assert response.status_code == 422
    html = text(response)
    assert "没有这个角色" in field_error(html, "role")
    response = client.get("/admin/users?grid=510124009")
    assert "没有编码为 510124009 的网格" in field_error(text(response), "grid")


# -- creating and editing ------------------------------------------------------------------------------------


def test_an_admin_creates_a_user_with_grids_and_a_unit(app: Flask) -> None:
    client = page_client(app)
    response = post_form(
        client,
        "/admin/users/new",
        {
            "username": "leader9",
            "display_name": "王网格长",
            "role": "grid_leader",
            "grids": [EAST_GRID, WEST_GRID],
            "password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/users/leader9")
    made = user("leader9")
    assert (made.display_name, made.role, made.active) == ("王网格长", "grid_leader", True)
    assert user_grid_codes(made) == sorted([EAST_GRID, WEST_GRID])
    assert actions(made.id) == ["user.created"] and actions("leader9") == ["user.grids_set"]
    html = text(client.get("/admin/users/leader9"))
    assert "王网格长" in html and "已创建用户 leader9" in html
    page_client(app, "leader9", NEW_PASSWORD)  # signs in with the password given


def test_bad_input_names_every_field_and_writes_nothing(app: Flask) -> None:
    client = page_client(app)
    token = csrf_token(client, "/admin/users/new")
    before = fingerprint()
    response = client.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "username": "bad name!",
            "role": "grid_worker",
            "unit_code": "no-such-unit",
            "grids": [COMMUNITY],
            "password": "12345678",
        },
    )
    assert response.status_code == 422
    html = text(response)
    assert "字母、数字" in field_error(html, "username")
    assert "密码至少 10 个字符" in field_error(html, "password")
    assert "请从列表中选择单位" in field_error(html, "unit_code")
    assert "该角色只能分配到" in field_error(html, "grids") and COMMUNITY in field_error(html, "grids")
    # What was typed stays in the form (but never the password).
    assert 'value="bad name!"' in html and "12345678" not in html
    taken = client.post(
        "/admin/users/new",
        data={"csrf_token": token, "username": "worker", "role": "resident", "password": NEW_PASSWORD},
    )
    assert taken.status_code == 422 and "已被使用" in field_error(text(taken), "username")
    no_grids = client.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "username": "someone",
            "role": "resident",
            "grids": [EAST_GRID],
            "password": NEW_PASSWORD,
        },
    )
    assert "该角色不分配网格" in field_error(text(no_grids), "grids")
    assert fingerprint() == before


def test_editing_changes_role_grids_and_unit_together_or_not_at_all(app: Flask) -> None:
    client = page_client(app)
    before = fingerprint()
    # A grid worker made community staff while keeping a comprehensive grid: refused, nothing changes.
    refused = post_form(
        client,
        "/admin/users/worker",
        {"display_name": "张三", "role": "community_staff", "grids": [EAST_GRID]},
    )
    assert refused.status_code == 422
    assert "社区" in field_error(text(refused), "grids")
    assert fingerprint() == before
    done = post_form(
        client,
        "/admin/users/worker",
        {"display_name": "张三", "role": "community_staff", "grids": [COMMUNITY], "unit_code": "property-a"},
    )
    assert done.status_code == 302
    changed = user("worker")
    assert (changed.role, changed.display_name, changed.unit_code) == (
        "community_staff",
        "张三",
        "property-a",
    )
    assert user_grid_codes(changed) == [COMMUNITY]
    assert actions(changed.id)[-1] == "user.updated" and actions("worker")[-1] == "user.grids_set"
    event = (
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "user.updated").order_by(AuditEvent.id.desc())
        )
        .scalars()
        .first()
    )
    assert event is not None and event.actor_label == "admin"
    assert event.before == {"role": "grid_worker", "display_name": "worker", "unit_code": None}


def test_an_admin_cannot_change_their_own_role_or_deactivate_themselves(app: Flask) -> None:
    client = page_client(app)
    before = fingerprint()
    response = post_form(client, "/admin/users/admin", {"display_name": "admin", "role": "resident"})
    assert response.status_code == 422 and "不能修改自己的角色" in field_error(text(response), "role")
    response = post_form(client, "/admin/users/admin/deactivate", {}, page="/admin/users/admin")
    assert response.status_code == 422 and "不能停用自己的账户" in field_error(text(response), "deactivate")
    assert fingerprint() == before


# -- deactivation --------------------------------------------------------------------------------------------


def test_deactivating_refuses_sign_in_the_session_and_earlier_tokens_at_once(app: Flask) -> None:
    api = app.test_client()
    token = api.post("/api/v1/tokens", json={"username": "worker", "password": PASSWORD}).get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/users/me", headers=bearer).status_code == 200
    session = page_client(app, "worker")
    assert session.get("/m/").status_code == 200

    response = post_form(
        page_client(app), "/admin/users/worker/deactivate", {"reason": "离职"}, page="/admin/users/worker"
    )
    assert response.status_code == 302
    assert api.get("/api/v1/users/me", headers=bearer).status_code == 401
    assert session.get("/m/").status_code == 302  # the session ends: back to sign-in
    refused = app.test_client()
    token_form = csrf_token(refused)
    assert (
        refused.post(
            "/login", data={"username": "worker", "password": PASSWORD, "csrf_token": token_form}
        ).status_code
        == 401
    )
    worker = user("worker")
    assert worker.active is False
    assert actions(worker.id)[-3:] == ["token.revoked_all", "user.deactivated", "auth.sign_in_failed"]
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "user.deactivated")).scalar_one()
    assert event.actor_label == "admin" and event.data == {"tokens_revoked": 1, "reason": "离职"}
    html = text(page_client(app).get("/admin/users/worker"))
    assert 'id="reactivate"' in html and 'id="deactivate"' not in html


def test_a_deactivated_users_open_tasks_are_listed_and_handed_on(app: Flask, auth: Any) -> None:
    deploy_case_handling(app)
    db.session.commit()
    api = app.test_client()
    key = report(api, auth)["key"]
    walk_to(api, auth, key, "handle", handler="worker")
    task = open_task(key, "handle")
    client = page_client(app)
    post_form(client, "/admin/users/worker/deactivate", {}, page="/admin/users/worker")
    html = text(client.get("/admin/users/worker"))
    assert f'data-task-id="{task.id}"' in html and 'id="tasks-waiting"' in html
    assert f'href="/supervise/cases/{key}"' in html
    # The candidates are the active people of the task's roles, not the deactivated holder.
    assert '<option value="worker2">' in html and '<option value="worker">' not in html
    before = fingerprint()
    refused = post_form(
        client,
        f"/admin/users/worker/tasks/{task.id}/reassign",
        {"assignee": "resident"},
        page="/admin/users/worker",
    )
    assert refused.status_code == 422
    assert "请从列表中选择改派对象" in field_error(text(refused), f"task-{task.id}")
    assert fingerprint() == before
    response = post_form(
        client,
        f"/admin/users/worker/tasks/{task.id}/reassign",
        {"assignee": "worker2"},
        page="/admin/users/worker",
    )
    assert response.status_code == 302
    db.session.expire_all()
    moved = db.session.get(HumanTask, task.id)
    assert (
        moved is not None and moved.status == TaskStatus.CLAIMED and moved.assignee_id == user("worker2").id
    )
    assert 'id="no-open-tasks"' in text(client.get("/admin/users/worker"))


def test_reactivating_lets_them_sign_in_again(app: Flask) -> None:
    client = page_client(app)
    post_form(client, "/admin/users/worker/deactivate", {}, page="/admin/users/worker")
    response = post_form(client, "/admin/users/worker/reactivate", {}, page="/admin/users/worker")
    assert response.status_code == 302 and user("worker").active is True
    assert actions(user("worker").id)[-1] == "user.reactivated"
    page_client(app, "worker")


# -- password resets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_a_reset_link_sets_a_new_password_once(app: Flask, clock: Any) -> None:
    response = post_form(
        page_client(app), "/admin/users/worker/password-reset", {}, page="/admin/users/worker"
    )
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = text(response)
    code = issued_code(html)
    assert f"/password-reset/?code={code}" in html
    stored = db.session.execute(select(PasswordReset)).scalar_one()
    assert code not in stored.code_hash and len(stored.code_hash) == 64  # hashed at rest

    visitor = app.test_client()
    assert visitor.get(f"/password-reset/?code={code}").status_code == 200
    weak = post_form(
        visitor,
        "/password-reset/",
        {"code": code, "linked": "1", "password": "worker1234", "password_again": "worker1234"},
    )
    assert weak.status_code == 422 and "用户名" in field_error(text(weak), "password")
    differ = post_form(
        visitor,
        "/password-reset/",
        {"code": code, "linked": "1", "password": NEW_PASSWORD, "password_again": "x"},
    )
    assert differ.status_code == 422 and "不一致" in field_error(text(differ), "password_again")
    done = post_form(
        visitor,
        "/password-reset/",
        {"code": code, "linked": "1", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    page_client(app, "worker", NEW_PASSWORD)
    assert visitor.get(f"/password-reset/?code={code}").status_code == 404
    again = post_form(
        visitor,
        "/password-reset/",
        {"code": code, "password": "Another-Pass-77", "password_again": "Another-Pass-77"},
    )
    assert again.status_code == 422 and "无效、已使用或已过期" in field_error(text(again), "code")
    assert actions(user("worker").id)[-3:] == [
        "user.password_changed",
        "user.password_reset_used",
        "auth.signed_in",
    ]


def test_a_typed_code_works_in_any_case_and_expires_and_a_newer_one_voids_it(app: Flask, clock: Any) -> None:
    client = page_client(app)
    first = issued_code(
        text(post_form(client, "/admin/users/worker/password-reset", {}, page="/admin/users/worker"))
    )
    second = issued_code(
        text(post_form(client, "/admin/users/worker/password-reset", {}, page="/admin/users/worker"))
    )
    visitor = app.test_client()
    form = {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    voided = post_form(visitor, "/password-reset/", {"code": first, **form})
    assert voided.status_code == 422
    clock.advance(hours=25)
    expired = post_form(visitor, "/password-reset/", {"code": second.lower().replace("-", " "), **form})
    assert expired.status_code == 422
    third = issued_code(
        text(post_form(client, "/admin/users/worker/password-reset", {}, page="/admin/users/worker"))
    )
    typed = post_form(visitor, "/password-reset/", {"code": third.lower().replace("-", ""), **form})
    assert typed.status_code == 302
    page_client(app, "worker", NEW_PASSWORD)


def test_a_deactivated_user_gets_no_reset_and_their_code_stops_working(app: Flask) -> None:
    client = page_client(app)
    code = issued_code(
        text(post_form(client, "/admin/users/worker/password-reset", {}, page="/admin/users/worker"))
    )
    post_form(client, "/admin/users/worker/deactivate", {}, page="/admin/users/worker")
    assert app.test_client().get(f"/password-reset/?code={code}").status_code == 404
    before = fingerprint()
    refused = post_form(client, "/admin/users/worker/password-reset", {}, page="/admin/users/worker")
    assert refused.status_code == 422
    assert fingerprint() == before


# -- the audit log -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_the_audit_log_filters_by_actor_action_and_time(app: Flask, clock: Any) -> None:
    client = page_client(app)
    post_form(client, "/admin/users/worker/deactivate", {}, page="/admin/users/worker")
    clock.advance(hours=2)
    post_form(client, "/admin/users/worker2/deactivate", {}, page="/admin/users/worker2")

    def rows(query: str) -> list[tuple[str, str]]:
        html = text(client.get(f"/admin/audit?{query}"))
        return re.findall(r'<tr data-action="([^"]+)" data-actor="([^"]+)"', html)

    assert rows("action=user.deactivated") == [("user.deactivated", "admin")] * 2
    labelled = text(client.get("/admin/audit?action=user.deactivated"))
    assert labelled.count('<span class="ad-action">停用用户</span>') == 2  # the zh-CN label, then the code
    assert {action for action, _ in rows("action=user.")} >= {"user.deactivated", "user.created"}
    assert all(actor == "admin" for _, actor in rows("actor=admin"))
    assert rows("actor=nobody") == []
    local = (clock.now() + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")  # the form's Asia/Shanghai time
    assert rows(f"action=user.deactivated&since={local}") == [("user.deactivated", "admin")]
    assert rows(f"action=user.deactivated&until={local}") == [("user.deactivated", "admin")] * 2
    earlier = (clock.now() + timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M")
    assert rows(f"action=user.deactivated&until={earlier}") == [("user.deactivated", "admin")]


def test_every_audited_action_has_a_label_in_both_languages(app: Flask) -> None:
    """A new audit action needs a label (``app/web/admin/action_labels.py``) with its zh-CN translation."""
    import ast
    from pathlib import Path

    from flask_babel import force_locale

    from app.web.admin.action_labels import action_label

    root = Path(app.root_path)
    codes: set[str] = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "record",
                "record_case_event",
            ):
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and "." in first.value:
                    codes.add(first.value)
    assert len(codes) > 50
    with app.test_request_context(), force_locale("zh"):
        unlabelled = sorted(code for code in codes if action_label(code) == code)
        untranslated = sorted(code for code in codes if action_label(code).isascii())
    assert unlabelled == [] and untranslated == []


def test_the_audit_log_pages_and_names_a_bad_filter(app: Flask, create_user: Any) -> None:
    for n in range(60):
        create_user("resident", f"r{n:02d}")
    client = page_client(app)
    html = text(client.get("/admin/audit?action=user.created"))
    assert len(re.findall(r"<tr data-action=", html)) == 50 and 'rel="next"' in html
    response = client.get("/admin/audit?since=yesterday&until=2026-01-01T00:00")
    assert response.status_code == 422 and "应为日期和时间" in field_error(text(response), "since")
    response = client.get("/admin/audit?since=2026-02-01T00:00&until=2026-01-01T00:00")
    assert "结束时间早于开始时间" in field_error(text(response), "until")
