"""The other processes' non-straight branches walked in Chromium through the task pages (/m/), each step by
the person whose turn it is, the database checked after each:

- sensor_alarm: the protected resident's call times out, the son (shown as the one to call) needs help, the
  proposed grid worker handles it, the dispatcher verifies and closes;
- emergency_escalation: a unit misses its report-in, the community urges it (the page names the unit and
  how every responder stands), it reports in late; control, close and the after-action review;
- dispute_mediation: the intake chooses another mediator than the proposal (refused in zh-CN until a
  reason is given), the session fails and the dispute is referred to legal aid;
- inspection_campaign: a checklist item fails (its note required, a photo taken on the page), the
  rectification period passes, the re-inspection passes.

Starts use the product's own entries (the connector's ingest, the services); timers move by the injected
clock and the scheduler's tick."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import now
from app.devices.services import register_device, validate_device_fields
from app.emergency.plans import sync_plans
from app.emergency.services import launch_plan
from app.extensions import db
from app.inspections.campaigns import launch as launch_campaign
from app.inspections.models import CampaignItem, InspectionPhoto
from app.inspections.places import create_place
from app.mediation.services import dispute_of_case, file_dispute
from connectors.ingest import ingest
from tests.cases.territory import EAST_COMPOUND, EAST_GRID, EAST_POINT
from tests.helpers import case_events, case_row, instance, jpeg, open_ids, open_task, open_tasks
from tests.web.conftest import PHONE
from tests.web.process_seed import fire_next_timer, open_task_of, open_tasks_of, seed, user
from tests.web.steps import complete_task, open_and_claim

DESKTOP = {"width": 1280, "height": 860}


def _fact(page, key):
    return page.locator(f'.task-context [data-fact="{key}"]').inner_text().strip()


def _fresh(key):
    db.session.expire_all()
    return case_row(key)


def test_sensor_alarm_nobody_answers_then_help_is_needed(live_server, page_as, screenshot):
    app = live_server.app
    with app.app_context():
        seed(app, "worker", "dispatcher")
        register_device(
            validate_device_fields(
                {
                    "device_id": "0x00158d0001a2b3c4",
                    "device_type": "water_leak_sensor",
                    "friendly_name": "锦绣花园/3栋/1201/厨房水浸",
                    "lat": EAST_POINT[0],
                    "lon": EAST_POINT[1],
                    "address": "锦绣花园 3 栋 1201",
                    "resident_name": "王大爷",
                    "resident_phone": "13800000001",
                    "resident_notes": "独居老人",
                    "emergency_contacts": [{"name": "王小明", "phone": "13900000002", "relation": "儿子"}],
                }
            )
        )
        db.session.commit()
        (key,) = ingest(
            "zigbee2mqtt/锦绣花园/3栋/1201/厨房水浸", json.dumps({"water_leak": True}).encode()
        ).case_keys
        assert open_ids(key) == ["call_resident"] and _fresh(key).status == "triage"
        # the resident does not answer within the call's limit: the round moves on to the son
        fire_next_timer(app, instance(key).id)
        assert open_ids(key) == ["call_contact"]
        contact_id = open_task(key, "call_contact").id

    desk = page_as("dispatcher", viewport=DESKTOP)
    open_and_claim(desk, f"{live_server.url}/m/tasks/{contact_id}")
    # whom to call now, by name and number (the resident's call timed out)
    assert _fact(desk, "callee") == "王小明(儿子) 13900000002"
    desk.check('#json-form input[type=radio][value="needs_help"]')
    desk.fill('#json-form textarea[name="root[call_note]"]', "儿子说老人腿脚不便,请派人上门")
    screenshot(desk, "branch_sensor_call_contact")
    complete_task(desk, live_server.url)
    with app.app_context():
        calls = [
            (e.data["who"], e.data["name"], e.data["outcome"], e.data["timeout"])
            for e in case_events(key, "case.contact_called")
        ]
        assert calls == [
            ("resident", "王大爷", "no_answer", True),
            ("contact", "王小明", "needs_help", False),
        ]
        assert case_events(key, "case.contact_called")[-1].data["note"] == "儿子说老人腿脚不便,请派人上门"
        handle = open_task(key, "handle")
        assert (_fresh(key).status, handle.assignee_id is not None) == ("handling", True)
        handle_id = handle.id

    phone = page_as("worker", viewport=PHONE)
    open_and_claim(phone, f"{live_server.url}/m/tasks/{handle_id}")
    assert _fact(phone, "assignee") == "张网格"  # dispatched to the proposed worker, shown by name
    phone.check('#json-form input[type=radio][value="resolved"]')
    phone.fill('#json-form textarea[name="root[handle_description]"]', "已关闭水阀,老人无恙")
    screenshot(phone, "branch_sensor_handle")
    complete_task(phone, live_server.url)
    with app.app_context():
        assert open_ids(key) == ["verify"] and _fresh(key).status == "review"
        verify_id = open_task(key, "verify").id

    open_and_claim(desk, f"{live_server.url}/m/tasks/{verify_id}")
    desk.check('#json-form input[type=radio][value="close"]')
    complete_task(desk, live_server.url)
    with app.app_context():
        closed = _fresh(key)
        assert (closed.status, open_ids(key)) == ("closed", []) and closed.closed_at is not None


def _report_in(page, live_server, task_id, person):
    open_and_claim(page, f"{live_server.url}/m/tasks/{task_id}")
    page.fill('#json-form input[name="root[responsible_person]"]', person)
    page.fill('#json-form input[name="root[eta_minutes]"]', "8")
    complete_task(page, live_server.url)


def _responders(key):
    from app.emergency.services import emergency_of_case

    db.session.expire_all()
    return {r.unit_code or r.username: r.status for r in emergency_of_case(case_row(key)).responders}


def test_emergency_a_unit_that_does_not_report_in_is_urged(live_server, page_as, screenshot):
    app = live_server.app
    with app.app_context():
        seed(app, "worker", "dispatcher", "supervisor", "community", "property1")
        sync_plans()
        fields = {
            "plan_code": "elderly_fall",
            "title": "独居老人按下紧急按钮",
            "lat": EAST_POINT[0],
            "lon": EAST_POINT[1],
            "address": "锦绣花园 3 栋 1201",
        }
        key = launch_plan(user("dispatcher"), fields).case.key
        db.session.commit()
        assert sorted(open_ids(key)) == ["declare_control", "emergency_report_in", "emergency_report_in"]
        assert _responders(key) == {"worker": "pending", "property-jx": "pending"}
        worker_task = next(
            t for t in open_tasks(key) if t.element_id == "emergency_report_in" and t.candidate_group is None
        ).id

    phone = page_as("worker", viewport=PHONE)
    _report_in(phone, live_server, worker_task, "张网格")
    with app.app_context():
        assert _responders(key) == {"worker": "acknowledged", "property-jx": "pending"}
        # the property company misses its ten minutes: the community is summoned to urge it
        fire_next_timer(app, instance(key).id)
        assert sorted(open_ids(key)) == ["declare_control", "emergency_report_in", "urge_community"]
        urge_id = open_task(key, "urge_community").id
        assert _fresh(key).escalation_level == "community"

    community = page_as("community", viewport=PHONE)
    open_and_claim(community, f"{live_server.url}/m/tasks/{urge_id}")
    # which responder to chase, by name, and how every responder stands
    assert _fact(community, "responder") == "锦绣物业公司 · 物业协助开门"
    assert _fact(community, "responder-state").startswith("待报到")
    assert _fact(community, "responder-0").startswith("已报到 · 负责人:张网格")
    community.check('#json-form input[type=radio][value="contacted"]')
    community.fill('#json-form textarea[name="root[urge_note]"]', "物业称保安已在途")
    screenshot(community, "branch_emergency_urge")
    complete_task(community, live_server.url)
    with app.app_context():
        assert sorted(open_ids(key)) == ["declare_control", "emergency_report_in"]
        missed = case_events(key, "emergency.report_in_missed")
        assert [(e.data["unit"], e.data["level"]) for e in missed] == [("property-jx", "community")]
        property_task = open_task(key, "emergency_report_in").id

    handler = page_as("property1", viewport=PHONE)
    # the unit's task in the inbox, offered to the unit by its name
    handler.goto(f"{live_server.url}/m/")
    row = handler.locator(f"li.task-row[data-task-id='{property_task}']")
    assert row.locator(".task-who").inner_text() == "单位:锦绣物业公司"
    _report_in(handler, live_server, property_task, "赵队长")
    with app.app_context():
        assert _responders(key) == {"worker": "acknowledged", "property-jx": "acknowledged"}
        assert open_ids(key) == ["declare_control"]
        control_id = open_task(key, "declare_control").id

    desk = page_as("dispatcher", viewport=DESKTOP)
    open_and_claim(desk, f"{live_server.url}/m/tasks/{control_id}")
    desk.fill('#json-form textarea[name="root[control_note]"]', "老人已送医,家属已通知")
    complete_task(desk, live_server.url)
    with app.app_context():
        close_id = open_task(key, "close_emergency").id
    open_and_claim(desk, f"{live_server.url}/m/tasks/{close_id}")
    desk.fill('#json-form textarea[name="root[close_note]"]', "现场恢复正常")
    complete_task(desk, live_server.url)
    with app.app_context():
        assert (_fresh(key).status, open_ids(key)) == (
            "closed",
            ["review_emergency"],
        )  # the after-action review
        review_id = open_task(key, "review_emergency").id

    boss = page_as("supervisor", viewport=DESKTOP)
    open_and_claim(boss, f"{live_server.url}/m/tasks/{review_id}")
    for name, value in (
        ("cause", "老人夜间起身跌倒"),
        ("timeline_summary", "物业逾期经社区督促后报到"),
        ("improvements", "物业夜间值班电话上墙"),
    ):
        boss.fill(f'#json-form textarea[name="root[{name}]"], #json-form input[name="root[{name}]"]', value)
    complete_task(boss, live_server.url)
    with app.app_context():
        from app.emergency.services import emergency_of_case

        assert (_fresh(key).status, open_ids(key)) == ("closed", [])
        assert emergency_of_case(case_row(key)).status == "reviewed"


def test_dispute_mediation_fails_and_is_referred(live_server, page_as, screenshot):
    app = live_server.app
    with app.app_context():
        seed(app, "resident", "community", "med1", "med2")
        parties = [
            {
                "name": "张三",
                "phone": "13812345678",
                "address": "锦绣花园3栋1201",
                "grid_code": EAST_COMPOUND,
                "role": "applicant",
            },
            {
                "name": "李四娃",
                "phone": "13987654321",
                "address": "锦绣花园5栋1302",
                "grid_code": EAST_GRID,
                "role": "respondent",
            },
        ]
        dispute = file_dispute(
            user("resident"),
            {
                "dispute_type": "water_leak",
                "description": "楼上卫生间漏水两周,协商未果",
                "parties": parties,
                "grid_code": EAST_GRID,
                "address": "锦绣花园3栋",
            },
        )
        db.session.commit()
        key = dispute.case.key
        intake_id = open_task(key, "intake").id

    staff = page_as("community", viewport=DESKTOP)
    open_and_claim(staff, f"{live_server.url}/m/tasks/{intake_id}")
    # the parties by number (masked for the community's intake: only the mediator sees them whole)
    assert _fact(staff, "party-1") == "张* · 申请人 · 138****5678 · 锦绣花园…"
    proposed = _fact(staff, "proposed-complex")  # "周调解(在办 0 件)": by name, with the load
    assert proposed.split("(")[0] in ("周调解", "吴调解") and "在办 0 件" in proposed
    staff.check('#json-form input[type=radio][value="complex"]')
    # the other community mediator instead of the proposal: refused without a reason, said in zh-CN
    other = next(u for u, name in (("med1", "周调解"), ("med2", "吴调解")) if name != proposed.split("(")[0])
    staff.locator('#json-form select[name="root[mediator_user]"]').select_option(f'"{other}"')
    staff.click("#complete-button")
    refused = staff.locator('#json-form [data-pointer="/override_reason"] > .field-error')
    refused.wait_for()
    assert refused.inner_text() == "选择推荐以外的调解员须填写改派理由。"
    staff.fill('#json-form textarea[name="root[override_reason]"]', "该调解员熟悉两户情况")
    screenshot(staff, "branch_mediation_intake")
    complete_task(staff, live_server.url)
    with app.app_context():
        dispute = dispute_of_case(case_row(key))
        assert (dispute.grade, dispute.status, _fresh(key).status) == ("complex", "mediating", "handling")
        assert dispute.mediator.username == other
        assert len(case_events(key, "dispute.mediator_overridden")) == 1
        mediator = other
        session_id = open_task(key, "session").id

    phone = page_as(mediator, viewport=PHONE)
    open_and_claim(phone, f"{live_server.url}/m/tasks/{session_id}")
    assert _fact(phone, "party-2") == "李四娃 · 被申请人 · 13987654321 · 锦绣花园5栋1302"
    assert _fact(phone, "mediator") == dict(med1="周调解", med2="吴调解")[other]
    phone.fill('#json-form input[name="root[session_at]"]', "2026-11-02T16:00")
    phone.check('#json-form input[type=radio][value="offline"]')
    phone.fill('#json-form input[name="root[session_place]"]', "社区解忧聊天室")
    attendees = phone.locator('#json-form [data-pointer="/attendees"]')
    for number in ("1", "2"):
        attendees.locator(":scope > button").click()
        attendees.locator("input").last.fill(number)
    phone.fill('#json-form textarea[name="root[session_record]"]', "当事人2不同意赔偿金额,双方分歧大")
    phone.check('#json-form input[type=radio][value="failed"]')
    screenshot(phone, "branch_mediation_session")
    complete_task(phone, live_server.url)
    with app.app_context():
        dispute = dispute_of_case(case_row(key))
        (session,) = dispute.sessions
        assert (session.outcome, session.attendees, session.place) == ("failed", [1, 2], "社区解忧聊天室")
        assert open_ids(key) == ["referral"]
        referral_id = open_task(key, "referral").id

    open_and_claim(phone, f"{live_server.url}/m/tasks/{referral_id}")
    phone.check('#json-form input[type=radio][value="legal_aid"]')
    phone.fill('#json-form textarea[name="root[referral_reason]"]', "赔偿金额分歧大,需法律援助")
    complete_task(phone, live_server.url)
    with app.app_context():
        dispute = dispute_of_case(case_row(key))
        assert (dispute.status, dispute.outcome, dispute.referral_to) == ("closed", "failed", "legal_aid")
        assert (_fresh(key).status, open_ids(key)) == ("closed", [])
        actions = [e.action for e in case_events(key) if e.action.startswith("dispute.")]
        assert actions[-3:] == ["dispute.concluded", "dispute.referred", "dispute.closed"]


def _item(campaign_id):
    db.session.expire_all()
    return db.session.execute(
        select(CampaignItem).where(CampaignItem.campaign_id == campaign_id)
    ).scalar_one()


def test_inspection_fails_and_is_reinspected_after_rectification(live_server, page_as, screenshot):
    app = live_server.app
    with app.app_context():
        seed(app, "worker", "supervisor")
        boss = user("supervisor")
        create_place(
            boss,
            {
                "code": "R1",
                "name": "川味小馆",
                "place_type": "restaurant",
                "lat": EAST_POINT[0],
                "lon": EAST_POINT[1],
                "address": "锦绣花园北门 12 号",
                "responsible_person": "何老板",
            },
        )
        checklist = [
            {"key": "extinguisher", "title": "灭火器在有效期内"},
            {"key": "gas_alarm", "title": "燃气报警器正常"},
        ]
        campaign = launch_campaign(
            boss,
            {
                "title": "燃气安全专项检查",
                "unit_code": "gas",
                "checklist": checklist,
                "grid_codes": [EAST_GRID],
                "place_types": ["restaurant"],
                "deadline": now() + timedelta(days=7),
                "rectify_days": 3,
            },
        )
        db.session.commit()
        campaign_id, instance_id = campaign.id, campaign.instance_id
        inspect_id = open_task_of(instance_id, "inspect").id

    phone = page_as("worker", viewport=PHONE)
    # the inbox names what a task without a case is about: the place and the campaign
    phone.goto(f"{live_server.url}/m/")
    row = phone.locator(f"li.task-row[data-task-id='{inspect_id}']")
    assert row.locator(".task-case").inner_text() == "川味小馆 · 燃气安全专项检查"
    open_and_claim(phone, f"{live_server.url}/m/tasks/{inspect_id}")
    assert _fact(phone, "place") == "川味小馆 · 餐饮"
    assert _fact(phone, "responsible") == "何老板"
    results = phone.locator('#json-form [data-pointer="/results"]')
    results.locator('select[name="root[results][extinguisher][result]"]').select_option('"pass"')
    results.locator('select[name="root[results][gas_alarm][result]"]').select_option('"fail"')
    phone.click("#complete-button")  # a failed item needs its note: marked in zh-CN before anything is sent
    note = phone.locator('#json-form [data-pointer="/results/gas_alarm/note"]')
    note.locator("> .field-error").wait_for()
    assert note.locator("> .field-error").inner_text() == "此项必填"
    note.locator("textarea, input").fill("燃气报警器不报警")
    # a photo of the failed alarm, taken on the page: stored for the campaign item, shown ticked
    photos = phone.locator('#json-form [data-pointer="/photos"]')
    photos.locator("input[type=file]").set_input_files(
        files=[{"name": "alarm.jpg", "mimeType": "image/jpeg", "buffer": jpeg((90, 90, 90), (320, 240))}]
    )
    photos.locator("ul.picked li input:checked").wait_for()
    screenshot(phone, "branch_inspection_inspect")
    complete_task(phone, live_server.url)
    with app.app_context():
        item = _item(campaign_id)
        assert (item.status, item.failed_items, item.inspected_by) == ("rectifying", ["gas_alarm"], "worker")
        assert item.rectify_due_at is not None and open_tasks_of(instance_id) == []
        (photo_id,) = db.session.execute(
            select(InspectionPhoto.id).where(InspectionPhoto.item_id == item.id)
        ).scalars()
        inspected = db.session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "inspection.inspected", AuditEvent.entity_id == item.id
            )
        ).scalar_one()
        assert inspected.data["photos"] == [photo_id]
        # the rectification period passes: the same worker re-inspects
        fire_next_timer(app, instance_id)
        reinspect_id = open_task_of(instance_id, "reinspect").id

    open_and_claim(phone, f"{live_server.url}/m/tasks/{reinspect_id}")
    assert _fact(phone, "failed") == "燃气报警器正常"
    for key in ("extinguisher", "gas_alarm"):
        phone.locator(f'select[name="root[results][{key}][result]"]').select_option('"pass"')
    phone.fill('#json-form textarea[name="root[summary]"]', "已更换燃气报警器")
    complete_task(phone, live_server.url)
    with app.app_context():
        item = _item(campaign_id)
        assert (item.status, item.reinspected_by, item.refailed_items) == ("passed", "worker", [])
        assert item.closed_at is not None
        trail = (
            db.session.execute(
                select(AuditEvent.action)
                .where(AuditEvent.entity_type == "inspection_item", AuditEvent.entity_id == item.id)
                .order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
        assert trail == ["inspection.inspected", "inspection.notice_issued", "inspection.reinspected"]
