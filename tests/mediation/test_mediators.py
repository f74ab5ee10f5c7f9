"""Community mediators on their community (GridMember role-to-level rule), the volunteer pool API, and the
list of candidates with their load."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from app.grids.members import get_user, set_user_grids
from tests.helpers import fingerprint
from tests.mediation.flow import file_dispute, intake
from tests.mediation.territory import COMMUNITY_A, COMMUNITY_B, GRID_A1, STREET

pytestmark = pytest.mark.usefixtures("people", "deployed_mediation")


def test_a_mediator_is_assigned_to_a_community_only(app):
    set_user_grids(get_user("med2"), [COMMUNITY_B])
    for wrong in (GRID_A1, STREET):
        with pytest.raises(InvalidInput) as refused:
            set_user_grids(get_user("med2"), [wrong])
        assert "community" in refused.value.details["grids"]


def test_the_candidates_of_a_community_with_their_load(client, auth):
    intake(client, auth, file_dispute(client, auth)["key"], grade="urgent")  # → med1
    listed = client.get(f"/api/v1/mediators?community={COMMUNITY_A}", headers=auth("community")).get_json()
    assert [(m["username"], m["kind"], m["open_mediations"]) for m in listed] == [
        ("med2", "community", 0),
        ("med1", "community", 1),
        ("vol1", "volunteer", 0),
        ("vol2", "volunteer", 0),
    ]
    assert client.get("/api/v1/mediators", headers=auth("resident")).status_code == 403
    bad = client.get(f"/api/v1/mediators?community={GRID_A1}", headers=auth("community"))
    assert bad.status_code == 422 and "community" in bad.get_json()["details"]


def test_the_volunteer_pool(client, auth):
    response = client.put(
        "/api/v1/mediators/volunteers/med_b", json={"community_code": COMMUNITY_A}, headers=auth("community")
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"username": "med_b", "community_code": COMMUNITY_A, "active": True}
    listed = client.get(f"/api/v1/mediators?community={COMMUNITY_A}", headers=auth("community")).get_json()
    assert ("med_b", "volunteer") in [(m["username"], m["kind"]) for m in listed]
    assert client.delete("/api/v1/mediators/volunteers/med_b", headers=auth("supervisor")).status_code == 204

    before = fingerprint()
    assert client.delete("/api/v1/mediators/volunteers/med_b", headers=auth("supervisor")).status_code == 404
    assert (
        client.put("/api/v1/mediators/volunteers/med_b", json={}, headers=auth("resident")).status_code == 403
    )
    not_mediator = client.put("/api/v1/mediators/volunteers/worker", json={}, headers=auth("admin"))
    assert not_mediator.status_code == 422 and "username" in not_mediator.get_json()["details"]
    wrong_level = client.put(
        "/api/v1/mediators/volunteers/vol1", json={"community_code": GRID_A1}, headers=auth("admin")
    )
    assert wrong_level.status_code == 422 and "community_code" in wrong_level.get_json()["details"]
    assert (
        client.put("/api/v1/mediators/volunteers/nobody", json={}, headers=auth("admin")).status_code == 404
    )
    assert fingerprint() == before
