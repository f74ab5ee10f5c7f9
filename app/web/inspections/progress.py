"""The campaign page's data: progress per grid (``campaigns.progress``: the items the reader may see) with
each grid's outline and colour, and the items as points on the map; read through the services and the
models, never through the engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from app.grids.models import Grid
from app.inspections import campaigns
from app.inspections.models import Campaign, CampaignItem, Place
from app.web.inspections import labels

MAP_ITEMS = 5000  # points drawn at most; the grid colours and the table count every item


def grid_state(counts: dict[str, int]) -> str:
    """A grid's colour: some place failed (blacklisted) / every place passed / still under way."""
    if counts["failed"]:
        return "failed"
    if counts["total"] and counts["done"] == counts["total"]:
        return "done"
    return "pending"


def grid_rows(user: User, campaign: Campaign) -> dict[str, Any]:
    """Overall counts and one row per comprehensive grid, with its state."""
    found = campaigns.progress(user, campaign)
    rows = [{**row, "state": grid_state(row)} for row in found["grids"]]
    return {"counts": found["counts"], "grids": rows}


def map_data(user: User, campaign: Campaign) -> dict[str, Any]:
    """GeoJSON-ish data of the campaign map: each grid's outline with its counts and state, each item."""
    progress = grid_rows(user, campaign)
    codes = [row["grid_code"] for row in progress["grids"]]
    shapes: dict[str, Any] = dict(
        db.session.execute(select(Grid.code, Grid.geometry).where(Grid.code.in_(codes))).all()
    )
    grids = [
        {
            "type": "Feature",
            "geometry": shapes[row["grid_code"]],
            "properties": {
                **row,
                "grid_name": row["grid_name"] or row["grid_code"],
                "state_label": str(labels.GRID_STATES[row["state"]]),
            },
        }
        for row in progress["grids"]
        if row["grid_code"] in shapes
    ]
    query = (
        campaigns.list_items(user, campaign)
        .join(Place, Place.id == CampaignItem.place_id)
        .with_only_columns(CampaignItem.id, CampaignItem.status, Place.id, Place.name, Place.lat, Place.lon)
        .limit(MAP_ITEMS)
    )
    items = [
        {
            "id": item_id,
            "status": status,
            "status_label": labels.item_status(status),
            "place": place_id,
            "name": name,
            "lat": lat,
            "lon": lon,
        }
        for item_id, status, place_id, name, lat, lon in db.session.execute(query)
    ]
    return {"counts": progress["counts"], "grids": grids, "items": items}
