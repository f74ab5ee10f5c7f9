"""The parties' personal data: whole for the assigned mediator, supervisors and the parties' grid staff;
masked for everyone else who sees the case; never in the case, the process data or the audit trail."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from app.audit.models import AuditEvent
from app.extensions import db
from tests.mediation.flow import (
    ADDRESS_1,
    DESCRIPTION,
    NAME_1,
    PERSONAL,
    PHONE_1,
    file_dispute,
    intake,
    session,
    sign_agreement,
    upload,
    view,
)
from tests.mediation.territory import GRID_A1

pytestmark = pytest.mark.usefixtures("people", "deployed_mediation")

FULL = ("med1", "supervisor", "worker", "leader")
REDACTED = ("resident", "dispatcher", "community", "street", "admin")
# Who cannot see the case at all: the same 404 as a dispute that does not exist. worker_a2 works the second
# party's grid, but the case lies in the first grid: seeing the case comes first.
NOT_VISIBLE = ("worker_a2", "worker_b", "community_b", "med2", "vol1", "handler", "designer")


@pytest.fixture
def key(client, auth) -> str:
    filed = file_dispute(client, auth)["key"]
    intake(client, auth, filed, grade="complex")  # → med1
    upload(client, auth, filed, "resident", kind="evidence", name="张三家漏水照片.pdf")
    return filed


def test_the_mediator_supervisors_and_the_parties_grid_staff_see_the_parties(client, auth, key):
    for who in FULL:
        shown = view(client, auth, key, who)
        assert shown["redacted"] is False, who
        assert shown["parties"][0] == {
            "position": 1,
            "role": "applicant",
            "grid_code": "510124001001001001",
            "name": NAME_1,
            "phone": PHONE_1,
            "address": ADDRESS_1,
        }, who
        assert shown["description"] == DESCRIPTION
        assert shown["documents"][0]["original_name"] == "张三家漏水照片.pdf"


def test_everyone_else_who_sees_the_case_sees_it_masked(client, auth, key):
    for who in REDACTED:
        shown = view(client, auth, key, who)
        assert shown["redacted"] is True, who
        assert [(p["name"], p["phone"], p["address"]) for p in shown["parties"]] == [
            ("张*", "138****5678", "郫都区望丛社区杜鹃雅居…"),
            ("李**", "139****4321", "郫都区望丛社区锦绣花园…"),
        ], who
        assert shown["description"] is None and shown["documents"][0]["original_name"] is None
        # What the dispute is about stays readable.
        assert (shown["dispute_type"], shown["grade"], shown["mediator"]) == ("water_leak", "complex", "med1")
        assert json_has_none_of(shown, PERSONAL), who


def test_who_cannot_see_the_case_gets_the_404_of_a_missing_dispute(client, auth, key):
    missing = view(client, auth, "GC-2026-999999", "supervisor", expect=404)
    for who in NOT_VISIBLE:
        refused = view(client, auth, key, who, expect=404)
        assert refused["error"] == missing["error"] and refused["details"] == missing["details"], who


def test_a_mediator_sees_the_dispute_once_assigned(client, auth):
    key = file_dispute(client, auth)["key"]
    view(client, auth, key, "med1", expect=404)
    intake(client, auth, key, grade="simple", mediator_user="med1")
    assert view(client, auth, key, "med1")["redacted"] is False


def test_documents_are_served_to_who_sees_the_parties_and_to_their_uploader(client, auth, key):
    document_id = view(client, auth, key, "supervisor")["documents"][0]["id"]
    url = f"/api/v1/disputes/documents/{document_id}/content"
    for who in ("supervisor", "med1", "worker", "resident"):  # the resident uploaded it
        response = client.get(url, headers=auth(who))
        assert response.status_code == 200, who
        assert response.data.startswith(b"%PDF-") and response.mimetype == "application/pdf"
    for who, status in (("dispatcher", 403), ("community", 403), ("worker_b", 404), ("med2", 404)):
        assert client.get(url, headers=auth(who)).status_code == status, who


def json_has_none_of(value: object, needles: tuple[str, ...]) -> bool:
    dumped = json.dumps(value, ensure_ascii=False, default=str)
    return not [n for n in needles if n in dumped]


def test_personal_data_stays_out_of_cases_process_data_tasks_and_the_audit_trail(client, auth, key):
    session(client, auth, key, "med1", "agreement")
    sign_agreement(client, auth, key, "med1")
    events = db.session.execute(select(AuditEvent)).scalars().all()
    trail = [(e.action, e.before, e.after, e.data, e.entity_id) for e in events]
    assert json_has_none_of(trail, PERSONAL)
    for table, columns in (
        ("case_file", "title, description, address"),
        ("process_instance", "state"),
        ("human_task", "submitted_data"),
    ):
        rows = [tuple(r) for r in db.session.execute(text(f"SELECT {columns} FROM {table}"))]
        assert json_has_none_of(rows, PERSONAL), table
    # The case list shows the case, not the people.
    listed = client.get(f"/api/v1/cases?q={key}", headers=auth("dispatcher")).get_json()["items"]
    assert listed[0]["grid_code"] == GRID_A1 and json_has_none_of(listed, PERSONAL)
