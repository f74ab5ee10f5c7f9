"""The inspection pages through the Flask test client: who may open them, launching a campaign from the
form (the service's rules, each refusal in zh-CN beside its field, nothing written), the campaign page and
its map data scoped like the API, the place list and page, and taking a place off the blacklist.

Territory: tests/cases/territory.py. ``worker`` works the east grid, ``worker2`` the west one; the
supervisor and dispatcher the district; ``handler`` is in the water unit (serving the district), ``gas1`` in
the gas unit (serving the east grid only)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import now
from app.config import PROJECT_ROOT
from app.extensions import db
from app.inspections.models import Campaign, CampaignItem, ItemStatus, Place
from app.inspections.places import blacklist, create_place
from app.tasks import services as tasks
from app.web.inspections.progress import grid_state
from app.workflow import deploy
from app.workflow.models import HumanTask, TaskStatus
from tests.cases.territory import (
    DISTRICT,
    EAST_GRID,
    EAST_OPEN_POINT,
    EAST_POINT,
    WEST_GRID,
    WEST_POINT,
    add_unit,
)
from tests.factories import staff_territory
from tests.helpers import complete_by_id as submit
from tests.helpers import fingerprint
from tests.web.pages import PageClient, csrf_token, sign_in

# code: (name, type, (lat, lon)); east: R1, R2 (restaurants); west: S1 (shop), G1 (gas user)
PLACES = {
    "R1": ("川味小馆", "restaurant", EAST_POINT),
    "R2": ("老王面馆", "restaurant", EAST_OPEN_POINT),
    "S1": ("便民小超市", "shop", WEST_POINT),
    "G1": ("张家燃气用户", "gas_user", (30.751, 103.921)),
}
PAGES = ("/inspections/", "/inspections/places")


@pytest.fixture
def app(make_app: Any, request: pytest.FixtureRequest) -> Iterator[Flask]:
    # SQLite unless a test asks for PostgreSQL too (the map and history queries: the production database).
    app = make_app(getattr(request, "param", "sqlite"))
    app.test_client_class = PageClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def territory(app: Flask, users: dict[str, Any], create_user: Any) -> None:
    placements = {"worker": EAST_GRID, "worker2": WEST_GRID, "supervisor": DISTRICT, "dispatcher": DISTRICT}
    staff_territory(create_user, ("community",), {"gas1": "gas"}, placements)
    add_unit("water", "water", DISTRICT)
    add_unit("gas", "gas", EAST_GRID)
    for code, (name, place_type, (lat, lon)) in PLACES.items():
        create_place(
            users["admin"],
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
    path = PROJECT_ROOT / "bpmn" / "inspection_campaign.bpmn"
    deploy.deploy_file(path.name, path.read_bytes(), app.extensions["gridcase.deploy_rules"]())
    db.session.commit()


pytestmark = pytest.mark.usefixtures("users", "territory")


def page_client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, username)
    return client


def place(code: str) -> Place:
    db.session.expire_all()
    return db.session.execute(select(Place).where(Place.code == code)).scalar_one()


def local_deadline(days: float = 7) -> str:
    return (now() + timedelta(days=days) + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")


def launch_form(**overrides: Any) -> dict[str, Any]:
    form = {
        "title": "燃气安全专项检查",
        "unit_code": "water",
        "checklist": "灭火器在有效期内\n燃气报警器正常\n",
        "deadline": local_deadline(),
        "rectify_days": "3",
        "grid": [EAST_GRID],
        "place_type": ["restaurant"],
        "description": "",
        **overrides,
    }
    if isinstance(form["deadline"], int):  # days from now (the parameters are made before the clock exists)
        form["deadline"] = local_deadline(form["deadline"])
    return {k: v for k, v in form.items() if v is not None}


def post_launch(client: FlaskClient, **overrides: Any) -> Any:
    token = csrf_token(client, "/inspections/campaigns/new")
    return client.post("/inspections/campaigns/new", data={**launch_form(**overrides), "csrf_token": token})


def launched(app: Flask, who: str = "supervisor", **overrides: Any) -> Campaign:
    response = post_launch(page_client(app, who), **overrides)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    return db.session.execute(select(Campaign).order_by(Campaign.id.desc())).scalars().first()


def test_who_may_open_the_pages(app: Flask) -> None:
    anonymous = app.test_client()
    for path in (*PAGES, "/inspections/campaigns/new", "/inspections/campaigns/new/map.json"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    for username in ("resident", "designer"):
        client = page_client(app, username)
        for path in PAGES:
            assert client.get(path).status_code == 403
    for username in ("worker", "dispatcher", "community", "supervisor", "handler", "admin"):
        client = page_client(app, username)
        for path in PAGES:
            assert client.get(path).status_code == 200, (username, path)
    # launching: the service's launchers only (department handlers, supervisors, admins)
    for username, status in (("worker", 403), ("dispatcher", 403), ("handler", 200), ("supervisor", 200)):
        client = page_client(app, username)
        assert client.get("/inspections/campaigns/new").status_code == status, username
        assert client.get("/inspections/campaigns/new/map.json").status_code == status, username
    nav = page_client(app, "supervisor").get("/inspections/").get_data(as_text=True)
    assert 'href="/inspections/"' in nav and "专项检查" in nav
    assert 'href="/inspections/"' not in page_client(app, "worker").get("/m/").get_data(as_text=True)


def test_launch_from_the_page_writes_the_campaign_and_shows_its_progress(app: Flask) -> None:
    campaign = launched(app)
    assert campaign.title == "燃气安全专项检查" and campaign.unit_code == "water"
    assert campaign.checklist == [
        {"key": "item_1", "title": "灭火器在有效期内"},
        {"key": "item_2", "title": "燃气报警器正常"},
    ]
    assert (campaign.target_grid_codes, campaign.target_place_types, campaign.rectify_days) == (
        [EAST_GRID],
        ["restaurant"],
        3,
    )
    items = db.session.execute(select(CampaignItem).where(CampaignItem.campaign_id == campaign.id)).scalars()
    assert sorted((i.place.code, i.status, i.inspector) for i in items) == [
        ("R1", "pending", "worker"),
        ("R2", "pending", "worker"),
    ]
    events = db.session.execute(
        select(AuditEvent.action).where(AuditEvent.entity_type == "inspection_campaign")
    ).scalars()
    assert list(events) == ["inspection.campaign_launched"]

    client = page_client(app, "supervisor")
    page = client.get(f"/inspections/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'data-grid="{EAST_GRID}" data-state="pending"' in page
    assert "川味小馆" in page and "老王面馆" in page and "待检查" in page
    assert 'data-done="0" data-total="2"' in page
    data = client.get(f"/inspections/campaigns/{campaign.id}/map.json").get_json()
    assert [g["properties"]["grid_code"] for g in data["grids"]] == [EAST_GRID]
    assert data["grids"][0]["properties"]["state"] == "pending"
    assert {i["name"] for i in data["items"]} == {"老王面馆", "川味小馆"}
    listing = client.get("/inspections/").get_data(as_text=True)
    assert f'data-campaign-id="{campaign.id}"' in listing and "water unit" in listing


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"grid": [], "place_type": []}, "targets", "请选择网格或场所类型（或两者）"),
        ({"grid": [WEST_GRID], "place_type": ["restaurant"]}, "targets", "没有位于所选网格且属于所选类型"),
        ({"deadline": -1}, "deadline", "检查截止时间须晚于当前时间"),
        ({"deadline": "明天"}, "deadline", "请填写全部场所须检查完毕的日期和时间"),
        ({"checklist": "  \n "}, "checklist", "请至少填写一个检查项，每行一项"),
        ({"checklist": "长" * 201}, "checklist", "每个检查项最多 200 个字"),
        ({"rectify_days": "0"}, "rectify_days", "请填写 1 到 60 之间的整数工作日"),
        ({"title": " "}, "title", "请填写检查名称"),
        ({"unit_code": ""}, "unit_code", "请选择发起检查的单位"),
        ({"unit_code": "nosuch"}, "unit_code", "请选择发起检查的单位"),
        ({"grid": ["999999"]}, "grid", "请从列表中选择网格"),
        ({"place_type": ["zoo"]}, "place_type", "请从列表中选择场所类型"),
    ],
)
def test_launch_refusals_are_beside_their_field_and_write_nothing(
    app: Flask, overrides: dict[str, Any], field: str, message: str
) -> None:
    client = page_client(app, "supervisor")
    before = fingerprint()
    response = post_launch(client, **overrides)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="err-{field}"' in page and message in page, page[page.find("field-error") - 200 :][:800]
    assert fingerprint() == before


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_a_handler_launches_for_their_unit_in_their_units_grids(app: Flask) -> None:
    client = page_client(app, "gas1")
    form = client.get("/inspections/campaigns/new").get_data(as_text=True)
    assert f'value="{EAST_GRID}"' in form and f'value="{WEST_GRID}"' not in form  # the gas unit's grid only
    before = fingerprint()
    refused = post_launch(client, unit_code="water", grid=[WEST_GRID], place_type=[])
    assert refused.status_code == 422 and "请从列表中选择网格" in refused.get_data(as_text=True)
    assert fingerprint() == before
    campaign = launched(app, "gas1", unit_code="water", grid=[], place_type=["restaurant"])
    assert campaign.unit_code == "gas"  # a handler's unit, whatever the form says
    data = client.get("/inspections/campaigns/new/map.json").get_json()
    assert {row["grid"][:15] for row in data["counts"]} == {EAST_GRID}
    assert sum(row["n"] for row in data["counts"]) == 2 and len(data["places"]) == 2


def test_the_campaign_is_seen_only_where_it_lies(app: Flask) -> None:
    campaign = launched(app)
    path = f"/inspections/campaigns/{campaign.id}"
    for username in ("worker", "community", "dispatcher", "supervisor", "handler"):
        assert page_client(app, username).get(path).status_code == 200, username
    for username in ("worker2", "gas1"):  # the west grid; another unit
        client = page_client(app, username)
        assert client.get(path).status_code == 404, username
        assert client.get(f"{path}/map.json").status_code == 404, username
        assert f'data-campaign-id="{campaign.id}"' not in client.get("/inspections/").get_data(as_text=True)
    assert page_client(app, "supervisor").get("/inspections/campaigns/999999").status_code == 404


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_item_list_filters_and_grid_states(app: Flask) -> None:
    campaign = launched(app, grid=[], place_type=["restaurant", "shop", "gas_user"])  # east and west
    client = page_client(app, "supervisor")
    page = client.get(f"/inspections/campaigns/{campaign.id}?grid={WEST_GRID}").get_data(as_text=True)
    assert "便民小超市" in page and "川味小馆" not in page
    bad = client.get(f"/inspections/campaigns/{campaign.id}?status=lost")
    assert bad.status_code == 422 and "请从列表中选择" in bad.get_data(as_text=True)
    assert grid_state({"total": 2, "done": 2, "failed": 0}) == "done"
    assert grid_state({"total": 2, "done": 1, "failed": 1}) == "failed"
    assert grid_state({"total": 2, "done": 1, "failed": 0}) == "pending"
    item = db.session.execute(
        select(CampaignItem).join(Place).where(CampaignItem.campaign_id == campaign.id, Place.code == "S1")
    ).scalar_one()
    item.status = ItemStatus.PASSED  # as the inspection would leave it (the e2e test inspects for real)
    db.session.commit()
    data = client.get(f"/inspections/campaigns/{campaign.id}/map.json").get_json()
    states = {g["properties"]["grid_code"]: g["properties"]["state"] for g in data["grids"]}
    assert states == {EAST_GRID: "pending", WEST_GRID: "pending"}
    assert {i["name"]: i["status"] for i in data["items"]}["便民小超市"] == "passed"


def test_place_list_and_page_in_territory(app: Flask) -> None:
    worker = page_client(app, "worker")
    listing = worker.get("/inspections/places").get_data(as_text=True)
    assert "川味小馆" in listing and "便民小超市" not in listing  # the west grid is not theirs
    assert worker.get(f"/inspections/places/{place('S1').id}").status_code == 404
    assert worker.get("/inspections/places/999999").status_code == 404
    page = worker.get(f"/inspections/places/{place('R1').id}").get_data(as_text=True)
    assert "未列入黑名单" in page and "unblacklist-form" not in page
    assert page_client(app, "gas1").get(f"/inspections/places/{place('S1').id}").status_code == 404
    bad = worker.get("/inspections/places?blacklisted=maybe")
    assert bad.status_code == 422 and 'id="err-blacklisted"' in bad.get_data(as_text=True)


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_unblacklist_needs_a_reason_and_is_audited(app: Flask) -> None:
    r1 = place("R1")
    blacklist(r1, "复查仍不合格：燃气报警器", now(), None)
    db.session.commit()
    supervisor = page_client(app, "supervisor")
    path = f"/inspections/places/{r1.id}"
    page = supervisor.get(path).get_data(as_text=True)
    assert "自 " in page and "复查仍不合格：燃气报警器" in page and 'id="unblacklist-form"' in page
    listing = supervisor.get("/inspections/places?blacklisted=true").get_data(as_text=True)
    assert "川味小馆" in listing and "老王面馆" not in listing

    worker = page_client(app, "worker")  # signed in first: signing in is audited
    before = fingerprint()
    for reason in ("", "   ", "长" * 501):
        token = csrf_token(supervisor, path)
        refused = supervisor.post(f"{path}/unblacklist", data={"reason": reason, "csrf_token": token})
        assert refused.status_code == 422
        text = refused.get_data(as_text=True)
        assert 'id="err-reason"' in text
        assert ("最多 500 个字" if reason.startswith("长") else "请填写移出黑名单的理由") in text
    assert fingerprint() == before
    # a grid worker may read the place but not change the registry
    token = csrf_token(worker, path)
    assert (
        worker.post(f"{path}/unblacklist", data={"reason": "整改完成", "csrf_token": token}).status_code
        == 403
    )
    assert fingerprint() == before

    token = csrf_token(supervisor, path)
    done = supervisor.post(f"{path}/unblacklist", data={"reason": "已整改并复查合格", "csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"].endswith(path)
    r1 = place("R1")
    assert (r1.blacklisted, r1.blacklist_reason, r1.blacklisted_at) == (False, None, None)
    event = db.session.execute(
        select(AuditEvent).where(
            AuditEvent.action == "place.unblacklisted", AuditEvent.entity_id == str(r1.id)
        )
    ).scalar_one()
    assert event.data == {"reason": "已整改并复查合格"} and event.actor_label
    page = supervisor.get(path).get_data(as_text=True)
    assert "未列入黑名单" in page and "移出黑名单：已整改并复查合格" in page
    again = supervisor.post(f"{path}/unblacklist", data={"reason": "再次", "csrf_token": token})
    assert again.status_code == 302  # not blacklisted any more: said on the page, nothing changed
    assert "该场所（已）不在黑名单上" in supervisor.get(path).get_data(as_text=True)


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_place_page_shows_the_inspection_and_its_rectification_notice(app: Flask, auth: Any) -> None:
    campaign = launched(app)
    r1 = place("R1")
    (task,) = [
        t
        for t in db.session.execute(select(HumanTask).where(HumanTask.element_id == "inspect")).scalars()
        if t.status in TaskStatus.OPEN
        and t.candidate_user == "worker"
        and tasks.task_data(t)["target"]["item_id"] == item_id(campaign.id, "R1")
    ]
    results = {"item_1": {"result": "pass"}, "item_2": {"result": "fail", "note": "报警器不响"}}
    submit(app.test_client(), auth, "worker", task.id, {"results": results})
    item = db.session.get(CampaignItem, item_id(campaign.id, "R1"))
    assert item is not None and item.status == "rectifying" and item.rectify_due_at is not None

    client = page_client(app, "supervisor")
    page = client.get(f"/inspections/places/{r1.id}").get_data(as_text=True)
    assert f'data-item-id="{item.id}" data-status="rectifying"' in page
    assert "燃气安全专项检查" in page and "整改中" in page and "燃气报警器正常" in page
    assert "下达，限" in page and "前整改" in page  # the rectification notice and its deadline
    assert page_client(app, "worker2").get(f"/inspections/places/{r1.id}").status_code == 404
    progress = client.get(f"/inspections/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'data-grid="{EAST_GRID}" data-state="pending"' in progress and "整改中 1" in progress


def item_id(campaign_id: int, code: str) -> int:
    db.session.expire_all()
    return db.session.execute(
        select(CampaignItem.id)
        .join(Place, Place.id == CampaignItem.place_id)
        .where(CampaignItem.campaign_id == campaign_id, Place.code == code)
    ).scalar_one()
