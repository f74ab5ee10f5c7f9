"""The admin console's data pages through the Flask test client: only admins (everyone else 403, anonymous
to sign-in, an unknown grid, category, unit or plan 404), the grid tree and a grid's page, the GeoJSON
import (plain form and streamed with its progress; all or nothing, each rejected feature with its reason in
zh-CN), the export, categories, units and plans edited with the API's validation (the reason beside the
field, the database unchanged), and the holiday schedule file, counted by the time limits at once."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app import runtime
from app.audit.models import AuditEvent
from app.cases.models import Case
from app.categories.models import Category
from app.emergency.models import EmergencyPlan
from app.emergency.plans import sync_plans
from app.extensions import db
from app.grids.models import Grid
from app.units.models import Unit
from tests.cases.territory import COMMUNITY, DISTRICT, EAST_GRID, WEST_GRID, add_unit, assign, build_territory
from tests.grids.shapes import box_feature, collection
from tests.helpers import complete, count, ensure_catalogue, fingerprint, report
from tests.web.pages import PageClient, csrf_token, sign_in

CST = timezone(timedelta(hours=8))
PAGES = [
    "/admin/grids",
    "/admin/grids/import",
    "/admin/units",
    "/admin/categories",
    "/admin/plans",
    "/admin/holidays",
]
HOLIDAYS_2027 = {
    "year": "2027",
    "source": "国办发明电〔2026〕测试号",
    "holidays": "2027-01-01\n2027-02-05 ~ 2027-02-12",
    "workdays": "2027-02-20",
}


@pytest.fixture
def app(make_app: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    # SQLite unless a test asks for PostgreSQL too (the import's own thread and transaction).
    backend = getattr(request, "param", "sqlite")
    app = make_app(backend, holiday_schedule_file=tmp_path / "holidays.json")
    app.test_client_class = PageClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def territory(users: dict[str, Any]) -> None:
    build_territory()
    assign("worker", EAST_GRID)
    add_unit("water", "water", COMMUNITY)


def _as(client: FlaskClient, username: str) -> FlaskClient:
    sign_in(client, username)
    return client


def _post(client: FlaskClient, path: str, data: dict[str, Any], page: str | None = None) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page or path)})


def _text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# -- who may use the pages -------------------------------------------------------------------------


def test_only_admins_use_the_data_pages(app, users):
    anonymous = app.test_client()
    for path in PAGES:
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for username in ("worker", "dispatcher", "supervisor", "designer", "handler", "resident"):
        other = _as(app.test_client(), username)
        for path in PAGES:
            assert other.get(path).status_code == 403, (username, path)
        assert _post(other, "/admin/holidays", HOLIDAYS_2027, page="/login").status_code == 403
    admin = _as(app.test_client(), "admin")
    for path in PAGES:
        assert admin.get(path).status_code == 200, path


def test_unknown_things_answer_404(client, territory):
    admin = _as(client, "admin")
    for path in (
        "/admin/grids/510124009",
        "/admin/grids/not-a-code",
        "/admin/grids/export.geojson?root=510124009",
        "/admin/categories/E9999",
        "/admin/units/nosuchunit",
        "/admin/plans/nosuchplan",
    ):
        response = admin.get(path)
        assert response.status_code == 404, path
        assert "未找到" in _text(response) or "Not found" in _text(response), path


# -- grids -------------------------------------------------------------------------------------------


def test_the_tree_and_a_grids_page(client, territory):
    admin = _as(client, "admin")
    page = _text(admin.get("/admin/grids"))
    for code in (DISTRICT, COMMUNITY, WEST_GRID, EAST_GRID):
        assert f'data-code="{code}"' in page
    assert "小区和楼栋 1 个" in page  # the compound under the east grid is counted, not listed
    grid = _text(admin.get(f"/admin/grids/{EAST_GRID}"))
    assert "第2网格" in grid and "综合网格" in grid
    assert 'id="grid-members"' in grid and "worker" in grid
    assert 'id="grid-units"' in grid and "/admin/units/water" in grid  # serves the community above it
    feature = json.loads(grid.split("data-grid='")[1].split("'")[0].replace("&#34;", '"'))
    assert feature["properties"]["code"] == EAST_GRID and feature["geometry"]["type"] == "Polygon"
    assert "锦绣花园" in grid  # the compound below


def _geojson_upload(content: dict[str, Any], name: str = "territory.geojson") -> tuple[io.BytesIO, str]:
    return io.BytesIO(json.dumps(content, ensure_ascii=False).encode()), name


def _territory_with_one_bad_feature() -> dict[str, Any]:
    return collection(
        box_feature("510125", "温江区", (104.00, 30.70, 104.10, 30.80)),
        box_feature("510125001", "柳城街道", (104.00, 30.70, 104.10, 30.80)),
        box_feature("510125001001", "光华社区", (104.00, 30.70, 104.05, 30.75)),
        box_feature("510125001002", "越界社区", (104.04, 30.70, 104.20, 30.75)),  # outside its street
    )


def test_a_rejected_import_lists_each_feature_with_its_reason_and_writes_nothing(client, territory):
    admin = _as(client, "admin")
    before = fingerprint()
    response = admin.post(
        "/admin/grids/import",
        data={"file": _geojson_upload(_territory_with_one_bad_feature()), "csrf_token": csrf_token(admin)},
    )
    assert response.status_code == 422
    page = _text(response)
    assert 'data-outcome="rejected"' in page
    assert 'data-index="3" data-kind="outside_parent"' in page
    assert "510125001002" in page and "超出上级范围" in page
    assert "4 个要素中有 1 个被拒绝" in page
    assert fingerprint() == before
    assert count(Grid, Grid.code.startswith("510125")) == 0


def test_a_good_import_creates_the_grids_and_is_audited(client, territory):
    admin = _as(client, "admin")
    good = collection(*_territory_with_one_bad_feature()["features"][:3])
    response = admin.post(
        "/admin/grids/import", data={"file": _geojson_upload(good), "csrf_token": csrf_token(admin)}
    )
    assert response.status_code == 201
    assert "新建网格 3 个" in _text(response)
    assert count(Grid, Grid.code.startswith("510125")) == 3
    event = (
        db.session.execute(select(AuditEvent).where(AuditEvent.action == "grids.imported")).scalars().all()
    )
    assert event[-1].actor_id is not None and event[-1].data["created"] == 3


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_the_streamed_import_reports_progress_then_the_result(client, territory):
    admin = _as(client, "admin")
    response = admin.post(
        "/admin/grids/import",
        data={"file": _geojson_upload(_territory_with_one_bad_feature()), "csrf_token": csrf_token(admin)},
        headers={"Accept": "application/x-ndjson"},
    )
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in _text(response).splitlines()]
    checking = [line for line in lines if line["phase"] == "checking"]
    assert [line["done"] for line in checking] == [1, 2, 3, 4] and checking[-1]["total"] == 4
    assert lines[-2] == {"phase": "relations"}
    assert lines[-1]["phase"] == "rejected" and "超出上级范围" in lines[-1]["html"]
    assert count(Grid, Grid.code.startswith("510125")) == 0

    good = collection(*_territory_with_one_bad_feature()["features"][:3])
    response = admin.post(
        "/admin/grids/import",
        data={"file": _geojson_upload(good), "csrf_token": csrf_token(admin)},
        headers={"Accept": "application/x-ndjson"},
    )
    last = json.loads(_text(response).splitlines()[-1])
    assert last["phase"] == "done" and "新建网格 3 个" in last["html"]
    assert count(Grid, Grid.code.startswith("510125")) == 3


def test_a_file_that_is_not_geojson_is_refused_beside_the_field(client, territory):
    admin = _as(client, "admin")
    before = fingerprint()
    response = admin.post(
        "/admin/grids/import",
        data={"file": (io.BytesIO(b"not json"), "x.geojson"), "csrf_token": csrf_token(admin)},
    )
    assert response.status_code == 422
    assert 'id="err-file"' in _text(response) and 'data-outcome="invalid"' in _text(response)
    assert fingerprint() == before


def test_export_downloads_what_the_import_reads(client, territory):
    admin = _as(client, "admin")
    response = admin.get("/admin/grids/export.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert "attachment" in response.headers["Content-Disposition"]
    codes = [f["properties"]["code"] for f in json.loads(_text(response))["features"]]
    assert codes[0] == DISTRICT and EAST_GRID in codes
    subtree = json.loads(_text(admin.get(f"/admin/grids/export.geojson?root={EAST_GRID}")))
    assert [f["properties"]["code"] for f in subtree["features"]] == [EAST_GRID, EAST_GRID + "001"]


# -- categories --------------------------------------------------------------------------------------


def _category_form(category: Category, **changes: str) -> dict[str, str]:
    form = {
        "name": category.name,
        "name_en": category.name_en or "",
        "default_severity": category.default_severity,
        "responsible_level": category.responsible_level,
        "responsible_unit_kind": category.responsible_unit_kind or "",
        "handle_limit": category.handle_limit,
        "close_limit": category.close_limit,
        "process_key": category.process_key,
        "active": "1",
    }
    return form | changes


def test_a_category_edit_with_bad_input_is_refused_beside_the_field(client, users):
    ensure_catalogue()
    admin = _as(client, "admin")
    category = db.session.get(Category, "E0102")
    before = fingerprint()
    response = _post(
        admin,
        "/admin/categories/E0102",
        _category_form(category, handle_limit="4 hours", responsible_level="unit"),
    )
    assert response.status_code == 422
    page = _text(response)
    assert 'id="err-handle_limit"' in page and "4wh（工作小时）" in page
    assert 'id="err-responsible_unit_kind"' in page and "责任主体为单位时必填" in page
    assert 'value="4 hours"' in page  # what was typed is kept
    assert fingerprint() == before
    db.session.expire_all()
    assert db.session.get(Category, "E0102").handle_limit == "4wh"


def test_a_category_is_changed_and_created_with_audit(client, users):
    ensure_catalogue()
    admin = _as(client, "admin")
    response = _post(
        admin,
        "/admin/categories/E0102",
        _category_form(db.session.get(Category, "E0102"), handle_limit="6wh"),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Category, "E0102").handle_limit == "6wh"
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "category.updated", AuditEvent.entity_id == "E0102")
    ).scalar_one()
    assert event.before["handle_limit"] == "4wh" and event.after["handle_limit"] == "6wh"
    listing = _text(admin.get("/admin/categories?q=暴露"))
    assert "E0102" in listing and "6wh" in listing and "共 1 个类别" in listing
    new = _category_form(db.session.get(Category, "E0102"), name="乱扔烟头", handle_limit="2wh") | {
        "code": "E0199"
    }
    assert _post(admin, "/admin/categories/new", new).status_code == 302
    assert db.session.get(Category, "E0199").name == "乱扔烟头"


# -- units -------------------------------------------------------------------------------------------


def test_units_are_created_and_edited_with_the_apis_rules(client, territory):
    admin = _as(client, "admin")
    before = fingerprint()
    refused = _post(
        admin,
        "/admin/units/new",
        {"code": "Bad Code", "name": "绿城物业", "kind": "property", "grids": f"{EAST_GRID}\n510124009009"},
        page="/admin/units/new",
    )
    assert refused.status_code == 422 and 'id="err-code"' in _text(refused)
    assert fingerprint() == before
    refused = _post(
        admin,
        "/admin/units/new",
        {"code": "lvcheng", "name": "绿城物业", "kind": "property", "grids": "510124009009"},
    )
    assert (
        refused.status_code == 422 and 'id="err-grids"' in _text(refused) and "510124009009" in _text(refused)
    )
    assert fingerprint() == before
    created = _post(
        admin,
        "/admin/units/new",
        {"code": "lvcheng", "name": "绿城物业", "kind": "property", "grids": EAST_GRID},
    )
    assert created.status_code == 302
    unit = db.session.execute(select(Unit).where(Unit.code == "lvcheng")).scalar_one()
    assert [g.code for g in unit.grids] == [EAST_GRID]
    assert "绿城物业" in _text(admin.get(f"/admin/grids/{EAST_GRID}"))
    saved = _post(
        admin,
        "/admin/units/lvcheng",
        {
            "name": "绿城物业服务",
            "kind": "property",
            "phone": "028-1234",
            "grids": f"{EAST_GRID}\n{WEST_GRID}",
            "active": "1",
        },
    )
    assert saved.status_code == 302
    db.session.expire_all()
    unit = db.session.execute(select(Unit).where(Unit.code == "lvcheng")).scalar_one()
    assert unit.name == "绿城物业服务" and sorted(g.code for g in unit.grids) == [WEST_GRID, EAST_GRID]
    actions = (
        db.session.execute(
            select(AuditEvent.action).where(AuditEvent.entity_id == "lvcheng").order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert actions == ["unit.created", "unit.updated", "unit.grids_set"]


# -- plans -------------------------------------------------------------------------------------------


def _plan_form(plan: EmergencyPlan, **changes: Any) -> dict[str, Any]:
    rows = plan.responders
    form: dict[str, Any] = {
        "name": plan.name,
        "name_en": plan.name_en,
        "description": plan.description,
        "checklist": "\n".join(plan.checklist),
        "categories": "\n".join(plan.triggers.get("categories", [])),
        "alarm_types": plan.triggers.get("alarm_types", []),
        "contact_call_limit": plan.contact_call_limit or "",
        "who": [
            r.get("unit_kind") or ("grid_worker" if r.get("grid_worker") else f"unit:{r['unit_code']}")
            for r in rows
        ]
        + [""],
        "limit": [r["limit"] for r in rows] + [""],
        "label": [r.get("label", "") for r in rows] + [""],
    }
    return form | changes


def test_a_plan_edit_marks_the_refused_row_and_saves_a_good_one(client, users):
    sync_plans()
    db.session.commit()
    admin = _as(client, "admin")
    plan = db.session.execute(
        select(EmergencyPlan).where(EmergencyPlan.code == "high_rise_fire")
    ).scalar_one()
    form = _plan_form(plan)
    form["limit"] = list(form["limit"])
    form["limit"][1] = "soon"
    before = fingerprint()
    refused = _post(admin, "/admin/plans/high_rise_fire", form)
    assert refused.status_code == 422
    assert 'id="err-row-1-limit"' in _text(refused) and "soon" in _text(refused)
    assert fingerprint() == before
    form["limit"][1] = "8m"
    form["checklist"] += "\n通知燃气公司"
    assert _post(admin, "/admin/plans/high_rise_fire", form).status_code == 302
    db.session.expire_all()
    plan = db.session.execute(
        select(EmergencyPlan).where(EmergencyPlan.code == "high_rise_fire")
    ).scalar_one()
    assert plan.version == 2 and plan.responders[1]["limit"] == "8m" and plan.checklist[-1] == "通知燃气公司"
    listing = _text(admin.get("/admin/plans"))
    assert "高层火灾" in listing


# -- holidays ----------------------------------------------------------------------------------------


def test_bad_holidays_are_refused_beside_the_fields_and_nothing_is_written(app, client, users):
    admin = _as(client, "admin")
    before = fingerprint()
    response = _post(
        admin,
        "/admin/holidays",
        {
            "year": "2027",
            "source": "",
            "holidays": "2027-01-01\n2028-01-03\n2027-02-30",
            "workdays": "2027-01-01\n2027-02-22",
        },
    )
    assert response.status_code == 422
    page = _text(response)
    assert 'id="err-holidays"' in page and "2028-01-03 不在该年内" in page and "2027-02-30 不是日期" in page
    assert 'id="err-workdays"' in page and "2027-01-01 既是放假日又是调休上班日" in page
    assert "2027-02-22 是工作日" in page
    assert fingerprint() == before
    assert not app.extensions["gridcase.settings"].holiday_schedule_file.exists()


def test_2027_set_in_the_page_is_counted_by_the_time_limits_at_once(
    app, client, users, clock, auth, deployed
):
    page = _text(_as(client, "admin").get("/admin/holidays"))
    assert 'data-year="2027"' in page and "2027 年：尚无安排" in page
    calendar = runtime.working_calendar()
    assert calendar.is_workday(
        datetime(2027, 1, 1).date()
    )  # a plain Friday until the schedule says otherwise
    response = _post(client, "/admin/holidays", HOLIDAYS_2027)
    assert response.status_code == 302
    schedule = json.loads(app.extensions["gridcase.settings"].holiday_schedule_file.read_text())
    assert (
        schedule["2027"]["holidays"][:2] == ["2027-01-01", "2027-02-05"]
        and len(schedule["2027"]["holidays"]) == 9
    )
    assert schedule["2027"]["workdays"] == ["2027-02-20"]
    assert "2027 年：按安排文件" in _text(client.get("/admin/holidays"))
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "holidays.year_set")
    ).scalar_one()
    assert event.entity_id == "2027" and event.before is None

    # Thursday 31 December 16:00 + 4 working hours: 1.5 h that day, then New Year's Day and the weekend off,
    # so Monday 4 January 11:00 (without the file: Friday 1 January 11:00, marked provisional).
    clock.set(datetime(2026, 12, 31, 16, 0, tzinfo=CST))
    key = report(client, auth)["key"]
    complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "accept"})
    complete(client, auth, "dispatcher", key, "dispatch", {"handler_user": "worker"})
    db.session.expire_all()
    case = db.session.execute(select(Case).where(Case.key == key)).scalar_one()
    assert case.due_at.astimezone(CST) == datetime(2027, 1, 4, 11, 0, tzinfo=CST)
    limit = db.session.execute(
        select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action == "case.time_limit_set")
    ).scalar_one()
    assert limit.after.get("provisional_years") in (None, [])
    # Spring Festival: Thursday 4 February 16:00 + 4 working hours ends after the 8 days off, Saturday 13th
    # and Sunday 14th, on Monday 15 February.
    due = calendar.add_working_hours(datetime(2027, 2, 4, 16, 0, tzinfo=CST), 4)
    assert due.astimezone(CST) == datetime(2027, 2, 15, 11, 0, tzinfo=CST)
    assert calendar.is_workday(datetime(2027, 2, 20).date())  # the make-up Saturday


def test_a_schedule_file_is_uploaded_year_by_year(app, client, users):
    admin = _as(client, "admin")
    bad = {"2027": {"holidays": ["2027-01-01"], "workdays": ["2027-01-04"]}}
    response = admin.post(
        "/admin/holidays/upload",
        data={
            "file": (io.BytesIO(json.dumps(bad).encode()), "h.json"),
            "csrf_token": csrf_token(admin, "/admin/holidays"),
        },
    )
    assert response.status_code == 422 and "2027-01-04 是工作日" in _text(response)
    good = {"2027": {"source": "测试", "holidays": ["2027-01-01"], "workdays": []}}
    response = admin.post(
        "/admin/holidays/upload",
        data={
            "file": (io.BytesIO(json.dumps(good).encode()), "h.json"),
            "csrf_token": csrf_token(admin, "/admin/holidays"),
        },
    )
    assert response.status_code == 302
    assert not runtime.working_calendar().is_workday(datetime(2027, 1, 1, tzinfo=UTC).date())


def test_a_plans_file_is_imported_all_or_nothing(client, users):
    sync_plans()
    db.session.commit()
    admin = _as(client, "admin")
    exported = json.loads(_text(admin.get("/admin/plans/export.json")))
    assert len(exported["plans"]) == 5
    new = dict(exported["plans"][0], code="river_flood", name="河道汛情", name_en="River flood")
    bad = dict(new, code="bad_plan", responders=[{"unit_kind": "fire", "limit": "later"}])
    before = fingerprint()
    refused = admin.post(
        "/admin/plans/import",
        data={
            "file": (io.BytesIO(json.dumps({"plans": [new, bad]}).encode()), "plans.json"),
            "csrf_token": csrf_token(admin, "/admin/plans"),
        },
    )
    assert refused.status_code == 422
    page = _text(refused)
    assert 'id="plans-import-errors"' in page and "bad_plan" in page and "自然分钟（15m）" in page
    assert fingerprint() == before
    done = admin.post(
        "/admin/plans/import",
        data={
            "file": (io.BytesIO(json.dumps({"plans": [new]}).encode()), "plans.json"),
            "csrf_token": csrf_token(admin, "/admin/plans"),
        },
    )
    assert done.status_code == 302
    assert count(EmergencyPlan, EmergencyPlan.code == "river_flood") == 1
    assert "新增 1 个" in _text(admin.get("/admin/plans"))


def test_a_plan_is_deactivated_and_reactivated(client, users):
    from app.emergency.plans import create_plan, deactivate_plan
    from app.units.services import deactivate_unit

    sync_plans()
    create_plan(
        users["admin"],
        {
            "code": "water_main_burst",
            "name": "供水主管爆裂",
            "name_en": "Water main burst",
            "responders": [{"unit_code": "water", "limit": "15m", "label": "关阀抢修"}],
            "checklist": ["关闭上游阀门"],
        },
    )
    db.session.commit()
    admin = _as(client, "admin")
    done = _post(admin, "/admin/plans/high_rise_fire/deactivate", {}, page="/admin/plans/high_rise_fire")
    assert done.status_code == 302
    plan = db.session.execute(
        select(EmergencyPlan).where(EmergencyPlan.code == "high_rise_fire")
    ).scalar_one()
    assert plan.active is False
    assert 'data-code="high_rise_fire"' not in _text(admin.get("/admin/plans"))
    assert 'data-code="high_rise_fire"' in _text(admin.get("/admin/plans?inactive=1"))
    assert (
        _post(
            admin, "/admin/plans/high_rise_fire/reactivate", {}, page="/admin/plans/high_rise_fire"
        ).status_code
        == 302
    )
    db.session.expire_all()
    assert plan.active is True and plan.version == 2

    # A plan naming a unit deactivated since cannot come back as it is: the row says why.
    deactivate_plan(users["admin"], "water_main_burst")
    deactivate_unit("water")
    db.session.commit()
    before = fingerprint()
    refused = _post(
        admin, "/admin/plans/water_main_burst/reactivate", {}, page="/admin/plans/water_main_burst"
    )
    assert refused.status_code == 422
    assert 'id="err-row-0-unit_code"' in _text(refused) and "请选择一个启用中的单位" in _text(refused)
    assert fingerprint() == before


def test_the_pages_speak_english_on_request(client, territory):
    admin = _as(client, "admin")
    admin.get("/lang/en?next=/admin/grids")
    page = _text(admin.get("/admin/grids"))
    assert "Grid tree" in page and "District" in page and "Comprehensive grid" in page and "区县" not in page
    before = fingerprint()
    response = admin.post(
        "/admin/grids/import",
        data={"file": _geojson_upload(_territory_with_one_bad_feature()), "csrf_token": csrf_token(admin)},
    )
    assert response.status_code == 422 and "Outside its parent" in _text(response)
    assert fingerprint() == before


def test_a_schedule_file_broken_by_hand_is_shown_not_overwritten(app, client, users):
    path = app.extensions["gridcase.settings"].holiday_schedule_file
    path.write_text('{"2027": {"holidays": ["2027-02-30"]}}')
    admin = _as(client, "admin")
    page = _text(admin.get("/admin/holidays"))
    assert 'id="file-broken"' in page and "安排文件无法读取" in page and 'id="holiday-form"' not in page
    assert _post(admin, "/admin/holidays", HOLIDAYS_2027, page="/admin/holidays").status_code == 422
    assert path.read_text() == '{"2027": {"holidays": ["2027-02-30"]}}'
