"""Mediator assignment at intake: load-aware (fewest open mediations), community mediators first for urgent
and complex disputes, volunteers from the pool, an audited override, and no mediator at all."""

from __future__ import annotations

import pytest

from tests.helpers import complete, fingerprint, open_task
from tests.mediation.flow import actions, dispute_row, file_dispute, intake, session, timeline
from tests.mediation.territory import GRID_B1

pytestmark = pytest.mark.usefixtures("people", "deployed_mediation")


def _assigned(key: str) -> tuple[str, str]:
    dispute = dispute_row(key)
    assert dispute.mediator is not None
    return dispute.mediator.username, str(dispute.mediator_kind)


def test_the_least_loaded_mediator_gets_the_dispute(app, client, auth):
    keys = [file_dispute(client, auth)["key"] for _ in range(3)]
    intake(client, auth, keys[0], grade="urgent")
    intake(client, auth, keys[1], grade="urgent")
    intake(client, auth, keys[2], grade="complex")
    keys.append(file_dispute(client, auth)["key"])  # its intake shows the loads of now
    # med1 and med2 both start at 0 (name order), then take turns by load; community mediators come first
    # for urgent and complex disputes although the volunteers have nothing to do.
    assert [_assigned(k) for k in keys[:3]] == [
        ("med1", "community"),
        ("med2", "community"),
        ("med1", "community"),
    ]
    # A simple dispute goes to whoever has the least load: a volunteer (vol1, vol2 at 0; vol1 by name).
    task = client.get(
        f"/api/v1/tasks/{open_task(keys[3], 'intake').id}", headers=auth("community")
    ).get_json()
    loads = {c["username"]: c["open_mediations"] for c in task["data"]["proposal"]["candidates"]}
    assert loads == {"med1": 2, "med2": 1, "vol1": 0, "vol2": 0}
    intake(client, auth, keys[3], grade="simple")
    assert _assigned(keys[3]) == ("vol1", "volunteer")
    event = next(e for e in timeline(client, auth, keys[3]) if e["action"] == "dispute.mediator_assigned")
    assert event["after"] == {"mediator": "vol1", "kind": "volunteer"}
    assert event["data"] == {"proposed": "vol1", "open_mediations": 0}

    # The other community has its own mediator; vol2 volunteers for community A only.
    other = file_dispute(client, auth, grid_code=GRID_B1, parties=[{"name": "王五", "role": "applicant"}])[
        "key"
    ]
    intake(client, auth, other, grade="simple", who="community_b")
    assert _assigned(other) == ("med_b", "community")

    # A closed mediation no longer counts: med1 closes one, and is the least loaded community mediator again.
    session(client, auth, keys[0], "med1", "failed")
    complete(
        client,
        auth,
        "med1",
        keys[0],
        "referral",
        {"referral_to": "court_guidance", "referral_reason": "坚持起诉"},
    )
    session(client, auth, keys[2], "med1", "failed")
    complete(
        client,
        auth,
        "med1",
        keys[2],
        "referral",
        {"referral_to": "court_guidance", "referral_reason": "坚持起诉"},
    )
    fresh = file_dispute(client, auth)["key"]
    intake(client, auth, fresh, grade="urgent")
    assert _assigned(fresh) == ("med1", "community")


def test_the_intake_may_choose_another_mediator_with_a_reason(app, client, auth):
    key = file_dispute(client, auth)["key"]
    before = fingerprint()
    refused = intake(client, auth, key, grade="urgent", mediator_user="vol2", expect=422)
    assert "override_reason" in refused["details"]
    assert "med1" in refused["details"]["override_reason"]
    assert fingerprint() == before

    intake(
        client,
        auth,
        key,
        grade="urgent",
        mediator_user="vol2",
        override_reason="当事人指定熟悉情况的志愿调解员",
    )
    assert _assigned(key) == ("vol2", "volunteer")
    event = next(e for e in timeline(client, auth, key) if e["action"] == "dispute.mediator_overridden")
    assert event["actor"] == "community"
    assert event["before"] == {"mediator": "med1"} and event["after"] == {"mediator": "vol2"}
    assert event["data"] == {"reason": "当事人指定熟悉情况的志愿调解员"}
    # The chosen mediator gets the session.
    assert open_task(key, "session").candidate_user == "vol2"


def test_naming_the_proposed_mediator_is_no_override(app, client, auth):
    key = file_dispute(client, auth)["key"]
    intake(client, auth, key, grade="complex", mediator_user="med1")
    assert _assigned(key) == ("med1", "community")
    assert "dispute.mediator_overridden" not in actions(client, auth, key)


def test_only_a_mediator_can_be_named(app, client, auth):
    key = file_dispute(client, auth)["key"]
    before = fingerprint()
    refused = intake(client, auth, key, mediator_user="worker", expect=422)
    assert "mediator_user" in refused["details"]
    assert fingerprint() == before


def test_no_mediator_available_is_refused_until_one_is_named(app, client, auth):
    # An unlocated dispute has no community: only volunteers for any community qualify. Empty the pool.
    for volunteer in ("vol1", "vol2"):
        assert (
            client.delete(f"/api/v1/mediators/volunteers/{volunteer}", headers=auth("admin")).status_code
            == 204
        )
    key = file_dispute(client, auth, grid_code=None)["key"]
    assert dispute_row(key).case.grid_code is None
    before = fingerprint()
    refused = intake(client, auth, key, who="dispatcher", expect=422)
    assert "no mediator" in refused["details"]["mediator_user"]
    assert fingerprint() == before
    intake(client, auth, key, who="dispatcher", mediator_user="med_b", override_reason="无社区,区级指派")
    assert _assigned(key) == ("med_b", "community")
