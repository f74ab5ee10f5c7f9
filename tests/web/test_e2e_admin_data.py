"""In headless Chromium at 1280 px, an admin works the console's data pages by clicking and typing only (the
territory and the catalogue are seeded), and each test checks the database afterwards:

- imports a GeoJSON file with one bad feature: the progress, then the rejection with the reason, nothing
  written (the import is all or nothing); the corrected file imports the good grids, the bad one not;
- edits a category with bad input: the reason beside the field, the database unchanged; then a good edit;
- sets 2027's holidays, counted by the time limits at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from app import runtime
from app.audit.models import AuditEvent
from app.auth.models import User
from app.categories.models import Category
from app.config import PROJECT_ROOT
from app.extensions import db
from app.grids.models import Grid
from tests.cases.territory import EAST_GRID, assign, build_territory
from tests.conftest import PASSWORD
from tests.grids.shapes import box_feature, collection
from tests.helpers import count, ensure_catalogue, fingerprint
from tests.web.conftest import LiveServer, serve

README_SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "admin-grids.png"
REPORT_SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "admin-grids-import.png"


@pytest.fixture
def live_server(make_app: Any, tmp_path: Path) -> Iterator[LiveServer]:
    """The web conftest's live server, with a holiday schedule file of its own."""
    yield from serve(make_app("sqlite", holiday_schedule_file=tmp_path / "holidays.json"))


def seed(live_server: LiveServer) -> None:
    from app.auth.services import create_user

    create_user("admin", PASSWORD, "admin")
    create_user("worker", PASSWORD, "grid_worker")
    db.session.execute(update(User).where(User.username == "admin").values(display_name="系统管理员"))
    db.session.execute(update(User).where(User.username == "worker").values(display_name="王小明"))
    db.session.commit()
    build_territory()
    assign("worker", EAST_GRID)
    ensure_catalogue()


WENJIANG = [
    box_feature("510125", "温江区", (104.00, 30.70, 104.10, 30.80)),
    box_feature("510125001", "柳城街道", (104.00, 30.70, 104.10, 30.80)),
    box_feature("510125001001", "光华社区", (104.00, 30.70, 104.05, 30.80)),
    box_feature("510125001002", "凤溪社区", (104.05, 30.70, 104.10, 30.80)),
    box_feature("510125001001001", "光华第1网格", (104.00, 30.70, 104.05, 30.75)),
    box_feature("510125001001002", "越界网格", (104.04, 30.75, 104.20, 30.80)),  # sticks out of its community
]


def _file(tmp_path: Path, features: list[dict[str, Any]]) -> Path:
    path = tmp_path / "wenjiang.geojson"
    path.write_text(json.dumps(collection(*features), ensure_ascii=False), encoding="utf-8")
    return path


def test_an_admin_imports_geojson_and_sees_the_bad_feature_rejected(
    live_server, page_as, screenshot, tmp_path
):
    with live_server.app.app_context():
        seed(live_server)
    page = page_as("admin")
    with live_server.app.app_context():
        before = fingerprint()  # after the sign-in and its audit event
    page.goto(f"{live_server.url}/admin/grids")
    assert page.locator("#grid-tree [data-code='510124']").is_visible()
    page.click("#grid-import-link")
    page.set_input_files("#grid-file", str(_file(tmp_path, WENJIANG)))
    page.click("#grid-import-submit")
    result = page.locator("#import-result[data-outcome='rejected']")
    result.wait_for()
    assert page.locator("#grid-import-progress").is_hidden()
    row = page.locator("#rejections tr[data-index='5']")
    assert "510125001001002" in row.inner_text() and "超出上级范围" in row.inner_text()
    assert page.locator("#rejections tbody tr").count() == 1
    assert "6 个要素中有 1 个被拒绝" in result.inner_text()
    REPORT_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    REPORT_SCREENSHOT.write_bytes(screenshot(page, "admin-grids-rejected").read_bytes())
    with live_server.app.app_context():
        assert fingerprint() == before  # all or nothing: not even the good features

    # The admin drops the bad feature and imports the file again.
    page.set_input_files("#grid-file", str(_file(tmp_path, WENJIANG[:5])))
    page.click("#grid-import-submit")
    page.locator("#import-result[data-outcome='done']").wait_for()
    assert "新建网格 5 个" in page.locator("#import-result").inner_text()
    with live_server.app.app_context():
        assert count(Grid, Grid.code.startswith("510125")) == 5
        assert count(Grid, Grid.code == "510125001001002") == 0
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "grids.imported")).scalars()
        assert [e.data["created"] for e in event][-1] == 5

    page.click("#import-result a")
    page.locator("#grid-tree [data-code='510125001001001']").wait_for(state="attached")
    page.click("#grid-tree li[data-code='510124001001'] > details > summary .ad-level")  # opens the community
    with page.expect_navigation():
        page.click("#grid-tree li[data-code='510124001001002'] a")
    page.locator("#case-map.leaflet-container").wait_for()
    assert "王小明" in page.locator("#grid-members").inner_text()
    screenshot(page, "admin-grid-page")
    page.goto(f"{live_server.url}/admin/grids")
    for community in ("510124001001", "510125001001"):
        page.click(f"#grid-tree li[data-code='{community}'] > details > summary .ad-level")
    README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    README_SCREENSHOT.write_bytes(screenshot(page, "admin-grids").read_bytes())


