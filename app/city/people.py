"""The city's people and units, in the demo's terms (``app.demo.people.Cast``) so the demo's walker can play
the live cases and ``ensure_people`` can create them.

Pidu's 1,126 grid workers (seed 001): one per comprehensive grid, the rest second workers of grids drawn by
the seed; a grid leader per four grids; staff per community; a coordinator per street; the command centre's
dispatchers and supervisors for the district. Units: a property company per ~10 compounds, sanitation, a
street office and a police station per street, and the district's utilities, fire brigade and bureaus.
Usernames follow the demo (``worker1``, ``leader1``, ``community1``, ``street1``, ``dispatcher``,
``supervisor``…), so the same logins work in both."""

from __future__ import annotations

import random
from typing import Any

from app.auth.roles import Role
from app.demo.people import Cast, DemoUnit, DemoUser, _names
from app.grids.demo import DISTRICT_CODE

PIDU_WORKERS = 1126
RESIDENTS = 5000
DISPATCHERS = 12
SUPERVISORS = 8
COMPOUNDS_PER_PROPERTY = 10
_PROPERTY_WORDS = "锦城蜀信万家安居德润华宇龙湖保利金科中海融创绿城招商碧桂佳兆恒大天府嘉宝"
_DISTRICT_UNITS = (  # code, name, kind, phone, handlers
    ("water", "郫都区自来水公司", "water", "028-87881234", 4),
    ("power", "国网成都市郫都供电公司", "power", "028-87885678", 3),
    ("gas", "郫都区燃气有限公司", "gas", "028-87883456", 3),
    ("fire", "郫都区消防救援大队", "fire", "028-87920119", 2),
    ("bureau-enforcement", "郫都区综合行政执法局", "district_bureau", "028-87920012", 3),
    ("bureau-housing", "郫都区住房和城乡建设局", "district_bureau", "028-87920345", 2),
    ("bureau-transport", "郫都区交通运输局", "district_bureau", "028-87920678", 2),
)
_HANDLER_PREFIX = {"water": "water", "power": "power", "gas": "gas", "fire": "fire"}


def _codes(territory: dict[str, Any], level: str) -> list[tuple[str, str]]:
    return [
        (f["properties"]["code"], f["properties"]["name"])
        for f in territory["features"]
        if f["properties"]["level"] == level
    ]


def city_cast(territory: dict[str, Any], scale: float, seed: int) -> Cast:
    """The city's people and units for ``territory``: a pure function of the territory, scale and seed."""
    rng = random.Random(f"city-people-{seed}")
    names = iter(_names(rng) * 20)  # 6,000 distinct names, repeated: a district has namesakes
    grids = [code for code, _ in _codes(territory, "grid")]
    streets = _codes(territory, "street")
    users = [
        DemoUser("admin", Role.ADMIN, "系统管理员"),
        DemoUser("designer", Role.DESIGNER, f"流程设计员 {next(names)}"),
    ]
    for n in range(1, max(1, round(DISPATCHERS * min(1.0, scale * 10))) + 1):
        username = "dispatcher" if n == 1 else f"dispatcher{n}"
        users.append(
            DemoUser(username, Role.DISPATCHER, f"指挥中心调度员 {next(names)}", grids=(DISTRICT_CODE,))
        )
    for n in range(1, max(1, round(SUPERVISORS * min(1.0, scale * 10))) + 1):
        username = "supervisor" if n == 1 else f"supervisor{n}"
        users.append(DemoUser(username, Role.SUPERVISOR, f"督办员 {next(names)}", grids=(DISTRICT_CODE,)))
    users += [
        DemoUser(
            f"district{n}", Role.DISTRICT_COORDINATOR, f"区级协调员 {next(names)}", grids=(DISTRICT_CODE,)
        )
        for n in (1, 2)
    ]
    for n, (code, name) in enumerate(streets, start=1):
        users.append(
            DemoUser(f"street{n}", Role.STREET_COORDINATOR, f"{name}协调员 {next(names)}", grids=(code,))
        )
    for n, (code, name) in enumerate(_codes(territory, "community"), start=1):
        users.append(DemoUser(f"community{n}", Role.COMMUNITY_STAFF, f"{name} {next(names)}", grids=(code,)))

    workers = max(len(grids), round(PIDU_WORKERS * scale))
    workers_by_grid: dict[str, list[str]] = {code: [] for code in grids}
    busy = sorted(rng.sample(grids, workers - len(grids))) if workers > len(grids) else []
    for n, grid in enumerate([*grids, *busy], start=1):
        workers_by_grid[grid].append(f"worker{n}")
        users.append(DemoUser(f"worker{n}", Role.GRID_WORKER, f"网格员 {next(names)}", grids=(grid,)))
    for n in range(0, len(grids), 4):
        led = tuple(grids[n : n + 4])
        users.append(DemoUser(f"leader{n // 4 + 1}", Role.GRID_LEADER, f"网格长 {next(names)}", grids=led))

    units = _units(territory, streets)
    for unit in units:
        users += [
            DemoUser(h, Role.DEPARTMENT_HANDLER, f"{unit.name} {next(names)}", unit=unit.code)
            for h in unit.handlers
        ]
    residents = [f"resident{n}" for n in range(1, max(6, round(RESIDENTS * scale)) + 1)]
    users += [DemoUser(r, Role.RESIDENT, f"居民 {next(names)}") for r in residents]
    return Cast(users, units, grids, workers_by_grid, residents)


def _units(territory: dict[str, Any], streets: list[tuple[str, str]]) -> list[DemoUnit]:
    units = []
    compounds = [code for code, _ in _codes(territory, "compound")]
    groups = [
        compounds[n : n + COMPOUNDS_PER_PROPERTY] for n in range(0, len(compounds), COMPOUNDS_PER_PROPERTY)
    ]
    words = [_PROPERTY_WORDS[i : i + 2] for i in range(0, len(_PROPERTY_WORDS), 2)]
    for n, group in enumerate(groups, start=1):
        name = f"{words[n % len(words)]}物业服务有限公司" + (
            f"第{n // len(words) + 1}分公司" if n >= len(words) else ""
        )
        units.append(
            DemoUnit(
                f"property-{n:03d}", name, "property", f"028-8790{n:04d}", tuple(group), (f"property{n}",)
            )
        )
    for n, (code, name) in enumerate(streets, start=1):
        street = (code,)
        units += [
            DemoUnit(
                f"sanitation-{n:02d}", f"{name}环卫所", "sanitation", f"028-8792{n:02d}01", street,
                (f"sanitation{n}a", f"sanitation{n}b"),
            ),
            DemoUnit(
                f"street-office-{n:02d}", f"{name}办事处", "street_office", f"028-8792{n:02d}00", street,
                (f"streetoffice{n}",),
            ),
            DemoUnit(
                f"police-{n:02d}", f"{name[:-2]}派出所", "police", f"028-8792{n:02d}10", street,
                (f"police{n}",),
            ),
        ]  # fmt: skip
    for code, name, kind, phone, handlers in _DISTRICT_UNITS:
        prefix = _HANDLER_PREFIX.get(code, code.removeprefix("bureau-"))
        units.append(
            DemoUnit(
                code,
                name,
                kind,
                phone,
                (DISTRICT_CODE,),
                tuple(f"{prefix}{h}" for h in range(1, handlers + 1)),
            )
        )
    return units
