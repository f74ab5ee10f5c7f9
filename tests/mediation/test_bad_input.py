"""Bad input: a clear 4xx naming the field and the reason, and nothing changes (the fingerprint)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import complete, fingerprint, jpeg
from tests.mediation.flow import dispute_row, file_dispute, intake, parties, pdf, session, upload

pytestmark = pytest.mark.usefixtures("people", "deployed_mediation")


@pytest.fixture
def mediating(client: Any, auth: Any) -> str:
    key = file_dispute(client, auth)["key"]
    intake(client, auth, key)  # → med1
    return str(key)


def test_a_dispute_needs_parties(client, auth):
    before = fingerprint()
    for bad in ([], None):
        refused = file_dispute(client, auth, expect=422, parties=bad)
        assert "parties" in refused["details"], refused
    refused = file_dispute(client, auth, expect=422, parties=[{"phone": "13812345678", "role": "applicant"}])
    assert refused["details"]["parties"]["0"]["name"] == ["Missing data for required field."]
    assert (
        "phone"
        in file_dispute(client, auth, expect=422, parties=[{**parties()[0], "phone": "12345"}])["details"][
            "parties"
        ]["0"]
    )
    assert (
        "role"
        in file_dispute(client, auth, expect=422, parties=[{**parties()[0], "role": "judge"}])["details"][
            "parties"
        ]["0"]
    )
    unknown_grid = file_dispute(
        client, auth, expect=422, parties=[{**parties()[0], "grid_code": "510124001001009"}]
    )
    assert "parties[0].grid_code" in unknown_grid["details"]
    assert "dispute_type" in file_dispute(client, auth, expect=422, dispute_type="divorce")["details"]
    assert "grid_code" in file_dispute(client, auth, expect=422, grid_code="510124009")["details"]
    assert "lon" in file_dispute(client, auth, expect=422, grid_code=None, lat=30.7)["details"]
    assert fingerprint() == before


def test_who_may_not_file_a_dispute(client, auth):
    before = fingerprint()
    for who in ("handler", "designer", "med1", "street"):
        refused = file_dispute(client, auth, who=who, expect=403)
        assert refused["error"] == "forbidden" and "role" in refused["details"], who
    assert fingerprint() == before


def test_a_session_outcome_outside_the_list(client, auth, mediating):
    before = fingerprint()
    refused = session(client, auth, mediating, "med1", "maybe", expect=422)
    assert "session_outcome" in refused["details"]
    assert "agreement" in refused["details"]["session_outcome"]
    assert fingerprint() == before


# (extra, field): a session record with that change is refused, naming the field
BAD_SESSION_RECORDS = [
    ({"attendees": [1, 3]}, "attendees"),  # there is no party 3
    ({"attendees": []}, "attendees"),
    ({"held_at": "2026-11-09T09:00:00+08:00"}, "session_at"),  # a week ahead of the clock
    ({"held_at": "last tuesday"}, "session_at"),
    ({"session_place": None}, "session_place"),  # in person, but where?
    ({"session_record": "   "}, "session_record"),
    ({"session_mode": "letter"}, "session_mode"),
]


def test_a_session_record_that_does_not_hold(client, auth, mediating, subtests):
    """One dispute per backend for every bad record: each is refused and writes nothing (its own fingerprint
    check), so a later record meets the same dispute as the first."""
    for extra, field in BAD_SESSION_RECORDS:
        with subtests.test(extra=extra, field=field):
            before = fingerprint()
            extra = dict(extra)  # the constant is shared by the SQLite and PostgreSQL runs
            held_at = extra.pop("held_at", "2026-11-02T16:00:00+08:00")
            refused = session(
                client, auth, mediating, "med1", "continue", held_at=held_at, expect=422, **extra
            )
            assert field in refused["details"], refused
            assert fingerprint() == before


def test_only_the_assigned_mediator_holds_the_session(client, auth, mediating):
    before = fingerprint()
    session(client, auth, mediating, "med2", "agreement", expect=404)  # not theirs: not even visible
    session(client, auth, mediating, "worker", "agreement", expect=404)  # sees the case, but a named task
    assert fingerprint() == before


def test_the_intake_is_for_community_staff_and_the_command_centre(client, auth):
    key = file_dispute(client, auth)["key"]
    before = fingerprint()
    # A grid worker sees the case, but a task offered to other roles is not theirs to see: 404.
    assert intake(client, auth, key, who="worker", expect=404)["error"] == "not_found"
    assert intake(client, auth, key, who="med1", expect=404)["error"] == "not_found"
    assert fingerprint() == before


def test_an_agreement_upload_that_is_not_a_document_or_an_image(client, auth, mediating):
    session(client, auth, mediating, "med1", "agreement")
    before = fingerprint()
    for content, why in (
        (b"this is a signed agreement, trust me", "not a PDF"),
        (b"<html><body>agreement</body></html>", "HTML"),
        (pdf()[:-8], "truncated PDF"),
        (jpeg()[:200], "damaged or truncated JPEG"),
        (b"", "empty"),
    ):
        refused = upload(client, auth, mediating, "med1", content=content, expect=422)
        assert refused["error"] == "invalid_input" and why in refused["details"]["file"], (why, refused)
    assert "kind" in upload(client, auth, mediating, "med1", kind="contract", expect=422)["details"]
    assert fingerprint() == before
    # An image is a document too (a photographed agreement).
    assert (
        upload(client, auth, mediating, "med1", content=jpeg(), name="协议.jpg")["content_type"]
        == "image/jpeg"
    )


def test_who_uploads_the_agreement_and_when(client, auth, mediating):
    before = fingerprint()
    upload(client, auth, mediating, "med1", expect=409)  # no agreement reached yet
    session(client, auth, mediating, "med1", "agreement")
    before = fingerprint()
    for who in ("worker", "supervisor", "resident"):
        assert upload(client, auth, mediating, who, expect=403)["error"] == "forbidden", who
    upload(client, auth, mediating, "worker_b", expect=404)
    assert fingerprint() == before


def test_the_agreement_task_needs_this_disputes_agreement(client, auth, mediating):
    session(client, auth, mediating, "med1", "agreement")
    evidence = upload(client, auth, mediating, "resident", kind="evidence")
    other = file_dispute(client, auth)["key"]
    before = fingerprint()
    for document in (evidence["id"], 99999):
        refused = complete(
            client,
            auth,
            "med1",
            mediating,
            "upload_agreement",
            {"agreement_document": document, "agreement_summary": "协议要点"},
            expect=422,
        )
        assert "agreement_document" in refused["details"], refused
    assert fingerprint() == before
    assert dispute_row(other).status == "intake"


def test_a_referral_needs_a_reason_and_a_known_destination(client, auth, mediating):
    session(client, auth, mediating, "med1", "failed")
    before = fingerprint()
    for data, field in (
        ({"referral_to": "legal_aid"}, "referral_reason"),
        ({"referral_to": "legal_aid", "referral_reason": "  "}, "referral_reason"),
        ({"referral_to": "newspaper", "referral_reason": "曝光"}, "referral_to"),
    ):
        refused = complete(client, auth, "med1", mediating, "referral", data, expect=422)
        assert field in refused["details"], refused
    assert fingerprint() == before
