"""Every path of bpmn/dispute_mediation.bpmn, on SQLite and PostgreSQL, with the injected clock: agreement
with the follow-up timer, failure and referral, several sessions before agreement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.clock import as_utc
from app.config import MediationSettings
from app.extensions import db
from app.mediation.models import MediationSession
from tests.helpers import complete, open_task
from tests.mediation.flow import (
    actions,
    case_row,
    dispute_row,
    file_dispute,
    instance,
    intake,
    open_elements,
    session,
    sign_agreement,
    tick_at,
    view,
)
from tests.mediation.territory import GRID_A1, POINT_A1

pytestmark = pytest.mark.usefixtures("people", "deployed_mediation")


def test_filing_opens_intake_with_a_proposal(app, client, auth):
    filed = file_dispute(client, auth, grid_code=None, lat=POINT_A1[0], lon=POINT_A1[1])
    key = filed["key"]
    assert filed["status"] == "intake" and filed["grid_code"] == GRID_A1
    case = case_row(key)
    assert case.status == "triage" and case.title == "矛盾纠纷:楼上漏水" and case.description == ""
    assert case.address == "郫都区望丛社区杜鹃雅居…"  # cut: the house number stays with the parties
    assert case.category_code == "E1201"
    assert open_elements(key) == ["intake"]
    task = client.get(f"/api/v1/tasks/{open_task(key, 'intake').id}", headers=auth("community")).get_json()
    proposal = task["data"]["proposal"]
    assert proposal["community_code"] == "510124001001"
    assert [c["username"] for c in proposal["candidates"]] == ["med1", "med2", "vol1", "vol2"]
    assert proposal["proposed"] == {"simple": "med1", "complex": "med1", "urgent": "med1"}
    assert actions(client, auth, key)[:3] == ["case.reported", "dispute.filed", "instance.started"]


@pytest.mark.parametrize("mediation_settings", [MediationSettings(follow_up_days=3, follow_up_window_days=2)])
def test_agreement_uploaded_followed_up_after_the_set_days_and_closed(app, client, auth, clock):
    """MEDIATION_FOLLOW_UP_DAYS=3, MEDIATION_FOLLOW_UP_WINDOW_DAYS=2 for this test."""
    key = file_dispute(client, auth)["key"]
    intake(client, auth, key, grade="urgent")
    assert open_elements(key) == ["session"]
    assert case_row(key).status == "handling" and case_row(key).handler_user == "med1"
    assert case_row(key).severity == "orange"  # urgent

    clock.advance(hours=6)
    session(client, auth, key, "med1", "agreement", held_at="2026-11-02T22:30:00+08:00")
    agreed = dispute_row(key)
    assert agreed.status == "agreed" and agreed.outcome == "agreement"
    assert as_utc(agreed.agreed_at) == clock.now()
    assert open_elements(key) == ["upload_agreement"]

    signed_at = clock.advance(hours=1)
    sign_agreement(client, auth, key, "med1")
    dispute = dispute_row(key)
    days = 3
    assert as_utc(dispute.follow_up_at) == signed_at + timedelta(days=days)
    assert open_elements(key) == [] and case_row(key).status == "feedback"
    assert as_utc(instance(key).next_timer_at) == signed_at + timedelta(days=days)

    # A minute early: nothing; at the time: the follow-up visit opens, due within the window.
    assert tick_at(clock, signed_at + timedelta(days=days, minutes=-1)) == 0
    assert open_elements(key) == []
    assert tick_at(clock, signed_at + timedelta(days=days)) == 1
    task = open_task(key, "follow_up")
    assert task.candidate_user == "med1"
    assert as_utc(task.due_at) == as_utc(dispute.follow_up_due_at) == signed_at + timedelta(days=3 + 2)

    clock.advance(days=1)
    complete(
        client,
        auth,
        "med1",
        key,
        "follow_up",
        {"follow_up_method": "visit", "agreement_kept": "kept", "satisfaction": "satisfied"},
    )
    closed = dispute_row(key)
    assert (
        closed.status == "closed" and closed.satisfaction == "satisfied" and closed.agreement_kept == "kept"
    )
    assert as_utc(closed.follow_up_done_at) <= as_utc(closed.follow_up_due_at)
    assert case_row(key).status == "closed" and instance(key).status == "completed"
    trail = actions(client, auth, key)
    for action in (
        "dispute.graded",
        "dispute.mediator_assigned",
        "dispute.session_recorded",
        "dispute.concluded",
        "dispute.document_added",
        "dispute.agreement_signed",
        "timer.fired",
        "dispute.followed_up",
        "dispute.closed",
    ):
        assert action in trail, action
    assert "dispute.mediator_overridden" not in trail


def test_failed_mediation_is_referred_with_a_reason_and_closed(app, client, auth):
    key = file_dispute(client, auth, dispute_type="parking")["key"]
    intake(client, auth, key, grade="complex")
    session(client, auth, key, "med1", "failed")
    failed = dispute_row(key)
    assert failed.status == "failed" and failed.outcome == "failed" and failed.agreed_at is None
    assert open_elements(key) == ["referral"]
    complete(
        client,
        auth,
        "med1",
        key,
        "referral",
        {"referral_to": "legal_aid", "referral_reason": "赔偿金额分歧大,需法律援助"},
    )
    closed = dispute_row(key)
    assert closed.status == "closed" and closed.referral_to == "legal_aid"
    assert closed.referral_reason == "赔偿金额分歧大,需法律援助"
    assert case_row(key).status == "closed" and instance(key).status == "completed"
    assert {"dispute.referred", "dispute.closed"} <= set(actions(client, auth, key))
    shown = view(client, auth, key, "supervisor")
    assert shown["outcome"] == "failed" and shown["referral_to"] == "legal_aid"


def test_several_sessions_until_agreement(app, client, auth):
    key = file_dispute(client, auth, dispute_type="noise")["key"]
    intake(client, auth, key)
    session(client, auth, key, "med1", "continue", session_mode="online", session_place=None, attendees=[1])
    assert open_elements(key) == ["session"]
    session(client, auth, key, "med1", "continue")
    assert dispute_row(key).status == "mediating" and dispute_row(key).session_count == 2
    session(client, auth, key, "med1", "agreement")
    assert open_elements(key) == ["upload_agreement"]
    rows: list[Any] = list(
        db.session.execute(
            select(MediationSession)
            .where(MediationSession.dispute_id == dispute_row(key).id)
            .order_by(MediationSession.number)
        ).scalars()
    )
    assert [(s.number, s.mode, s.outcome, s.attendees) for s in rows] == [
        (1, "online", "continue", [1]),
        (2, "offline", "continue", [1, 2]),
        (3, "offline", "agreement", [1, 2]),
    ]
    shown = view(client, auth, key, "med1")
    assert [s["outcome"] for s in shown["sessions"]] == ["continue", "continue", "agreement"]
    assert actions(client, auth, key).count("dispute.session_recorded") == 3
