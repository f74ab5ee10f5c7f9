"""Bad input to inspections: a clear 4xx naming the field, and nothing changes (the database fingerprint)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.clock import now
from app.extensions import db
from tests.cases.territory import DISTRICT, EAST_GRID, WEST_GRID
from tests.helpers import fingerprint, jpeg
from tests.inspections.conftest import launch_body, open_tasks, results
from tests.inspections.test_inspection_campaign import task_for

Auth = Callable[[str], dict[str, str]]

pytestmark = pytest.mark.usefixtures("users", "territory", "deployed")


# (who, overrides, status, field): each launch is refused with that status, naming the field
BAD_LAUNCHES: list[tuple[str, dict[str, Any], int, str]] = [
    ("handler", {"grid_codes": [], "place_types": []}, 422, "targets"),
    ("handler", {"grid_codes": None, "place_types": None}, 422, "targets"),
    ("handler", {"grid_codes": [WEST_GRID], "place_types": ["construction_site"]}, 422, "targets"),
    ("handler", {"checklist": []}, 422, "checklist"),
    ("handler", {"checklist": [{"title": " "}]}, 422, "checklist.0.title"),
    (
        "handler",
        {"checklist": [{"key": "a", "title": "x"}, {"key": "a", "title": "y"}]},
        422,
        "checklist.1.key",
    ),
    ("handler", {"deadline": "2026-11-01T09:00:00+00:00"}, 422, "deadline"),
    ("handler", {"deadline": "2026-11-20T09:00:00"}, 422, "deadline"),  # no time zone
    ("handler", {"grid_codes": ["510124009"]}, 422, "grid_codes"),
    ("handler", {"place_types": ["casino"]}, 422, "place_types.0"),
    ("handler", {"rectify_days": 0}, 422, "rectify_days"),
    ("handler", {"unit_code": "gas"}, 403, "unit_code"),
    ("worker", {}, 403, "role"),
    ("resident", {}, 403, "role"),
    ("dispatcher", {}, 403, "role"),
    ("supervisor", {}, 422, "unit_code"),  # on whose behalf?
    ("supervisor", {"unit_code": "nope"}, 422, "unit_code"),
    ("gas1", {"grid_codes": [EAST_GRID]}, 403, "grid_codes"),  # the gas unit serves no grid
]


def test_bad_launch_starts_nothing(client: FlaskClient, auth: Auth, subtests: pytest.Subtests) -> None:
    """One world per backend for every bad launch: each is refused and writes nothing (its own fingerprint
    check), so a later launch sees the same database as the first."""
    for who, overrides, status, field in BAD_LAUNCHES:
        with subtests.test(who=who, overrides=overrides):
            before = fingerprint()
            response = client.post(
                "/api/v1/inspections/campaigns", json=launch_body(**overrides), headers=auth(who)
            )
            assert response.status_code == status, response.get_json()
            assert field in response.get_json()["details"], response.get_json()
            assert fingerprint() == before


def test_launch_needs_a_grid_worker_on_every_target_grid(
    client: FlaskClient, auth: Auth, launch: Any
) -> None:
    from sqlalchemy import delete, select

    from app.auth.models import User
    from app.grids.models import GridMember

    worker2 = db.session.execute(select(User).where(User.username == "worker2")).scalar_one()
    db.session.execute(delete(GridMember).where(GridMember.user_id == worker2.id))
    db.session.commit()
    before = fingerprint()
    body = launch(expect=422, grid_codes=[DISTRICT], place_types=None)
    assert WEST_GRID in body["details"]["targets"]
    assert fingerprint() == before


def test_bad_inspection_forms_change_nothing(client: FlaskClient, auth: Auth, launch: Any) -> None:
    campaign = launch(grid_codes=[EAST_GRID], place_types=["restaurant"])
    other = launch(grid_codes=[WEST_GRID], place_types=["shop"])
    task_id = task_for(client, auth, "worker", campaign["instance_id"], "R1", "inspect")
    foreign = client.post(
        f"/api/v1/inspections/items/{other_item(other['id'])}/photos",
        data={"file": (io.BytesIO(jpeg()), "x.jpg")},
        headers=auth("worker2"),
        content_type="multipart/form-data",
    ).get_json()["id"]
    cases = [
        ({"results": {"fire_extinguisher": {"result": "pass"}}}, "results.gas_alarm"),
        ({"results": {**results(), "extra": {"result": "pass"}}}, "results.extra"),
        ({"results": results("gas_alarm", note="")}, "results.gas_alarm.note"),
        ({"results": {**results(), "gas_alarm": {"result": "maybe"}}}, "results.gas_alarm.result"),
        ({}, "results"),
        ({"results": results(), "photos": [foreign]}, "photos"),
    ]
    for data, field in cases:
        before = fingerprint()
        response = client.post(
            f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=auth("worker")
        )
        assert response.status_code == 422, (data, response.get_json())
        assert field in response.get_json()["details"], (field, response.get_json())
        assert fingerprint() == before
    assert [t.id for t in open_tasks(campaign["instance_id"], "inspect") if t.id == task_id] == [task_id]


def other_item(campaign_id: int) -> int:
    from sqlalchemy import select

    from app.inspections.models import CampaignItem

    return db.session.execute(
        select(CampaignItem.id).where(CampaignItem.campaign_id == campaign_id)
    ).scalar_one()


def test_photo_upload_checks(client: FlaskClient, auth: Auth, launch: Any) -> None:
    campaign = launch(
        grid_codes=[EAST_GRID], place_types=["restaurant"], deadline=(now() + timedelta(days=1)).isoformat()
    )
    item_id = other_item_first(campaign["id"])
    before = fingerprint()
    url = f"/api/v1/inspections/items/{item_id}/photos"
    not_image = client.post(
        url,
        data={"file": (io.BytesIO(b"%PDF-1.4"), "x.pdf")},
        headers=auth("worker"),
        content_type="multipart/form-data",
    )
    assert not_image.status_code == 415
    assert client.post(url, headers=auth("worker")).status_code == 422
    # The west grid's worker does not see the east grid's items.
    other_grid = client.post(
        url,
        data={"file": (io.BytesIO(jpeg()), "x.jpg")},
        headers=auth("worker2"),
        content_type="multipart/form-data",
    )
    assert other_grid.status_code == 404
    assert fingerprint() == before


def other_item_first(campaign_id: int) -> int:
    from sqlalchemy import select

    from app.inspections.models import CampaignItem

    return db.session.execute(
        select(CampaignItem.id)
        .where(CampaignItem.campaign_id == campaign_id)
        .order_by(CampaignItem.id)
        .limit(1)
    ).scalar_one()
