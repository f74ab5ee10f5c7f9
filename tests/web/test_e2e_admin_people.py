"""In headless Chromium at 1280 px: an administrator runs the people half of the admin console by clicking
and typing only (the territory and people are seeded), and each test checks the database afterwards.

- create a grid worker on a grid, deactivate them (a token issued before is refused at once: 401), reactivate,
  reset their password with the one-time link, which works once, and they sign in with the new password;
- bad input on the new-user form: each reason beside its field, the database unchanged; and the audit log
  filtered to what the admin did.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.auth.models import User
from app.auth.services import issue_token
from app.config import PROJECT_ROOT
from app.extensions import db
from app.grids.members import user_grid_codes
from tests.cases.territory import EAST_GRID
from tests.helpers import fingerprint
from tests.web.seed import seed_people

README_SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "admin.png"
NAMES = {
    "worker": "王小明",
    "worker_west": "李芳",
    "dispatcher": "张敏",
    "supervisor": "刘强",
    "admin": "赵管理",
}
NEW_PASSWORD = "Pitong-Street-2026"


def seed(live_server: Any) -> None:
    seed_people(live_server.app)
    for username, name in NAMES.items():
        db.session.execute(update(User).where(User.username == username).values(display_name=name))
    db.session.commit()


def the_user(username: str) -> User:
    db.session.expire_all()
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def submit(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_create_assign_deactivate_reactivate_and_reset_a_password(live_server, page_as, screenshot):
    with live_server.app.app_context():
        seed(live_server)
    page = page_as("admin")
    page.click("text=系统管理")
    assert page.url.endswith("/admin/")
    screenshot(page, "admin-home")
    submit(page, "#section-users a")
    submit(page, "#new-user")
    page.fill("#username", "worker9")
    page.fill("#display_name", "孙网格")
    page.select_option("#role", "grid_worker")
    page.select_option("#grids", EAST_GRID)
    page.fill("#password", NEW_PASSWORD + "-first")
    submit(page, "#create-user")
    assert page.locator(".flash-success").inner_text() == "已创建用户 worker9。"
    with live_server.app.app_context():
        made = the_user("worker9")
        assert (made.role, made.display_name, made.active) == ("grid_worker", "孙网格", True)
        assert user_grid_codes(made) == [EAST_GRID]
        token, _row = issue_token(made)  # a token they hold from before (as their phone would)
        db.session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    me = f"{live_server.url}/api/v1/users/me"
    assert page.request.get(me, headers=bearer).status == 200

    page.fill("#reason", "调离本网格")
    submit(page, "#deactivate")
    assert "已停用 worker9" in page.locator(".flash-success").inner_text()
    assert page.locator("#user-state").inner_text() == "已停用"
    assert page.request.get(me, headers=bearer).status == 401  # at once
    with live_server.app.app_context():
        assert the_user("worker9").active is False
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "user.deactivated")
        ).scalar_one()
        assert event.actor_label == "admin" and event.data["reason"] == "调离本网格"

    submit(page, "#reactivate")
    assert page.locator("#user-state").inner_text() == "已启用"
    submit(page, "#reset-password")
    link = page.input_value("#reset-link")
    assert link.startswith(f"{live_server.url}/password-reset/")
    screenshot(page, "admin-user-reset")

    page.goto(f"{live_server.url}/admin/users?role=grid_worker")
    page.set_viewport_size({"width": 1280, "height": 720})
    README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(README_SCREENSHOT), full_page=True)
    assert page.locator("#users tbody tr").count() == 3

    submit(page, "button:has-text('退出')")  # sign out: the link is for someone not signed in
    page.goto(link)
    screenshot(page, "admin-password-reset")
    assert page.locator("#reset-account").inner_text() == "账户：worker9"
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_again", NEW_PASSWORD)
    submit(page, "#set-password")
    assert page.url.endswith("/login")
    assert "新密码已设置" in page.locator(".flash-success").inner_text()
    page.fill("#username", "worker9")
    page.fill("#password", NEW_PASSWORD)
    submit(page, "button[type=submit]")
    assert "/login" not in page.url
    page.goto(link)  # used: it does not work twice
    assert "无效、已使用或已过期" in page.locator("#err-code").inner_text()
    with live_server.app.app_context():
        assert the_user("worker9").check_password(NEW_PASSWORD)


def test_bad_input_is_named_beside_each_field_and_the_audit_log_filters(live_server, page_as, screenshot):
    with live_server.app.app_context():
        seed(live_server)
    page = page_as("admin")
    page.goto(f"{live_server.url}/admin/users/new")
    with live_server.app.app_context():
        before = fingerprint()  # after the admin's sign-in (an audit event)
    page.fill("#username", "worker")
    page.select_option("#role", "resident")
    page.select_option("#grids", EAST_GRID)
    page.fill("#password", "12345678")
    submit(page, "#create-user")
    assert "已被使用" not in page.content()  # every field is checked before the name is looked up
    assert "该角色不分配网格" in page.locator("#err-grids").inner_text()
    assert "密码至少 10 个字符" in page.locator("#err-password").inner_text()
    assert page.input_value("#username") == "worker" and page.input_value("#password") == ""
    screenshot(page, "admin-user-refused")
    with live_server.app.app_context():
        assert fingerprint() == before

    page.goto(f"{live_server.url}/admin/users/worker_west")
    page.fill("#reason", "离职")
    submit(page, "#deactivate")
    page.goto(f"{live_server.url}/admin/audit")
    page.fill("#f-actor", "admin")
    page.fill("#f-action", "user.")
    submit(page, "#apply-filters")
    rows = page.locator("#events tbody tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-action") == "user.deactivated"
    assert "离职" in rows.first.inner_text()
    screenshot(page, "admin-audit")
    page.fill("#f-since", "2030-01-01T00:00")
    page.fill("#f-until", "2029-01-01T00:00")
    submit(page, "#apply-filters")
    assert "结束时间早于开始时间" in page.locator("#err-until").inner_text()
