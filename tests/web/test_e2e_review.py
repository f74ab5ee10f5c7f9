"""Review and supervision in Chromium, moved only by clicking and typing in the pages (the starting cases are
seeded through the API): the reviewer sees the handler's result, note, photos side by side with the automatic
photo check (one photo far away, one without EXIF, one good) and where the work was completed, sends the case
back (返工) with a comment the handler then sees, and approves; a supervisor urges, reassigns, extends and
comments from the case page; and the overdue path (超期督办): the coordinators escalate to the supervisor,
who urges on one case, reassigns another and extends a third. Each step checks the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.services import create_user
from app.clock import as_utc
from app.extensions import db
from app.workflow import scheduler
from app.workflow.models import HumanTask, TaskStatus
from tests.cases.exif import camera_jpeg
from tests.cases.territory import DISTRICT, STREET, assign
from tests.conftest import PASSWORD
from tests.helpers import (
    case_events,
    case_row,
    complete,
    instance,
    jpeg,
    open_ids,
    open_task,
    report,
    upload_photo,
)
from tests.web.conftest import PHONE
from tests.web.steps import complete_task, open_and_claim
from tests.web.supervisor_seed import seed_people

CASE_POINT = (30.7589, 103.9718)  # tests.helpers.report()'s location
NEAR_POINT = (30.7592, 103.9721)  # ~45 m away
FAR_POINT = (30.7697, 103.9718)  # ~1.2 km north
TUESDAY = datetime(2026, 11, 3, 1, 10, tzinfo=UTC)  # 09:10 in China


def _task(task_id: int) -> HumanTask:
    db.session.expire_all()
    task = db.session.get(HumanTask, task_id)
    assert task is not None
    return task


def _location(task_id: int) -> dict[str, Any]:
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "task.location", AuditEvent.entity_id == str(task_id))
    ).scalar_one()
    return event.data["location"]  # type: ignore[no-any-return]


def _dispatched(client: Any, auth: Any, hours: int = 4, **fields: Any) -> str:
    key: str = report(client, auth, **fields)["key"]
    complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "accept"})
    complete(
        client, auth, "dispatcher", key, "dispatch", {"handler_user": "worker", "time_limit_hours": hours}
    )
    return key


def test_review_shows_the_photo_check_sends_back_then_approves(live_server, page_as, screenshot):
    app = live_server.app
    with app.app_context():
        client, auth = seed_people(app)
        clock = app.extensions["gridcase.clock"]
        clock.set(TUESDAY)
        key = report(client, auth, title="小区门口垃圾满溢", address="锦绣花园北门")["key"]
        upload_photo(client, auth, "resident", key, kind="report", content=jpeg((150, 120, 60), (320, 240)))
        clock.advance(minutes=10)
        complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "accept"})
        complete(
            client, auth, "dispatcher", key, "dispatch", {"handler_user": "worker", "time_limit_hours": 4}
        )
        dispatched = as_utc(case_row(key).dispatched_at)
        clock.advance(minutes=50)
        # the handler's photos as the phone camera wrote them: on the spot, 1.2 km away, and without EXIF
        photos = {
            name: upload_photo(client, auth, "worker", key, kind="after", content=content)["id"]
            for name, content in [
                ("good", camera_jpeg(dispatched + timedelta(minutes=40), NEAR_POINT, (60, 140, 70))),
                ("far", camera_jpeg(dispatched + timedelta(minutes=45), FAR_POINT, (70, 90, 160))),
                ("bare", camera_jpeg(color=(160, 70, 70))),
            ]
        }
        handle_id = open_task(key, "handle").id
        db.session.commit()

    # -- the handler: result and note, from the spot (the browser's geolocation goes with each completion) --
    worker = page_as("worker", viewport=PHONE)
    worker.context.set_geolocation({"latitude": NEAR_POINT[0], "longitude": NEAR_POINT[1], "accuracy": 12})
    open_and_claim(worker, f"{live_server.url}/m/tasks/{handle_id}")
    worker.check('#json-form input[type=radio][value="resolved"]')
    worker.fill('#json-form textarea[name="root[handle_description]"]', "已清运满溢垃圾,垃圾桶归位")
    complete_task(worker, live_server.url)
    with app.app_context():
        proof_id = open_task(key, "photo_proof").id
    open_and_claim(worker, f"{live_server.url}/m/tasks/{proof_id}")
    for photo_id in photos.values():
        worker.check(f'#json-form .photo-choice input[value="{photo_id}"]')
    worker.fill('#json-form textarea[name="root[proof_note]"]', "附三张处置后照片")
    complete_task(worker, live_server.url)
    with app.app_context():
        assert case_row(key).status == "review"
        assert _location(proof_id)["lat"] == NEAR_POINT[0]
        review_id = open_task(key, "review").id

    # -- the reviewer: everything beside the form, the check per photo ---------------------------------
    reviewer = page_as("supervisor")
    open_and_claim(reviewer, f"{live_server.url}/m/tasks/{review_id}")
    panel = reviewer.locator("#review-panel")
    assert panel.locator("#review-result").inner_text() == "已处置"
    assert panel.locator("#review-description").inner_text() == "已清运满溢垃圾,垃圾桶归位"
    assert panel.locator("#review-note").inner_text() == "附三张处置后照片"
    assert panel.locator("figure[data-side='before'] img").count() == 1
    proofs = panel.locator("figure[data-side='after'] .review-proof")
    flags = dict(
        proofs.evaluate_all("els => els.map(e => [Number(e.dataset.attachmentId), e.dataset.flags])")
    )
    assert flags == {photos["good"]: "", photos["far"]: "far", photos["bare"]: "no_place no_time"}
    far = panel.locator(f".review-proof[data-attachment-id='{photos['far']}']")
    assert "拍摄地点距案件位置 1.2 公里" in far.inner_text()
    assert "拍摄地点远离案件位置" in far.inner_text()
    assert "派遣后 45分钟 拍摄" in far.inner_text()
    good = panel.locator(f".review-proof[data-attachment-id='{photos['good']}']").inner_text()
    assert "拍摄时间和地点与案件相符" in good and "拍摄地点距案件位置 4" in good  # ~45 m
    bare = panel.locator(f".review-proof[data-attachment-id='{photos['bare']}']").inner_text()
    assert "无拍摄时间" in bare and "无拍摄地点" in bare
    places = panel.locator("#review-places").inner_text()
    assert "30.75920, 103.97210" in places and "距案件位置 4" in places
    reviewer.wait_for_selector("#review-map[data-state='ready']")
    reviewer.wait_for_function(
        "() => [...document.querySelectorAll('#review-panel img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    screenshot(reviewer, "review")  # docs/screenshots/review.png in the README

    # 返工 with a comment: the case goes back to the handler
    reviewer.check('#json-form input[type=radio][value="reject"]')
    reviewer.fill('#json-form textarea[name="root[review_comment]"]', "远处那张照片不是现场,请补拍")
    complete_task(reviewer, live_server.url)
    with app.app_context():
        row = case_row(key)
        assert row.status == "handling" and row.rework_count == 1
        [rework] = case_events(key, "case.rework")
        assert rework.data == {"comment": "远处那张照片不是现场,请补拍"}
        handle_again = open_task(key, "handle")
        assert handle_again.candidate_user == "worker"

    # the handler sees why, handles again and sends the good photo alone
    open_and_claim(worker, f"{live_server.url}/m/tasks/{handle_again.id}")
    assert worker.locator("#rework-comment").inner_text() == "远处那张照片不是现场,请补拍"
    worker.check('#json-form input[type=radio][value="resolved"]')
    worker.fill('#json-form textarea[name="root[handle_description]"]', "已补拍现场照片")
    complete_task(worker, live_server.url)
    with app.app_context():
        proof_again = open_task(key, "photo_proof").id
    open_and_claim(worker, f"{live_server.url}/m/tasks/{proof_again}")
    # the form starts from the first round's choice: the far and the bare photo are taken out
    worker.uncheck(f'#json-form .photo-choice input[value="{photos["far"]}"]')
    worker.uncheck(f'#json-form .photo-choice input[value="{photos["bare"]}"]')
    assert worker.is_checked(f'#json-form .photo-choice input[value="{photos["good"]}"]')
    complete_task(worker, live_server.url)
    with app.app_context():
        review_again = open_task(key, "review").id
    open_and_claim(reviewer, f"{live_server.url}/m/tasks/{review_again}")
    after = reviewer.locator("#review-panel .review-proof")
    assert after.count() == 1 and after.get_attribute("data-flags") == ""
    reviewer.check('#json-form input[type=radio][value="approve"]')
    complete_task(reviewer, live_server.url)
    with app.app_context():
        row = case_row(key)
        assert row.status == "closed" and row.rework_count == 1


def test_supervisor_urges_reassigns_extends_and_comments_from_the_case_page(live_server, page_as, screenshot):
    app = live_server.app
    with app.app_context():
        client, auth = seed_people(app)
        app.extensions["gridcase.clock"].set(TUESDAY)
        key = _dispatched(client, auth, hours=4)
        due_before = as_utc(case_row(key).due_at)
        handle_id = open_task(key, "handle").id
        db.session.commit()

    page = page_as("supervisor")
    page.goto(f"{live_server.url}/supervise/cases/{key}")
    actions = page.locator("#case-actions")
    assert actions.locator(".sv-current-task").inner_text() == "处置"

    # urge, with a note to the handler
    page.fill("#urge-note", "今天下班前处理完")
    with page.expect_navigation():
        actions.locator("#action-urge button[type=submit]").click()
    assert "已催办" in page.locator(".flash-success").inner_text()
    with app.app_context():
        [urged] = case_events(key, "task.urged")
        assert urged.entity_id == str(handle_id) and urged.data["note"] == "今天下班前处理完"

    # extend: no number is refused next to the field and nothing changes (the browser itself stops 0 or
    # 241: min and max on the input); then 8 working hours
    page.fill("#extend-hours", "")
    page.fill("#extend-reason", "需协调物业开门")
    with page.expect_navigation():
        page.locator("#action-extend button[type=submit]").click()
    assert page.locator("#err-extend-hours").inner_text() == "请填写 1 到 240 之间的整数工作小时。"
    assert page.input_value("#extend-reason") == "需协调物业开门"
    with app.app_context():
        assert as_utc(case_row(key).due_at) == due_before and case_row(key).postponed_count == 0
    page.fill("#extend-hours", "8")
    with page.expect_navigation():
        page.locator("#action-extend button[type=submit]").click()
    with app.app_context():
        row = case_row(key)
        calendar = app.extensions["gridcase.calendar"]
        assert as_utc(row.due_at) == calendar.add_working_hours(due_before, 8) and row.postponed_count == 1
        assert as_utc(open_task(key, "handle").due_at) == as_utc(row.due_at)
        assert case_events(key, "case.time_limit_extended")[0].data["reason"] == "需协调物业开门"

    # reassign: picked by name; without a reason it is refused
    page.select_option("#reassign-username", "worker2")
    with page.expect_navigation():
        page.locator("#action-reassign button[type=submit]").click()
    assert page.locator("#err-reassign-reason").inner_text() == "请填写此项。"
    page.fill("#reassign-reason", "原处置人外出培训")
    with page.expect_navigation():
        page.locator("#action-reassign button[type=submit]").click()
    with app.app_context():
        task = open_task(key, "handle")
        assert task.candidate_user == "worker2" and task.status == TaskStatus.CLAIMED
        assert case_row(key).handler_user == "worker2"
        assert case_events(key, "task.reassigned")[0].data == {"reason": "原处置人外出培训"}

    # comment
    page.fill("#comment-body", "请附处置前后对比照片")
    with page.expect_navigation():
        page.locator("#action-comment button[type=submit]").click()
    with app.app_context():
        assert [e.data for e in case_events(key, "case.commented")] == [{"body": "请附处置前后对比照片"}]

    # the timeline says it all in zh-CN
    timeline = page.locator("#case-timeline").inner_text()
    for label in ("催办", "延期", "转派待办", "评论"):
        assert label in timeline, label
    page.locator("#case-actions").scroll_into_view_if_needed()
    screenshot(page, "supervisor_case_actions")


def test_overdue_cases_are_supervised_urged_reassigned_and_extended(live_server, page_as):
    app = live_server.app
    with app.app_context():
        client, auth = seed_people(app)
        for username, role, grid in [
            ("street", "street_coordinator", STREET),
            ("district", "district_coordinator", DISTRICT),
        ]:
            create_user(username, PASSWORD, role)
            db.session.commit()
            assign(username, grid)
        db.session.commit()
        clock = app.extensions["gridcase.clock"]
        clock.set(TUESDAY)
        keys = [_dispatched(client, auth, hours=2, title=f"垃圾满溢 {n}") for n in range(3)]
        # past every limit: each case's warning and overdue timers fire (the injected clock, no sleeping)
        clock.advance(hours=30)
        while scheduler.tick():
            db.session.expire_all()
        for key in keys:
            assert case_row(key).overdue_at is not None and "coordinate_community" in open_ids(key)
        # the second and third cases reach the supervisor through the API: the pages walk the first one
        for key in keys[1:]:
            complete(
                client, auth, "community", key, "coordinate_community", {"coordinate_decision": "escalate"}
            )
            complete(client, auth, "street", key, "coordinate_street", {"coordinate_decision": "escalate"})
            complete(
                client, auth, "district", key, "coordinate_district", {"coordinate_decision": "supervise"}
            )
        first = keys[0]
        db.session.commit()

    # the three-level linkage escalates the first case to the supervisor, through the task pages
    for who, element, decision in [
        ("community", "coordinate_community", "escalate"),
        ("street", "coordinate_street", "escalate"),
        ("district", "coordinate_district", "supervise"),
    ]:
        with app.app_context():
            task_id = open_task(first, element).id
        page = page_as(who)
        open_and_claim(page, f"{live_server.url}/m/tasks/{task_id}")
        page.check(f'#json-form input[type=radio][value="{decision}"]')
        complete_task(page, live_server.url)
        page.context.close()
    with app.app_context():
        assert case_row(first).escalation_level == "district"
        supervise_ids = [open_task(key, "supervise").id for key in keys]

    supervisor = page_as("supervisor")
    # 1: urge, on the 超期督办 task page
    open_and_claim(supervisor, f"{live_server.url}/m/tasks/{supervise_ids[0]}")
    supervisor.check('#json-form input[type=radio][value="urge"]')
    supervisor.fill('#json-form textarea[name="root[supervise_note]"]', "已超期,限今日办结")
    complete_task(supervisor, live_server.url)
    # 2: reassign to a worker picked by name, on the task page
    open_and_claim(supervisor, f"{live_server.url}/m/tasks/{supervise_ids[1]}")
    supervisor.check('#json-form input[type=radio][value="reassign"]')
    supervisor.locator('#json-form [data-pointer="/new_handler_user"] select').select_option('"worker2"')
    complete_task(supervisor, live_server.url)
    # 3: extend, from the case page (its action decides the open supervise task)
    supervisor.goto(f"{live_server.url}/supervise/cases/{keys[2]}")
    assert supervisor.locator("#supervise-pending").is_visible()
    supervisor.fill("#extend-hours", "16")
    supervisor.fill("#extend-reason", "需燃气公司停气后处置")
    with supervisor.expect_navigation():
        supervisor.locator("#action-extend button[type=submit]").click()

    with app.app_context():
        decisions = [case_events(key, "case.supervised")[0].data for key in keys]
        assert decisions[0] == {"action": "urge", "note": "已超期,限今日办结"}
        assert decisions[1]["action"] == "reassign" and decisions[1]["handler_user"] == "worker2"
        assert decisions[2]["action"] == "extend" and decisions[2]["note"] == "需燃气公司停气后处置"
        for key, task_id in zip(keys, supervise_ids, strict=True):
            assert _task(task_id).status == TaskStatus.COMPLETED and "supervise" not in open_ids(key)
        assert open_task(keys[1], "handle").candidate_user == "worker2"
        assert case_row(keys[1]).handler_user == "worker2"
        extended = case_row(keys[2])
        assert extended.postponed_count == 1
        assert as_utc(extended.due_at) == as_utc(datetime.fromisoformat(decisions[2]["due_at"]))
        assert as_utc(open_task(keys[2], "handle").due_at) == as_utc(extended.due_at)
        assert instance(keys[0]).status == "running"  # the handler still has the task to finish
