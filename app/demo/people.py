"""The demo district's people and units: who exists, which grids they work, which units serve where.

Everything here is a function of the territory and the seed, and every step is "ensure": what exists already
is left as it is (or put back the way the demo wants it), so seeding twice changes nothing."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app.auth.models import User
from app.auth.roles import Role
from app.auth.services import create_user
from app.extensions import db
from app.grids.demo import DISTRICT_CODE, STREET_CODE, demo_territory
from app.grids.members import set_user_grids
from app.grids.models import Grid
from app.grids.services import import_geojson
from app.units.services import ensure_units, require_unit, set_unit_grids

WORKERS = 20
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许邓冯韩曹曾彭肖蔡潘田董袁于余叶蒋杜苏魏程吕丁沈任姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严覃武"  # noqa: E501
_GIVEN = (  # given names
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "霞", "平", "刚", "燕", "辉", "玲", "桂英", "秀英", "建华",
    "建国", "志强", "晓燕", "海燕", "红梅", "小红",
    "丹", "萍", "鹏", "华", "飞", "斌", "宇", "浩", "凯", "琳", "雪", "倩", "婷", "欣", "蕾", "瑶",
    "俊", "帆", "宏", "波", "晨", "颖", "佳", "琴", "建平", "玉兰", "春梅", "国强",
)  # fmt: skip


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    name: str  # display name, zh-CN
    unit: str | None = None
    grids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoUnit:
    code: str
    name: str
    kind: str
    phone: str
    grids: tuple[str, ...]
    handlers: tuple[str, ...]  # usernames of its department handlers


@dataclass
class Cast:
    """Who the demo has, and where: what the case generator draws from."""

    users: list[DemoUser]
    units: list[DemoUnit]
    grids: list[str]  # the comprehensive grids, by code
    workers_by_grid: dict[str, list[str]] = field(default_factory=dict)
    residents: list[str] = field(default_factory=list)


def _names(rng: random.Random) -> list[str]:
    """Distinct zh-CN names in a seed-fixed order."""
    names = [surname + given for surname in SURNAMES for given in _GIVEN]
    rng.shuffle(names)
    return names


def comprehensive_grids(territory: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in territory["features"] if f["properties"]["level"] == "grid"]


def cast_for(territory: dict[str, Any], seed: int) -> Cast:
    """The demo's people and units for ``territory``: a pure function of the territory and the seed."""
    rng = random.Random(f"people-{seed}")
    names = iter(_names(rng))
    features = territory["features"]
    grids = [f["properties"]["code"] for f in comprehensive_grids(territory)]
    communities = [f for f in features if f["properties"]["level"] == "community"]
    compounds_by_grid: dict[str, list[str]] = {}
    for f in features:
        if f["properties"]["level"] == "compound":
            compounds_by_grid.setdefault(f["properties"]["code"][:15], []).append(f["properties"]["code"])

    users = [
        DemoUser("admin", Role.ADMIN, "系统管理员"),
        DemoUser("designer", Role.DESIGNER, f"流程设计员 {next(names)}"),
        DemoUser("dispatcher", Role.DISPATCHER, f"指挥中心调度员 {next(names)}", grids=(DISTRICT_CODE,)),
        DemoUser("supervisor", Role.SUPERVISOR, f"督办员 {next(names)}", grids=(DISTRICT_CODE,)),
        DemoUser("district1", Role.DISTRICT_COORDINATOR, f"区级协调员 {next(names)}", grids=(DISTRICT_CODE,)),
        DemoUser("street1", Role.STREET_COORDINATOR, f"郫筒街道协调员 {next(names)}", grids=(STREET_CODE,)),
    ]
    for n, community in enumerate(communities, start=1):
        props = community["properties"]
        users.append(
            DemoUser(
                f"community{n}",
                Role.COMMUNITY_STAFF,
                f"{props['name']} {next(names)}",
                grids=(props["code"],),
            )
        )
    # Grid workers: one per comprehensive grid, the rest as second workers of grids drawn by the seed.
    workers_by_grid: dict[str, list[str]] = {code: [] for code in grids}
    busy = rng.sample(grids, max(0, WORKERS - len(grids)))
    for n, grid in enumerate([*grids, *sorted(busy)][:WORKERS], start=1):
        username = f"worker{n}"
        workers_by_grid[grid].append(username)
        users.append(DemoUser(username, Role.GRID_WORKER, f"网格员 {next(names)}", grids=(grid,)))
    # Grid leaders (网格长): each leads four neighbouring grids.
    for n in range(0, len(grids), 4):
        led = tuple(grids[n : n + 4])
        users.append(DemoUser(f"leader{n // 4 + 1}", Role.GRID_LEADER, f"网格长 {next(names)}", grids=led))

    units = _units(grids, compounds_by_grid)
    for unit in units:
        for handler in unit.handlers:
            users.append(
                DemoUser(handler, Role.DEPARTMENT_HANDLER, f"{unit.name} {next(names)}", unit=unit.code)
            )
    residents = [f"resident{n}" for n in range(1, 7)]
    users.extend(DemoUser(r, Role.RESIDENT, f"居民 {next(names)}") for r in residents)
    return Cast(users, units, grids, workers_by_grid, residents)


