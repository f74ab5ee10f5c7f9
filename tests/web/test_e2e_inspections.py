"""In headless Chromium: the inspection pages, moved only by clicking and typing (the territory, people and
places are seeded with the services), the database checked after each step.

- a supervisor launches a campaign on the launch page (a place type ticked, the east grid clicked on the
  map: the count of chosen places follows), the grid worker inspects both places on the phone task pages
  (/m/), and the campaign page's map shows the east grid done and both places passed;
- a supervisor takes a blacklisted place off the blacklist: refused without a reason (beside the field,
  nothing changed), done with one (audited with the reason).
"""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import now
from app.config import PROJECT_ROOT
from app.extensions import db
from app.inspections.models import Campaign, CampaignItem, Place
from app.inspections.places import blacklist, create_place
from tests.cases.territory import EAST_GRID, EAST_OPEN_POINT, EAST_POINT, WEST_GRID, WEST_POINT, assign
from tests.conftest import PASSWORD
from tests.web.conftest import PHONE
from tests.web.process_seed import seed, user
from tests.web.steps import complete_task, open_and_claim

README_SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "inspections.png"
# code: (name, type, (lat, lon)); two restaurants in the east grid, one in the west grid, a shop in the east
PLACES = {
    "R1": ("川味小馆", "restaurant", EAST_POINT),
    "R2": ("老王面馆", "restaurant", EAST_OPEN_POINT),
    "R3": ("西街火锅", "restaurant", WEST_POINT),
    "S1": ("便民小超市", "shop", (30.775, 103.985)),
}


def seed_places(app):
    """process_seed's people (the worker on the east grid, the supervisor on the district), a second grid
    worker on the west grid, and PLACES."""
    from app.auth.services import create_user

    seed(app, "worker", "supervisor")
    create_user("worker_west", PASSWORD, "grid_worker", "李西区", None)
    db.session.commit()
    assign("worker_west", WEST_GRID)
    boss = user("supervisor")
    for code, (name, place_type, (lat, lon)) in PLACES.items():
        create_place(
            boss,
            {
                "code": code,
                "name": name,
                "place_type": place_type,
                "lat": lat,
                "lon": lon,
                "address": f"{name}门店",
                "responsible_person": "何老板",
            },
        )
    db.session.commit()


def _items(campaign_id):
    db.session.expire_all()
    rows = db.session.execute(
        select(Place.code, CampaignItem.status, CampaignItem.inspected_by)
        .join(Place, Place.id == CampaignItem.place_id)
        .where(CampaignItem.campaign_id == campaign_id)
        .order_by(Place.code)
    )
    return [tuple(row) for row in rows]


def _inspect_passing(phone, base):
    """From the phone's inbox, open the first inspection, pass every check item, send it."""
    phone.goto(f"{base}/m/")
    task_id = phone.locator("li.task-row", has_text="餐饮场所燃气安全专项检查").first.get_attribute(
        "data-task-id"
    )
    open_and_claim(phone, f"{base}/m/tasks/{task_id}")
    for key in ("item_1", "item_2"):
        phone.locator(f'select[name="root[results][{key}][result]"]').select_option('"pass"')
    complete_task(phone, base)


