"""In headless Chromium at 1280 px, the mediation pages by clicking and typing only (the starting disputes
are seeded through the services and the API); each test checks the database afterwards.

- a mediator opens their dispute from the list, records a session that reached an agreement, uploads the
  signed agreement and records it, all on the dispute page; the community staff then sees the same page
  with the parties masked exactly as the API masks them for them;
- a grid worker files a dispute on a resident's behalf: a bad phone number is refused beside its field and
  nothing is written, then the corrected form files it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.auth.models import User
from app.config import PROJECT_ROOT
from app.extensions import db
from app.grids.members import get_user, set_user_grids
from app.mediation.models import DisputeDocument, DisputeParty, MediationSession
from tests.conftest import PASSWORD
from tests.helpers import ensure_catalogue, fingerprint
from tests.mediation.flow import (
    ADDRESS_1,
    DESCRIPTION,
    NAME_1,
    PHONE_1,
    dispute_row,
    file_dispute,
    intake,
    open_elements,
    pdf,
)
from tests.mediation.territory import COMMUNITY_A, GRID_A1, build_territory
from tests.web.test_pages_mediation import api_parties, shown_parties

README_SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "mediation.png"
PEOPLE = {
    # username: (role, grid, display name)
    "resident": ("resident", None, "陈阿姨"),
    "worker": ("grid_worker", GRID_A1, "王小明"),
    "community": ("community_staff", COMMUNITY_A, "刘芳"),
    "supervisor": ("supervisor", "510124", "赵督办"),
    "med1": ("mediator", COMMUNITY_A, "周调解"),
}


def seed(live_server: Any) -> tuple[Any, Callable[[str], dict[str, str]]]:
    """The mediation territory, PEOPLE on their grids, the catalogue and dispute_mediation deployed; the
    clock on a Tuesday morning. Returns an API client and its ``auth(username)``."""
    from app.auth.services import create_user
    from app.workflow import deploy

    app = live_server.app
    build_territory()
    ensure_catalogue()
    for username, (role, _grid, name) in PEOPLE.items():
        create_user(username, PASSWORD, role, name)
    db.session.commit()
    for username, (_role, grid, _name) in PEOPLE.items():
        if grid is not None:
            set_user_grids(get_user(username), [grid])
    path = PROJECT_ROOT / "bpmn" / "dispute_mediation.bpmn"
    deploy.deploy_file(path.name, path.read_bytes(), app.extensions["gridcase.deploy_rules"]())
    db.session.commit()
    app.extensions["gridcase.clock"].set(datetime(2026, 11, 3, 1, 10, tzinfo=UTC))  # Tue 09:10 in China
    client = app.test_client()
    tokens: dict[str, str] = {}

    def auth(username: str) -> dict[str, str]:
        if username not in tokens:
            response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
            assert response.status_code == 201, response.get_json()
            tokens[username] = response.get_json()["token"]
        return {"Authorization": f"Bearer {tokens[username]}"}

    return client, auth


def field(page: Any, name: str, inner: str = "input") -> Any:
    return page.locator(f'#task-form .form-field[data-field="{name}"] {inner}')


def submit_step(page: Any) -> None:
    with page.expect_navigation():
        page.click("#complete-button")


def test_a_mediator_records_a_session_and_the_agreement_in_the_pages(live_server, page_as, screenshot):
    with live_server.app.app_context():
        client, auth = seed(live_server)
        key = file_dispute(client, auth)["key"]
        intake(client, auth, key, grade="simple", mediator_user="med1", override_reason="熟悉该小区情况")
        assert open_elements(key) == ["session"]

    page = page_as("med1")
    with page.expect_navigation():  # the screenshot is of the list, not of the page the click left
        page.click("nav >> text=矛盾纠纷")
    screenshot(page, "mediation_list")
    page.click(f'#dispute-table a:has-text("{key}")')
    assert page.locator("#dispute-status").inner_text() == "调解中"
    assert page.locator('#parties [data-party="1"] [data-field="name"]').inner_text() == NAME_1

    # The session: held yesterday afternoon in the community's room, both parties there, agreement reached.
    field(page, "session_at").fill("2026-11-02T16:00")
    field(page, "session_mode", 'input[value="offline"]').check()
    field(page, "session_place").fill("望丛社区解忧聊天室")
    assert field(page, "attendees", "select").count() == 2  # both parties, by number
    field(page, "other_attendees").fill("物业代表")
    field(page, "session_record", "textarea").fill("当事人1陈述漏水经过,当事人2同意修复防水层并赔偿")
    field(page, "session_outcome", 'input[value="agreement"]').check()
    submit_step(page)
    assert page.locator("#dispute-status").inner_text() == "已达成协议,待回访"
    assert page.locator('#sessions [data-session="1"]').count() == 1
    assert page.locator('.md-task[data-element="upload_agreement"]').count() == 1

    # The signed agreement: uploaded under the documents, then chosen in the step's form.
    page.select_option("#upload-kind", "agreement")
    page.set_input_files(
        "#upload-file", files=[{"name": "调解协议书.pdf", "mimeType": "application/pdf", "buffer": pdf()}]
    )
    with page.expect_navigation():
        page.click('#upload-form button[type="submit"]')
    with live_server.app.app_context():
        document = db.session.execute(select(DisputeDocument)).scalar_one()
    assert page.locator(f'#document-list [data-document="{document.id}"] a').count() == 1
    field(page, "agreement_document", "select").select_option(str(document.id))
    field(page, "signed_on").fill("2026-11-02")
    field(page, "agreement_summary", "textarea").fill("当事人1负责修复防水层,赔偿当事人2 800元")
    screenshot(page, "mediation_agreement_step")
    page.screenshot(path=str(README_SCREENSHOT), full_page=True)
    submit_step(page)
    assert page.locator("#dispute-status").inner_text() == "已达成协议,待回访"
    assert page.locator('[data-fact="follow-up-at"]').inner_text() != "—"
    assert page.locator("#task-form").count() == 0
    screenshot(page, "mediation_agreed")

    with live_server.app.app_context():
        dispute = dispute_row(key)
        assert (dispute.status, dispute.session_count, dispute.outcome) == ("agreed", 1, "agreement")
        assert dispute.follow_up_at is not None and dispute.agreed_at is not None
        held = db.session.execute(select(MediationSession)).scalar_one()
        assert (held.mode, held.place, held.attendees, held.outcome) == (
            "offline",
            "望丛社区解忧聊天室",
            [1, 2],
            "agreement",
        )
        assert (document.kind, document.content_type) == ("agreement", "application/pdf")
        actions = db.session.execute(
            select(AuditEvent.action, AuditEvent.actor_id)
            .where(AuditEvent.case_id == dispute.case_id)
            .order_by(AuditEvent.id)
        ).all()
        mediator_id = get_user("med1").id
        mine = [action for action, actor in actions if actor == mediator_id]
        for action in ("dispute.session_recorded", "dispute.document_added", "dispute.agreement_signed"):
            assert action in mine, actions
        assert open_elements(key) == []  # the follow-up waits for its date

    # The same dispute for community staff: masked exactly as the API masks it for them.
    other = page_as("community")
    other.goto(f"{live_server.url}/mediation/{key}")
    assert other.locator("#redacted-notice").count() == 1
    with live_server.app.app_context():
        expected = api_parties(client, auth, key, "community")
        assert shown_parties(other.content()) == expected
        assert shown_parties(page.content()) == api_parties(client, auth, key, "med1")
    assert expected[1]["name"] == "张*" and expected[1]["phone"] == "138****5678"
    text = other.content()
    assert NAME_1 not in text and PHONE_1 not in text and ADDRESS_1 not in text and DESCRIPTION not in text
    assert other.locator(f'#document-list [data-document="{document.id}"] a').count() == 0
    screenshot(other, "mediation_masked")


def test_a_grid_worker_files_a_dispute_for_a_resident(live_server, page_as, screenshot):
    with live_server.app.app_context():
        seed(live_server)
        db.session.execute(update(User).where(User.username == "worker").values(display_name="王小明"))
        db.session.commit()

    page = page_as("worker")
    page.goto(f"{live_server.url}/mediation/")
    assert page.locator("#no-disputes").count() == 1
    page.click("#file-dispute")
    page.select_option("#dispute_type", "water_leak")
    page.fill("#description", DESCRIPTION)
    assert page.locator("#grid_code").input_value() == GRID_A1  # the worker's one grid, chosen already
    # the place marked on the territory map, once Leaflet has made it one (its click handler comes with it)
    page.click("#place-map.leaflet-container")
    assert page.locator("#lat").input_value() and page.locator("#lon").input_value()
    page.fill("#address", "杜鹃雅居3栋")
    page.fill("#parties-0-name", NAME_1)
    page.fill("#parties-0-phone", "1381234")  # too short
    page.fill("#parties-0-address", "杜鹃雅居3栋2单元1201")
    page.fill("#parties-1-name", "李四娃")
    with live_server.app.app_context():
        before = fingerprint()
    with page.expect_navigation():
        page.click("#submit-dispute")
    assert "手机号" in page.locator("#err-parties-0-phone").inner_text()
    assert page.locator("#description").input_value() == DESCRIPTION  # what was typed stays
    screenshot(page, "mediation_filing_refused")
    with live_server.app.app_context():
        assert fingerprint() == before

    page.fill("#parties-0-phone", PHONE_1)
    with page.expect_navigation():
        page.click("#submit-dispute")
    assert page.locator("#dispute-status").inner_text() == "待受理分级"
    key = page.url.rsplit("/", 1)[-1]
    assert page.locator('#parties [data-party="1"] [data-field="phone"]').inner_text() == PHONE_1
    with live_server.app.app_context():
        dispute = dispute_row(key)
        assert (dispute.dispute_type, dispute.status, dispute.filed_by_id) == (
            "water_leak",
            "intake",
            get_user("worker").id,
        )
        parties = db.session.execute(
            select(DisputeParty.name, DisputeParty.phone, DisputeParty.role)
            .where(DisputeParty.dispute_id == dispute.id)
            .order_by(DisputeParty.position)
        ).all()
        assert [tuple(p) for p in parties] == [(NAME_1, PHONE_1, "applicant"), ("李四娃", None, "respondent")]
        assert open_elements(key) == ["intake"]
        filed = db.session.execute(
            select(AuditEvent).where(
                AuditEvent.case_id == dispute.case_id, AuditEvent.action == "dispute.filed"
            )
        ).scalar_one()
        assert filed.actor_id == get_user("worker").id
