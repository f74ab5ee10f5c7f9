"""Every path of ``bpmn/case_handling.bpmn`` walked through the pages (issue 14, "done when" 1), except the
overdue → 超期督办 paths (walked by the review pages' own browser test). State moves only by clicks and
typing, each person signed in on their own pages (the resident on the phone pages at 360 px, everyone else
on the task pages); starting data is seeded with the helpers. After each step the database is checked:
the case's status, its tasks, audit events, the duplicate link, the time limit, the summoned units and
their report-ins.

1. triage and the main line: a resident reports on the report page and withdraws it (撤销上报); a report is
   rejected with a reason; one is accepted, and a stale withdrawal of it is refused; a duplicate of it is
   marked by picking it from the list; the accepted case goes to the proposal (pre-selected, shown by name),
   is handled with a photo proof, sent back (返工) and approved.
2. the other dispatch and coordination: an override to another worker with a time limit; 超出网格处置能力
   → 社区协调 提级 → 街道 吹哨 with two units → each unit's member reports in from their inbox → the lead
   unit handles; 超出网格处置能力 → 社区协调 退回处置 to a named worker; and 社区 吹哨 where the unit
   misses its report-in deadline (the injected clock fires the timer) → the street coordinates.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, update

from app.auth.models import User
from app.auth.services import create_user
from app.cases.models import Attachment
from app.clock import as_utc
from app.extensions import db
from app.workflow.models import HumanTask, TaskStatus
from tests.cases.territory import COMMUNITY, EAST_GRID, STREET, add_unit, assign
from tests.conftest import PASSWORD
from tests.helpers import (
    after_working_hours,
    case_events,
    case_row,
    fire_next_timer,
    open_ids,
    open_task,
    report,
    walk_to,
)
from tests.helpers import complete as api_complete
from tests.web.conftest import PHONE
from tests.web.seed import seed_people

DESKTOP = {"width": 1280, "height": 860}


# -- moving through the pages --------------------------------------------------------------------------


def _field(page: Any, name: str) -> Any:
    return page.locator(f'#json-form [data-pointer="/{name}"]')


def open_from_inbox(page: Any, base: str, key: str, task_name: str) -> None:
    """From the inbox, the case's task by its name; claimed if it is still open to claim."""
    page.goto(f"{base}/m/")
    row = page.locator("li.task-row", has_text=key).filter(has=page.locator(".task-name", has_text=task_name))
    with page.expect_navigation():
        row.locator("a.task-name").click()
    claim = page.locator("section button", has_text="认领")
    if claim.count():
        with page.expect_navigation():
            claim.click()
    page.locator("#json-form .form-field").first.wait_for()


def complete(page: Any, base: str) -> None:
    with page.expect_navigation(url=f"{base}/m/"):
        page.click("#complete-button")


def choose(page: Any, name: str, value: str) -> None:
    page.check(f'#json-form input[name="root[{name}]"][value="{value}"]')


def type_in(page: Any, name: str, text: str) -> None:
    page.locator(f'#json-form [name="root[{name}]"]').fill(text)


def actions(key: str) -> list[str]:
    return [event.action for event in case_events(key)]


def task_of(key: str, element_id: str, status: str | None = None) -> HumanTask:
    """The case's latest task of ``element_id`` (in ``status`` when given)."""
    db.session.expire_all()
    query = (
        select(HumanTask)
        .where(HumanTask.case_id == case_row(key).id, HumanTask.element_id == element_id)
        .order_by(HumanTask.id.desc())
    )
    if status:
        query = query.where(HumanTask.status == status)
    found = db.session.execute(query).scalars().first()
    assert found is not None, f"no {element_id} task on {key}"
    return found


# -- 1. triage, withdrawal, duplicate, proposal, rework then approve ---------------------------------------


NAMES = {"worker": "张伟", "worker_west": "李娜", "community": "王芳", "street": "赵强"}


def name_people() -> None:
    """People are shown by name: the seeded ones get theirs."""
    for username, name in NAMES.items():
        db.session.execute(update(User).where(User.username == username).values(display_name=name))
    db.session.commit()


