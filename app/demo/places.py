"""The demo district's inspection places: restaurants, shops, rental flats, gas users and a few schools and
sites in its compounds, so the inspection pages have something to launch a campaign on after ``make run``.

Deterministic (the seed), idempotent (the registry's import upserts by code), and imported through the same
service as a registry file (``app.inspections.places.import_places``)."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.imports import ImportRow
from app.inspections.models import Place
from app.inspections.places import import_places

# (type, name suffix, how many per compound at most)
_KINDS = (
    ("restaurant", "{surname}记餐馆", 2),
    ("shop", "{surname}家便利店", 2),
    ("rental", "{building}出租屋", 2),
    ("gas_user", "{building}燃气用户", 1),
)
_RARE = (("school_surroundings", "{compound}学校周边"), ("construction_site", "{compound}旁建筑工地"))
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def demo_place_rows(territory: dict[str, Any], seed: int) -> list[ImportRow]:
    """Places inside the territory's compounds (a point inside each one's box), numbered like a file."""
    rng = random.Random(seed)
    compounds = [f for f in territory["features"] if f["properties"]["level"] == "compound"]
    rows: list[dict[str, Any]] = []
    for index, compound in enumerate(compounds):
        code, compound_name = compound["properties"]["code"], compound["properties"]["name"]
        west, south = compound["geometry"]["coordinates"][0][0]
        east, north = compound["geometry"]["coordinates"][0][2]
        kinds = [(k, n) for k, n, most in _KINDS for _ in range(rng.randint(0, most))]
        if index % 4 == 0:
            kinds.append(_RARE[(index // 4) % len(_RARE)])
        for number, (place_type, pattern) in enumerate(kinds, start=1):
            surname = rng.choice(_SURNAMES)
            title = rng.choice(("先生", "女士"))
            building = f"{compound_name}{rng.randint(1, 6)}栋"
            rows.append(
                {
                    "code": f"P{code}{number:02d}",
                    "name": pattern.format(surname=surname, building=building, compound=compound_name),
                    "place_type": place_type,
                    "lat": round(_inside(rng, south, north), 6),
                    "lon": round(_inside(rng, west, east), 6),
                    "address": f"{compound_name}{number}号",
                    "responsible_person": f"{surname}{title}",
                    "responsible_phone": f"138{rng.randint(10000000, 99999999)}",
                }
            )
    return [ImportRow(row=i, values=values) for i, values in enumerate(rows)]


def _inside(rng: random.Random, low: float, high: float) -> float:
    """A coordinate well inside [low, high] (not on a building's or the compound's edge)."""
    margin = (high - low) * 0.2
    return rng.uniform(low + margin, high - margin)


def ensure_places(territory: dict[str, Any], seed: int) -> int:
    """Import the demo places; how many were created. A second run finds them all and imports nothing."""
    rows = demo_place_rows(territory, seed)
    codes = [row.values["code"] for row in rows]
    existing = db.session.execute(select(func.count()).select_from(Place).where(Place.code.in_(codes)))
    if existing.scalar_one() == len(codes):
        return 0
    return import_places(None, rows).created