def test_a_category_edit_with_bad_input_is_refused_beside_the_field(live_server, page_as, screenshot):
    with live_server.app.app_context():
        seed(live_server)
    page = page_as("admin")
    with live_server.app.app_context():
        before = fingerprint()  # after the sign-in and its audit event
    page.goto(f"{live_server.url}/admin/categories")
    page.fill("input[name=q]", "暴露垃圾")
    with page.expect_navigation():
        page.click("form[aria-label] button[type=submit]")
    with page.expect_navigation():
        page.click("#categories tr[data-code='E0102'] a")
    page.fill("#f-handle_limit", "4 hours")
    with page.expect_navigation():
        page.click("#category-save")
    error = page.locator("#err-handle_limit")
    assert "4wh（工作小时）" in error.inner_text()
    assert page.locator("#f-handle_limit").get_attribute("aria-invalid") == "true"
    assert page.locator("#f-handle_limit").input_value() == "4 hours"
    screenshot(page, "admin-category-refused")
    with live_server.app.app_context():
        assert fingerprint() == before
    page.fill("#f-handle_limit", "6wh")
    with page.expect_navigation():
        page.click("#category-save")
    assert "类别 E0102 已保存" in page.locator(".flash").inner_text()
    with live_server.app.app_context():
        assert db.session.get(Category, "E0102").handle_limit == "6wh"
        assert (
            count(AuditEvent, AuditEvent.action == "category.updated", AuditEvent.entity_id == "E0102") == 1
        )


def test_an_admin_sets_2027s_holidays(live_server, page_as, screenshot):
    with live_server.app.app_context():
        seed(live_server)
    page = page_as("admin")
    page.goto(f"{live_server.url}/admin/holidays")
    assert "尚无安排" in page.locator("#watch-years li[data-year='2027']").inner_text()
    assert page.locator("#h-year").input_value() == "2027"
    page.fill("#h-source", "国办发明电〔2026〕测试号")
    page.fill("#h-holidays", "2027-01-01\n2027-02-05 ~ 2027-02-12")
    page.fill("#h-workdays", "2027-02-22")  # a Monday: refused
    with page.expect_navigation():
        page.click("#holiday-save")
    assert "2027-02-22 是工作日" in page.locator("#err-workdays").inner_text()
    assert page.locator("#file-empty").is_visible()
    page.fill("#h-workdays", "2027-02-20")
    with page.expect_navigation():
        page.click("#holiday-save")
    assert "2027 年已保存" in page.locator(".flash").inner_text()
    assert "按安排文件" in page.locator("#watch-years li[data-year='2027']").inner_text()
    assert page.locator("#file-years tr[data-year='2027'] td").nth(1).inner_text() == "9"
    screenshot(page, "admin-holidays")
    with live_server.app.app_context():
        calendar = runtime.working_calendar()
        assert not calendar.is_workday(date(2027, 1, 1))
        assert not calendar.is_workday(date(2027, 2, 8))
        assert calendar.is_workday(date(2027, 2, 20))
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "holidays.year_set")
        ).scalar_one()
        assert event.after["workdays"] == ["2027-02-20"]