def test_triage_paths_the_proposal_and_rework(live_server, page_as, screenshot):
    base = live_server.url
    with live_server.app.app_context():
        client, auth = seed_people(live_server.app)
        name_people()
        rejected = report(client, auth, title="路灯不亮", description="路灯坏了好几天")["key"]
        original = report(client, auth, title="北门垃圾满溢", description="垃圾桶满了")["key"]
        double = report(client, auth, who="resident2", title="北门垃圾没人收", description="同一处垃圾")[
            "key"
        ]

    # -- the resident reports on the phone, then withdraws it (撤销上报) -----------------------------------
    resident = page_as("resident", viewport=PHONE)
    resident.goto(f"{base}/r/report")
    resident.locator("label.category-class", has_text="市容环境").first.click()
    resident.select_option("#category_code", "E0102")
    resident.fill("#description", "楼下堆了一堆装修垃圾")
    resident.wait_for_selector("#pick-map path.leaflet-interactive")
    resident.click("#use-location")
    resident.fill("#address", "锦绣花园3栋")
    with resident.expect_navigation():
        resident.click("button[type=submit].primary")
    withdrawn = resident.locator("#case-number").inner_text()
    with live_server.app.app_context():
        assert case_row(withdrawn).status == "triage" and open_ids(withdrawn) == ["triage"]
    with resident.expect_navigation():
        resident.click("text=查询进度")
    form = resident.locator("#withdraw")
    assert "撤销上报" in form.inner_text()
    resident.fill("#withdraw-reason", "已经有人清走了")
    resident.check("#withdraw-confirm")
    assert resident.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(resident, "walk_resident_withdraw")
    with resident.expect_navigation():
        resident.click("#withdraw-button")
    assert resident.locator("#progress .status").inner_text() == "已撤销"
    assert resident.locator("#withdraw").count() == 0  # nothing left to withdraw
    screenshot(resident, "walk_resident_withdrawn")
    with live_server.app.app_context():
        case = case_row(withdrawn)
        assert case.status == "withdrawn" and case.closed_at is not None
        assert open_ids(withdrawn) == []
        assert task_of(withdrawn, "triage").status == TaskStatus.CANCELLED
        correlated = case_events(withdrawn, "message.correlated")
        assert [e.data["message"] for e in correlated] == ["report_withdrawn"]
        assert "case.status_changed" in actions(withdrawn)

    # the resident keeps the original's tracking page open with a withdrawal typed in ...
    resident.goto(f"{base}/r/track?key={original}")
    resident.fill("#withdraw-reason", "不需要了")
    resident.check("#withdraw-confirm")

    # -- the dispatcher rejects a report with a reason (不予立案) --------------------------------------------
    dispatcher = page_as("dispatcher", viewport=DESKTOP)
    open_from_inbox(dispatcher, base, rejected, "受理立案")
    choose(dispatcher, "triage_decision", "reject")
    type_in(dispatcher, "reject_reason", "不属于城市管理范围,请拨打12345")
    complete(dispatcher, base)
    with live_server.app.app_context():
        case = case_row(rejected)
        assert (case.status, case.reject_reason) == ("rejected", "不属于城市管理范围,请拨打12345")
        assert open_ids(rejected) == [] and task_of(rejected, "triage").status == TaskStatus.COMPLETED
        assert "case.status_changed" in actions(rejected)

    # -- accepts the original ...
    open_from_inbox(dispatcher, base, original, "受理立案")
    choose(dispatcher, "triage_decision", "accept")
    complete(dispatcher, base)
    with live_server.app.app_context():
        assert case_row(original).status == "dispatching" and open_ids(original) == ["dispatch"]
        assert case_row(original).filed_at is not None

    # ... so the resident's stale withdrawal is refused, in zh-CN, and changes nothing
    resident.click("#withdraw-button")
    resident.locator("#withdraw-error").wait_for()
    assert resident.locator("#withdraw-error").inner_text() == "该上报已受理,不能再撤销。"
    assert resident.locator("#withdraw-button").count() == 0
    screenshot(resident, "walk_resident_withdraw_refused")
    with live_server.app.app_context():
        assert case_row(original).status == "dispatching" and open_ids(original) == ["dispatch"]
        assert case_events(original, "message.correlated") == []

    # -- marks the second report as a duplicate of the original, picked from the list ---------------------
    open_from_inbox(dispatcher, base, double, "受理立案")
    choose(dispatcher, "triage_decision", "duplicate")
    offers = _field(dispatcher, "duplicate_of").locator("button.suggestion")
    assert offers.first.get_attribute("data-value") == original  # same category, same place: first
    assert rejected not in offers.all_inner_texts()[0] and withdrawn not in " ".join(offers.all_inner_texts())
    screenshot(dispatcher, "walk_triage_duplicate_picker")
    offers.first.click()
    assert dispatcher.locator('#json-form input[name="root[duplicate_of]"]').input_value() == original
    complete(dispatcher, base)
    with live_server.app.app_context():
        case = case_row(double)
        assert case.status == "duplicate" and case.duplicate_of_id == case_row(original).id
        assert open_ids(double) == []
        assert [e.data["duplicate"] for e in case_events(original, "case.linked")] == [double]

    # -- dispatches the original to the proposal: shown by name, pre-selected, one click ------------------
    open_from_inbox(dispatcher, base, original, "派遣")
    assert dispatcher.locator("#proposal-name").inner_text() == "张伟"  # by name, not the login
    assert dispatcher.locator("#proposal-reason").inner_text() == "第2网格唯一人选:0 项待办"
    assert _field(dispatcher, "handler_user").locator("select").input_value() == '"worker"'
    screenshot(dispatcher, "walk_dispatch_proposal")
    complete(dispatcher, base)
    with live_server.app.app_context():
        case = case_row(original)
        assert (case.status, case.handler_user, case.handler_unit) == ("handling", "worker", None)
        assert case.due_at is not None and "case.time_limit_set" in actions(original)
        assert "case.dispatch_overridden" not in actions(original)
        handle = open_task(original, "handle")
        assert handle.status == TaskStatus.CLAIMED

    # -- the grid worker handles it and sends the photo proof, on the phone --------------------------------
    worker = page_as("worker", viewport=PHONE)

    def handle_and_prove(description: str) -> None:
        open_from_inbox(worker, base, original, "处置")
        choose(worker, "handle_result", "resolved")
        type_in(worker, "handle_description", description)
        # 办结 of 处置 opens the worker's 处置反馈 of the same case at once (one visit to the task pages)
        with worker.expect_navigation(url=re.compile(rf"{re.escape(base)}/m/tasks/\d+$")):
            worker.click("#complete-button")
        assert "处置反馈" in worker.locator("h1").inner_text()
        worker.locator("#json-form .form-field").first.wait_for()
        worker.set_input_files(
            "#json-form input[type=file]",
            files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}],
        )
        _field(worker, "after_photos").locator("input[type=checkbox]:checked").last.wait_for()
        complete(worker, base)

    handle_and_prove("已清运")
    with live_server.app.app_context():
        case = case_row(original)
        assert case.status == "review" and open_ids(original) == ["review"]
        photos = db.session.execute(select(Attachment).where(Attachment.case_id == case.id)).scalars().all()
        assert [p.kind for p in photos] == ["after"]
        assert task_of(original, "photo_proof").submitted_data["after_photos"] == [photos[0].id]

    # -- the supervisor sends it back (返工) ... ----------------------------------------------------------
    supervisor = page_as("supervisor", viewport=DESKTOP)
    open_from_inbox(supervisor, base, original, "核查结案")
    choose(supervisor, "review_decision", "reject")
    supervisor.click("#complete-button")  # the comment is required for a rework
    assert _field(supervisor, "review_comment").locator("> .field-error").inner_text() == "此项必填"
    type_in(supervisor, "review_comment", "地面还有污渍,请冲洗")
    complete(supervisor, base)
    with live_server.app.app_context():
        case = case_row(original)
        assert (case.status, case.rework_count) == ("handling", 1)
        assert open_task(original, "handle").assignee_id is not None
        assert "case.rework" in actions(original)

    # ... the worker handles it again, and the supervisor approves: closed
    handle_and_prove("已冲洗干净")
    open_from_inbox(supervisor, base, original, "核查结案")
    choose(supervisor, "review_decision", "approve")
    complete(supervisor, base)
    with live_server.app.app_context():
        case = case_row(original)
        assert (case.status, case.rework_count) == ("closed", 1) and case.closed_at is not None
        assert open_ids(original) == []
        completed = [e for e in case_events(original, "task.completed")]
        assert len(completed) == 8  # triage, dispatch, 2 × (handle, proof, review)

    # the resident's tracking page tells the end
    resident.goto(f"{base}/r/track?key={original}")
    assert resident.locator("#progress .status").inner_text() == "已结案"