_PROPERTY_COMPANIES = (
    ("property-jincheng", "锦城物业服务有限公司"),
    ("property-shuxin", "蜀信物业管理有限公司"),
    ("property-wanjia", "万家物业服务有限公司"),
    ("property-anju", "安居物业管理有限公司"),
)


def _units(grids: list[str], compounds_by_grid: dict[str, list[str]]) -> list[DemoUnit]:
    """Units of every kind: a property company per group of four grids' compounds, sanitation and the street
    office for the street, utilities, police, fire and bureaus for the district."""
    units = []
    groups = [grids[n : n + 4] for n in range(0, len(grids), 4)]
    for n, group in enumerate(groups):
        code, name = _PROPERTY_COMPANIES[n % len(_PROPERTY_COMPANIES)]
        code = code if n < len(_PROPERTY_COMPANIES) else f"{code}-{n}"
        compounds = tuple(c for grid in group for c in compounds_by_grid.get(grid, []))
        units.append(DemoUnit(code, name, "property", f"028-8790{n:04d}", compounds, (f"property{n + 1}",)))
    district, street = (DISTRICT_CODE,), (STREET_CODE,)
    units += [
        DemoUnit(
            "sanitation",
            "郫筒街道环卫所",
            "sanitation",
            "028-87922301",
            street,
            ("sanitation1", "sanitation2"),
        ),
        DemoUnit(
            "street-office", "郫筒街道办事处", "street_office", "028-87922100", street, ("streetoffice1",)
        ),
        DemoUnit("water", "郫都区自来水公司", "water", "028-87881234", district, ("water1", "water2")),
        DemoUnit("power", "国网成都市郫都供电公司", "power", "028-87885678", district, ("power1",)),
        DemoUnit("gas", "郫都区燃气有限公司", "gas", "028-87883456", district, ("gas1",)),
        DemoUnit("police", "郫筒派出所", "police", "028-87922110", district, ("police1",)),
        DemoUnit("fire", "郫都区消防救援大队", "fire", "028-87920119", district, ("fire1",)),
        DemoUnit(
            "bureau-enforcement",
            "郫都区综合行政执法局",
            "district_bureau",
            "028-87920012",
            district,
            ("zhifa1",),
        ),
        DemoUnit(
            "bureau-housing",
            "郫都区住房和城乡建设局",
            "district_bureau",
            "028-87920345",
            district,
            ("zhujian1",),
        ),
        DemoUnit(
            "bureau-transport",
            "郫都区交通运输局",
            "district_bureau",
            "028-87920678",
            district,
            ("jiaotong1",),
        ),
    ]
    return units


# -- writing ----------------------------------------------------------------------------------------


@dataclass
class PeopleReport:
    users: int = 0  # new ones
    units: int = 0


def ensure_territory(seed: int = 7) -> tuple[dict[str, Any], int]:
    """Import the demo territory (what is there already is skipped); return it and the count of new grids."""
    territory = demo_territory(seed)
    if db.session.execute(select(Grid.id).where(Grid.code == DISTRICT_CODE)).first() is not None:
        stored = db.session.execute(select(Grid.code).where(Grid.code.startswith(DISTRICT_CODE))).scalars()
        if len(set(stored)) == len(territory["features"]):
            return territory, 0  # fast path: the whole tree is there already
    return territory, import_geojson(territory).created


def ensure_people(cast: Cast, password: str, password_method: str) -> PeopleReport:
    """Create the cast's units and users that do not exist yet, and give everyone their grids."""
    report = PeopleReport()
    report.units = ensure_units(
        {"code": u.code, "name": u.name, "kind": u.kind, "phone": u.phone, "grids": u.grids}
        for u in cast.units
    )
    for unit in cast.units:
        set_unit_grids(unit.code, unit.grids)
    existing = set(db.session.execute(select(User.username)).scalars())
    hashed = generate_password_hash(password, method=password_method)  # once: hashing is slow by design
    for person in cast.users:
        if person.username not in existing:
            require_unit(person.unit)
            create_user(
                person.username, password, person.role, person.name, person.unit, password_hash=hashed
            )
            report.users += 1
    db.session.flush()
    users = {u.username: u for u in db.session.execute(select(User)).scalars()}
    for person in cast.users:
        user = users[person.username]
        if person.grids and user.role == person.role:  # a same-named user of another role keeps their grids
            set_user_grids(user, list(person.grids))
    return report
