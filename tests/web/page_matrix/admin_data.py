"""The admin console's data pages (/admin/grids, units, categories, plans, holidays): admins only, every
other role 403 (the API's rule for changing them); an admin asking for a grid, unit, category or plan that
does not exist gets 404. An admin sees the whole territory and catalogue: the lists hide nothing from them
(a subtree's export leaves the rest out)."""

from __future__ import annotations

from app.emergency.plans import sync_plans
from app.extensions import db
from tests.cases.territory import EAST_GRID, WEST_GRID
from tests.web.page_matrix import Page, World

ADMINS = {"admin"}
MISSING = {"admin": 404, "*": 403}


def seed(world: World) -> None:
    sync_plans()
    db.session.commit()


def pages(world: World) -> list[Page]:
    return [
        Page("/admin/grids", allowed=ADMINS, shows={"admin": ["郫都区", "望丛社区", "第1网格", "第2网格"]}),
        Page(
            f"/admin/grids/{EAST_GRID}", allowed=ADMINS, shows={"admin": ["第2网格", "worker", "自来水公司"]}
        ),
        Page(f"/admin/grids/{WEST_GRID}", allowed=ADMINS, shows={"admin": ["worker_west", "leader_west"]}),
        Page("/admin/grids/510124009", allowed=(), refused=MISSING),
        Page("/admin/grids/import", allowed=ADMINS),
        Page("/admin/grids/export.geojson", allowed=ADMINS, shows={"admin": [EAST_GRID, WEST_GRID]}),
        Page(f"/admin/grids/export.geojson?root={EAST_GRID}", allowed=ADMINS, hides={"admin": [WEST_GRID]}),
        Page("/admin/units", allowed=ADMINS, shows={"admin": ["自来水公司"]}),
        Page("/admin/units/water", allowed=ADMINS, shows={"admin": ["handler", "第2网格"]}),
        Page("/admin/units/new", allowed=ADMINS),
        Page("/admin/units/nosuchunit", allowed=(), refused=MISSING),
        Page("/admin/categories", allowed=ADMINS, shows={"admin": ["E0102", "暴露垃圾"]}),
        Page("/admin/categories/E0102", allowed=ADMINS, shows={"admin": ["暴露垃圾", "4wh"]}),
        Page("/admin/categories/new", allowed=ADMINS),
        Page("/admin/categories/E9999", allowed=(), refused=MISSING),
        Page("/admin/plans", allowed=ADMINS, shows={"admin": ["高层火灾", "城市内涝"]}),
        Page(
            "/admin/plans/high_rise_fire", allowed=ADMINS, shows={"admin": ["高层火灾", "疏散楼内人员并清点"]}
        ),
        Page("/admin/plans/new", allowed=ADMINS),
        Page("/admin/plans/nosuchplan", allowed=(), refused=MISSING),
        Page("/admin/plans/export.json", allowed=ADMINS, shows={"admin": ["high_rise_fire"]}),
        Page("/admin/holidays", allowed=ADMINS, shows={"admin": ["chinesecalendar"]}),
    ]