def test_a_campaign_launched_on_the_map_shows_progress_after_two_inspections(
    live_server, page_as, screenshot
):
    app = live_server.app
    with app.app_context():
        seed_places(app)

    desk = page_as("supervisor")
    desk.click("nav.nav a[href='/inspections/']")
    desk.click("nav.insp-tabs >> text=发起检查")
    desk.wait_for_selector("#launch-map[data-loaded=true]")
    desk.fill("#l-title", "餐饮场所燃气安全专项检查")
    desk.select_option("#l-unit", "gas")
    desk.fill("#l-checklist", "灭火器在有效期内\n燃气报警器正常")
    desk.check("input[name=place_type][value=restaurant]")
    assert desk.inner_text("#chosen-count") == "3"  # no grid ticked: every grid of the territory
    desk.click(f"#launch-map path.insp-launch-grid[data-code='{EAST_GRID}']")
    assert desk.is_checked(f"input[name=grid][value='{EAST_GRID}']")
    assert desk.inner_text("#chosen-count") == "2"
    assert desk.locator("#launch-map path.insp-place.is-chosen").count() == 2
    screenshot(desk, "inspections_launch")
    with desk.expect_navigation():
        desk.click("#launch-button")
    assert "已发起“餐饮场所燃气安全专项检查”：共 2 处场所待检查" in desk.inner_text(".flash")
    with app.app_context():
        campaign = db.session.execute(select(Campaign)).scalar_one()
        campaign_id = campaign.id
        assert (campaign.unit_code, campaign.target_grid_codes, campaign.target_place_types) == (
            "gas",
            [EAST_GRID],
            ["restaurant"],
        )
        assert _items(campaign_id) == [("R1", "pending", None), ("R2", "pending", None)]
    desk.wait_for_selector("#campaign-map[data-loaded=true]")
    assert desk.locator("#campaign-map path.insp-item-pending").count() == 2
    assert desk.locator(f"#campaign-map path.insp-grid-pending[data-code='{EAST_GRID}']").count() == 1

    phone = page_as("worker", viewport=PHONE)
    for _ in range(2):  # the inbox names the campaign (two of its places are the worker's)
        _inspect_passing(phone, live_server.url)
    with app.app_context():
        assert _items(campaign_id) == [("R1", "passed", "worker"), ("R2", "passed", "worker")]

    desk.reload()
    desk.wait_for_selector("#campaign-map[data-loaded=true]")
    assert desk.locator("#campaign-map path.insp-item-passed").count() == 2
    assert desk.locator("#campaign-map path.insp-item-pending").count() == 0
    assert desk.locator(f"#campaign-map path.insp-grid-done[data-code='{EAST_GRID}']").count() == 1
    assert desk.get_attribute(f"#grid-table tr[data-grid='{EAST_GRID}']", "data-state") == "done"
    assert desk.get_attribute("#campaign-counts", "data-done") == "2"
    path = screenshot(desk, "inspections")
    README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    README_SCREENSHOT.write_bytes(path.read_bytes())
    with desk.expect_navigation():
        desk.click("nav.insp-tabs >> text=专项检查")
    row = desk.locator(f"#campaign-table tr[data-campaign-id='{campaign_id}']")
    assert "郫都燃气公司" in row.inner_text() and "已完成" in row.inner_text()
    screenshot(desk, "inspections_list")


def test_unblacklist_is_refused_without_a_reason_and_done_with_one(live_server, page_as, screenshot):
    app = live_server.app
    with app.app_context():
        seed_places(app)
        r1 = db.session.execute(select(Place).where(Place.code == "R1")).scalar_one()
        blacklist(r1, "复查仍不合格：燃气报警器不报警", now(), None)
        db.session.commit()
        place_id = r1.id

    desk = page_as("supervisor")
    desk.goto(f"{live_server.url}/inspections/places")
    desk.select_option("#f-blacklisted", "true")
    with desk.expect_navigation():
        desk.click(".insp-filter-actions button[type=submit]")
    assert desk.locator("#place-table tbody tr").count() == 1
    screenshot(desk, "inspections_places")
    with desk.expect_navigation():
        desk.click("#place-table >> text=川味小馆")
    assert "复查仍不合格：燃气报警器不报警" in desk.inner_text("#blacklist")
    with desk.expect_navigation():
        desk.click("#unblacklist-button")
    assert desk.inner_text("#err-reason") == "请填写移出黑名单的理由"
    with app.app_context():
        db.session.expire_all()
        assert db.session.get(Place, place_id).blacklisted is True
    desk.fill("#u-reason", "已更换燃气报警器，复查合格")
    screenshot(desk, "inspections_place")
    with desk.expect_navigation():
        desk.click("#unblacklist-button")
    assert desk.inner_text("#blacklist-state") == "未列入黑名单。"
    assert "移出黑名单：已更换燃气报警器，复查合格" in desk.inner_text("#blacklist-trail")
    with app.app_context():
        db.session.expire_all()
        place = db.session.get(Place, place_id)
        assert (place.blacklisted, place.blacklist_reason) == (False, None)
        event = db.session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "place.unblacklisted", AuditEvent.entity_id == str(place_id)
            )
        ).scalar_one()
        assert event.data == {"reason": "已更换燃气报警器，复查合格"}
        assert event.actor_id == user("supervisor").id
