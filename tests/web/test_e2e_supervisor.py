"""In headless Chromium: a supervisor opens a case and sees its timeline, the before/after photos and the
BPMN diagram with the completed and active elements highlighted (bpmn-js markers on the SVG elements)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.extensions import db
from tests.helpers import complete, jpeg, report, upload_photo
from tests.web.supervisor_seed import seed_people


def test_supervisor_sees_the_highlighted_diagram_and_timeline(live_server, page_as, screenshot):
    with live_server.app.app_context():
        client, auth = seed_people(live_server.app)
        clock = live_server.app.extensions["gridcase.clock"]
        clock.set(datetime(2026, 11, 3, 1, 10, tzinfo=UTC))  # Tuesday 09:10 in China
        key = report(client, auth, title="小区门口垃圾满溢", address="锦绣花园北门")["key"]
        upload_photo(client, auth, "resident", key, kind="report", content=jpeg((150, 120, 60), (320, 240)))
        # each step some minutes after the last, so the timeline has gaps to show
        for who, element, data, minutes in [
            ("dispatcher", "triage", {"triage_decision": "accept"}, 12),
            ("dispatcher", "dispatch", {"handler_user": "worker", "time_limit_hours": 4}, 8),
            ("worker", "handle", {"handle_result": "resolved", "handle_description": "已清运"}, 95),
        ]:
            clock.advance(minutes=minutes)
            complete(client, auth, who, key, element, data)
        clock.advance(minutes=6)
        photo = upload_photo(
            client, auth, "worker", key, kind="after", content=jpeg((60, 140, 70), (320, 240))
        )
        complete(client, auth, "worker", key, "photo_proof", {"after_photos": [photo["id"]]})
        clock.advance(minutes=20)
        db.session.commit()

    page = page_as("supervisor")
    page.goto(f"{live_server.url}/supervise/cases")
    page.click(f"tr[data-case-key='{key}'] a")
    page.wait_for_url(f"**/supervise/cases/{key}")
    assert page.locator("h1").inner_text().startswith(key)

    # the diagram: drawn, the review task active, the steps before it completed, the path there taken
    page.wait_for_selector("#case-diagram[data-state='ready']")
    active = page.locator("g.djs-element.gc-active")
    assert active.evaluate_all("els => els.map(e => e.dataset.elementId)") == ["review"]
    completed = set(
        page.locator("g.djs-element.gc-completed").evaluate_all("els => els.map(e => e.dataset.elementId)")
    )
    assert {
        "start_report",
        "triage",
        "gw_triage",
        "dispatch",
        "set_time_limit",
        "handle",
        "photo_proof",
    } <= completed
    assert not completed & {"finish_rejected", "mark_duplicate", "supervise", "review"}
    taken = page.locator("g.djs-connection.gc-taken").evaluate_all("els => els.map(e => e.dataset.elementId)")
    assert "flow_start_triage" in taken and "flow_reject" not in taken
    # the highlight is visible: the active task's shape is drawn in the active colour
    stroke = page.locator("g.djs-element.gc-active[data-element-id='review'] .djs-visual > rect").evaluate(
        "el => getComputedStyle(el).stroke"
    )
    assert stroke == "rgb(239, 108, 0)"

    # the timeline: who did what, in order, with the time limit met
    actions = page.locator("#case-timeline li.sv-entry:visible").evaluate_all(
        "els => els.map(e => e.dataset.action)"
    )
    assert actions[0] == "case.reported"
    assert actions.count("task.completed") == 4  # triage, dispatch, handle, photo proof
    assert "case.time_limit_set" in actions
    assert page.locator(
        "#case-timeline li[data-action='task.created']"
    ).first.is_hidden()  # system events folded
    page.check("#show-system")
    assert page.locator("#case-timeline li[data-action='task.created']").first.is_visible()
    assert page.locator("#case-limits li[data-limit='handling']").get_attribute("data-verdict") == "met"
    assert "处置时限" in page.locator("#case-limits").inner_text()  # zh-CN by default
    gaps = page.locator("#case-timeline li[data-action='task.completed'] .sv-gap").all_inner_texts()
    assert gaps[:3] == ["+12分钟", "+8分钟", "+1小时 35分钟"]

    # before and after, side by side, both loaded
    before = page.locator("figure[data-side='before'] img")
    after = page.locator("figure[data-side='after'] img")
    assert before.count() == 1 and after.count() == 1
    page.wait_for_function(
        "() => [...document.querySelectorAll('#case-photos img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    box_before, box_after = before.bounding_box(), after.bounding_box()
    assert box_before["x"] + box_before["width"] <= box_after["x"]  # side by side
    assert abs(box_before["y"] - box_after["y"]) < 5

    page.uncheck("#show-system")
    page.locator("#case-diagram").scroll_into_view_if_needed()
    screenshot(page, "supervisor_case")
