"""A resident on a phone reports a problem (category by icon, description, photo, place on the map), gets
the receipt with the case number, and tracks the case."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from app.cases.models import Attachment, Case
from app.extensions import db
from tests.helpers import jpeg
from tests.web.conftest import PHONE
from tests.web.seed import seed_people


def test_resident_reports_and_tracks_a_case(live_server, page_as, screenshot):
    with live_server.app.app_context():
        seed_people(live_server.app)

    page = page_as("resident", viewport=PHONE)
    page.goto(f"{live_server.url}/r/report")
    page.locator("label.category-class", has_text="市容环境").first.click()
    page.select_option("#category_code", "E0102")
    page.fill("#description", "小区北门垃圾桶满了,垃圾散落一地")
    page.set_input_files(
        "#photo", files=[{"name": "garbage.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
    )
    page.wait_for_selector("#pick-map path.leaflet-interactive")  # our grids drawn on the plain map
    page.click("#use-location")
    # expect() polls with Playwright's own script; a string predicate would need eval, which our CSP forbids
    expect(page.locator("#lat")).not_to_have_value("")
    page.fill("#address", "锦绣花园北门")
    screenshot(page, "resident_report")

    with page.expect_navigation():
        page.click("button[type=submit].primary")
    key = page.locator("#case-number").inner_text()
    assert key.startswith("GC-")
    with live_server.app.app_context():
        case = db.session.execute(select(Case).where(Case.key == key)).scalar_one()
        assert (case.category_code, case.status, case.grid_code) == ("E0102", "triage", "510124001001002001")
        assert (round(case.lat, 4), round(case.lon, 4)) == (30.7589, 103.9718)
        assert case.title == "暴露垃圾"  # no title typed: the category names it
        assert (
            db.session.execute(select(Attachment.kind).where(Attachment.case_id == case.id)).scalar_one()
            == "report"
        )

    with page.expect_navigation():
        page.click("text=查询进度")
    progress = page.locator("#progress")
    assert key in progress.inner_text()
    assert progress.locator(".step.done").count() == 1
    assert progress.locator(".step.current .step-label").inner_text() == "已上报"
    assert progress.locator(".status").inner_text() == "待受理"
    screenshot(page, "resident_track")

    # someone else's number is answered like an unknown one
    page.goto(f"{live_server.url}/r/track?key=GC-2026-999999")
    assert page.locator("#not-found").is_visible()