def _jpeg() -> bytes:
    from tests.helpers import jpeg

    return jpeg((60, 140, 70), (320, 240))


# -- 2. override with a time limit, escalation with 提级, 吹哨 and report-in; 退回处置 ----------------------


def test_override_escalation_summons_report_in_and_return(live_server, page_as, screenshot):
    base = live_server.url
    with live_server.app.app_context():
        client, auth = seed_people(live_server.app)
        for username, role, unit in (
            ("community", "community_staff", None),
            ("street", "street_coordinator", None),
            ("gas1", "department_handler", "gas"),
            ("power1", "department_handler", "power"),
        ):
            create_user(username, PASSWORD, role, display_name=None, unit_code=unit)
        db.session.commit()
        name_people()
        assign("community", COMMUNITY)
        assign("street", STREET)
        add_unit("gas", "gas", EAST_GRID, name="城东燃气公司")
        add_unit("power", "power", EAST_GRID, name="城东供电所")
        leak = report(client, auth, title="燃气管道漏气", description="闻到燃气味")["key"]
        walk_to(client, auth, leak, "dispatch")
        returned = report(client, auth, title="井盖缺失", description="人行道井盖没了")["key"]
        walk_to(client, auth, returned, "handle", hours=8)
        missed = report(client, auth, title="电缆外露", description="绿化带里电缆外露")["key"]
        walk_to(client, auth, missed, "handle", hours=8)
        beyond = {
            "handle_result": "beyond_means",
            "handle_description": "已围挡",
            "beyond_means_reason": "需供电所",
        }
        api_complete(client, auth, "worker", missed, "handle", beyond)
        clock = live_server.app.extensions["gridcase.clock"]

    # -- the dispatcher overrides the proposal: another worker, 6 working hours, a note ------------------
    dispatcher = page_as("dispatcher", viewport=DESKTOP)
    open_from_inbox(dispatcher, base, leak, "派遣")
    assert _field(dispatcher, "handler_user").locator("select").input_value() == '"worker"'  # the proposal
    _field(dispatcher, "handler_user").locator("select").select_option('"worker_west"')
    type_in(dispatcher, "time_limit_hours", "6")
    type_in(dispatcher, "dispatch_note", "西片网格员熟悉该管线")
    complete(dispatcher, base)
    with live_server.app.app_context():
        case = case_row(leak)
        assert (case.status, case.handler_user) == ("handling", "worker_west")
        assert as_utc(case.due_at) == after_working_hours(as_utc(case.dispatched_at), 6)
        overridden = case_events(leak, "case.dispatch_overridden")
        assert len(overridden) == 1
        assert open_task(leak, "handle").assignee_id is not None

    # -- the worker finds it beyond the grid's means -------------------------------------------------------
    west = page_as("worker_west", viewport=PHONE)
    open_from_inbox(west, base, leak, "处置")
    choose(west, "handle_result", "beyond_means")
    type_in(west, "handle_description", "已拉警戒线,疏散围观人员")
    type_in(west, "beyond_means_reason", "需燃气公司和供电所到场")
    complete(west, base)
    with live_server.app.app_context():
        case = case_row(leak)
        assert case.escalation_level == "community" and open_ids(leak) == ["coordinate_community"]
        assert "case.escalated" in actions(leak)

    # -- the community sees why, and escalates (提级) to the street -----------------------------------------
    community = page_as("community", viewport=PHONE)
    open_from_inbox(community, base, leak, "社区协调")
    assert community.locator("#beyond-reason").inner_text() == "需燃气公司和供电所到场"
    screenshot(community, "walk_coordinate_context")
    choose(community, "coordinate_decision", "escalate")
    type_in(community, "coordinate_note", "涉及多家单位,提请街道协调")
    complete(community, base)
    with live_server.app.app_context():
        assert case_row(leak).escalation_level == "street" and open_ids(leak) == ["coordinate_street"]

    # -- the street blows the whistle (吹哨): gas leads, power joins ----------------------------------------
    street = page_as("street", viewport=DESKTOP)
    open_from_inbox(street, base, leak, "街道协调")
    choose(street, "coordinate_decision", "summon")
    units = _field(street, "summon_units")
    for code in ("gas", "power"):
        units.locator(":scope > button").click()
        units.locator("select").last.select_option(f'"{code}"')
    type_in(street, "coordinate_note", "请一小时内到场")
    complete(street, base)
    with live_server.app.app_context():
        summoned = case_events(leak, "case.units_summoned")
        assert [(e.data["units"], e.data["lead_unit"], e.data["level"]) for e in summoned] == [
            (["gas", "power"], "gas", "street")
        ]
        report_ins = [t for t in _open(leak) if t.element_id == "report_in"]
        assert sorted(t.candidate_group for t in report_ins) == ["gas", "power"]
        assert all(t.status == TaskStatus.READY and t.due_at is not None for t in report_ins)

    # -- each unit's member finds the 部门报到 in their inbox with the case, and reports in ----------------
    for username, unit_name, person in (("power1", "城东供电所", "王工"), ("gas1", "城东燃气公司", "李工")):
        member = page_as(username, viewport=PHONE)
        member.goto(f"{base}/m/")
        row = member.locator("li.task-row", has_text=leak)
        assert "部门报到" in row.inner_text() and "燃气管道漏气" in row.inner_text()
        open_from_inbox(member, base, leak, "部门报到")
        summons = member.locator("#summons")
        assert member.locator("#summons-unit").inner_text().startswith(unit_name)
        assert member.locator("#summons-units").inner_text() == "城东燃气公司、城东供电所"
        assert "请一小时内到场" in summons.inner_text() and "街道" in summons.inner_text()
        assert member.locator("#beyond-reason").inner_text() == "需燃气公司和供电所到场"
        if username == "gas1":
            assert "牵头单位" in member.locator("#summons-unit").inner_text()
            screenshot(member, "walk_report_in")
        type_in(member, "responsible_person", person)
        complete(member, base)
        member.context.close()
    with live_server.app.app_context():
        reported = case_events(leak, "case.reported_in")
        assert [(e.data["unit"], e.data["responsible_person"]) for e in reported] == [
            ("power", "王工"),
            ("gas", "李工"),
        ]
        # all in: the lead unit handles the case, its members may claim the handling
        case = case_row(leak)
        assert (case.handler_unit, case.status) == ("gas", "handling")
        handle = open_task(leak, "handle")
        assert (handle.candidate_group, handle.status) == ("gas", TaskStatus.READY)
        assert "case.escalation_resolved" in actions(leak)

    # -- 退回处置: another case beyond the means, returned by the community to a named worker ----------------
    worker = page_as("worker", viewport=PHONE)
    open_from_inbox(worker, base, returned, "处置")
    choose(worker, "handle_result", "beyond_means")
    type_in(worker, "handle_description", "井盖型号特殊")
    type_in(worker, "beyond_means_reason", "需要专业维修")
    complete(worker, base)
    open_from_inbox(community, base, returned, "社区协调")
    choose(community, "coordinate_decision", "return")
    _field(community, "handover_user").locator("select").select_option('"worker_west"')
    type_in(community, "coordinate_note", "已协调西片网格员带工具处置")
    complete(community, base)
    with live_server.app.app_context():
        case = case_row(returned)
        assert (case.handler_user, case.status) == ("worker_west", "handling")
        handle = open_task(returned, "handle")
        assert handle.candidate_user == "worker_west" and handle.status == TaskStatus.CLAIMED
        assert "case.escalation_resolved" in actions(returned)

    # -- 有单位未报到: the community summons power, which does not report in by the deadline → the street ----
    open_from_inbox(community, base, missed, "社区协调")
    choose(community, "coordinate_decision", "summon")
    units = _field(community, "summon_units")
    units.locator(":scope > button").click()
    units.locator("select").select_option('"power"')
    complete(community, base)
    with live_server.app.app_context():
        report_in = open_task(missed, "report_in")
        assert (report_in.candidate_group, case_row(missed).escalation_level) == ("power", "community")
        fire_next_timer(clock, missed)  # the report-in deadline passes (the injected clock, no sleeping)
        assert [e.data["unit"] for e in case_events(missed, "case.report_in_missed")] == ["power"]
        assert db.session.get(HumanTask, report_in.id).status == TaskStatus.CANCELLED
        assert case_row(missed).escalation_level == "street" and open_ids(missed) == ["coordinate_street"]
    street.goto(f"{base}/m/")
    assert street.locator("li.task-row", has_text=missed).locator(".task-name").inner_text() == "街道协调"


def _open(key: str) -> list[HumanTask]:
    from tests.helpers import open_tasks

    return open_tasks(key)
