"""Taking a place off the blacklist: ``POST /api/v1/inspections/places/<id>/unblacklist`` and
``flask inspections unblacklist``. Place editors only, within their territory, with a reason; audited with
before and after; every refusal leaves the database as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import now
from app.extensions import db
from app.inspections.models import Place
from app.inspections.places import blacklist
from tests.cases.territory import WEST_GRID, assign
from tests.helpers import fingerprint

Auth = Callable[[str], dict[str, str]]

pytestmark = pytest.mark.usefixtures("users", "territory", "deployed")


def _place(code: str) -> Place:
    db.session.expire_all()
    return db.session.execute(select(Place).where(Place.code == code)).scalar_one()


def _blacklisted(code: str) -> Place:
    place = _place(code)
    blacklist(place, "整改复查仍不合格", now(), None, campaign_id=1)
    db.session.commit()
    return place


def _post(client: FlaskClient, auth: Auth, who: str, place_id: int, body: Any) -> Any:
    return client.post(f"/api/v1/inspections/places/{place_id}/unblacklist", json=body, headers=auth(who))


@pytest.mark.parametrize("who", ["supervisor", "admin"])
def test_unblacklist_with_a_reason_is_audited(client: FlaskClient, auth: Auth, who: str) -> None:
    place = _blacklisted("R1")
    response = _post(client, auth, who, place.id, {"reason": " 已整改到位,复查合格 "})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["blacklisted"], body["blacklist_reason"], body["blacklisted_at"]) == (False, None, None)
    place = _place("R1")
    assert not place.blacklisted and place.blacklist_reason is None
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "place.unblacklisted")
    ).scalar_one()
    assert event.entity_id == str(place.id)
    assert event.before["blacklisted"] is True and event.before["blacklist_reason"] == "整改复查仍不合格"
    assert event.after == {"blacklisted": False, "blacklist_reason": None, "blacklisted_at": None}
    assert event.data == {"reason": "已整改到位,复查合格"}
    listed = client.get("/api/v1/inspections/places?blacklisted=true", headers=auth("supervisor")).get_json()
    assert listed["total"] == 0


@pytest.mark.parametrize(
    ("who", "code", "body", "status", "field"),
    [
        ("supervisor", "R1", {}, 422, "reason"),
        ("supervisor", "R1", {"reason": "   "}, 422, "reason"),
        ("supervisor", "R1", {"reason": 5}, 422, "reason"),
        ("supervisor", "R1", {"reason": "x" * 501}, 422, "reason"),
        ("supervisor", "R2", {"reason": "复查合格"}, 409, "blacklisted"),  # R2 is not blacklisted
        ("worker", "R1", {"reason": "复查合格"}, 403, "role"),
        ("handler", "R1", {"reason": "复查合格"}, 403, "role"),
        ("dispatcher", "R1", {"reason": "复查合格"}, 403, "role"),
        ("resident", "R1", {"reason": "复查合格"}, 403, "role"),
    ],
)
def test_refusals_change_nothing(
    client: FlaskClient, auth: Auth, who: str, code: str, body: Any, status: int, field: str
) -> None:
    _blacklisted("R1")
    before = fingerprint()
    response = _post(client, auth, who, _place(code).id, body)
    assert response.status_code == status, response.get_json()
    assert field in response.get_json()["details"]
    assert fingerprint() == before
    assert _place("R1").blacklisted


def test_a_place_outside_your_territory_is_not_found(
    client: FlaskClient, auth: Auth, create_user: Any
) -> None:
    """A supervisor of the west grid does not see the east grid's R1: a 404 like a missing place."""
    create_user("supervisor", "sup_west")
    assign("sup_west", WEST_GRID)
    auth("sup_west")  # signing in writes a token and an audit event: before the fingerprint
    place = _blacklisted("R1")
    before = fingerprint()
    assert _post(client, auth, "sup_west", place.id, {"reason": "复查合格"}).status_code == 404
    assert _post(client, auth, "supervisor", 99999, {"reason": "复查合格"}).status_code == 404
    assert fingerprint() == before
    assert _place("R1").blacklisted


def test_command_line(app: Flask) -> None:
    _blacklisted("S1")
    runner = app.test_cli_runner()
    missing_reason = runner.invoke(args=["inspections", "unblacklist", "S1"])
    assert missing_reason.exit_code != 0 and _place("S1").blacklisted
    not_listed = runner.invoke(args=["inspections", "unblacklist", "R2", "--reason", "复查合格"])
    assert not_listed.exit_code == 2 and "not blacklisted" in not_listed.output
    unknown = runner.invoke(args=["inspections", "unblacklist", "NOPE", "--reason", "复查合格"])
    assert unknown.exit_code == 2
    done = runner.invoke(args=["inspections", "unblacklist", "S1", "--reason", "复查合格"])
    assert done.exit_code == 0, done.output
    assert not _place("S1").blacklisted
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "place.unblacklisted")
    ).scalar_one()
    assert event.actor_id is None and event.data == {"reason": "复查合格"}
