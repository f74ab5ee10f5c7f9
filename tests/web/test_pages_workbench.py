"""The dispatcher workbench through the Flask test client: who may open it, the queue's filters, sort and
grid scope, possible duplicates (distance, time window, category, open cases only), and triage and
dispatch posted from the page (the task services' validation, 422 with the reason beside the field).

The territory is tests/cases/territory.py: reports at its east point lie in the east grid (in a compound),
at its west point in the west grid.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.auth.models import User
from app.cases.models import Case
from app.extensions import db
from app.web.workbench import duplicates, picker, queue
from app.workflow.models import HumanTask, TaskStatus
from tests.cases.territory import DISTRICT, EAST_GRID, WEST_GRID, WEST_POINT, assign, build_territory
from tests.helpers import case_events, case_row, open_task, report, walk_to
from tests.web.pages import (
    csrf_token,
    page_app,  # noqa: F401  (the app fixture: SQLite, PostgreSQL when asked)
    sign_in,
)
from tests.web.seed import deploy_case_handling

# About 100 m and 1 km north of tests.helpers.report()'s default point (30.7589, 103.9718).
NEAR = (30.7598, 103.9718)
FAR = (30.7679, 103.9718)


@pytest.fixture
def deployed(app: Flask) -> None:
    deploy_case_handling(app)
    db.session.commit()


@pytest.fixture
def territory(users: dict[str, Any], create_user: Any) -> None:
    build_territory()
    create_user("dispatcher", "dispatcher_west")
    for username, grid in [
        ("worker", EAST_GRID),
        ("worker2", WEST_GRID),
        ("dispatcher", DISTRICT),
        ("dispatcher_west", WEST_GRID),
    ]:
        assign(username, grid)


pytestmark = pytest.mark.usefixtures("users", "territory", "deployed")


def page_client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, username)
    return client


def user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def keys_of(username: str, **filters: Any) -> list[str]:
    rows = queue.search(user(username), queue.QueueQuery(**filters))["items"]
    return [row.case.key for row in rows]


def test_only_dispatchers_open_the_workbench(app: Flask) -> None:
    anonymous = app.test_client()
    response = anonymous.get("/dispatch/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for username in ("worker", "supervisor", "resident"):
        assert page_client(app, username).get("/dispatch/").status_code == 403
    page = page_client(app, "dispatcher").get("/dispatch/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "调度工作台" in html and 'href="/dispatch/"' in html  # title and the nav link, zh-CN first
    assert 'id="queue-empty"' in html
    client = page_client(app, "dispatcher")
    client.get("/lang/en")
    english = client.get("/dispatch/").get_data(as_text=True)
    assert "Dispatch workbench" in english and "Next report" in english and "调度工作台" not in english


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_the_queue_filters_sorts_and_keeps_to_the_grid_scope(
    app: Flask, client: FlaskClient, auth: Any, clock: Any
) -> None:
    old = report(client, auth, title="旧的垃圾满溢")["key"]
    clock.advance(minutes=30)
    west = report(
        client,
        auth,
        title="西区道路破损",
        category_code="P0101",
        severity="orange",
        lat=WEST_POINT[0],
        lon=WEST_POINT[1],
    )["key"]
    clock.advance(minutes=30)
    new = report(client, auth, title="新的垃圾满溢", severity="blue")["key"]
    walk_to(client, auth, new, "dispatch")  # now a dispatch task
    db.session.execute(update(Case).where(Case.key == old).values(source_channel="hotline"))
    db.session.commit()

    assert keys_of("dispatcher") == [west, old, new]  # most urgent first, then the oldest
    assert keys_of("dispatcher", sort="age") == [old, west, new]
    assert keys_of("dispatcher", category="E01") == [old, new]
    assert keys_of("dispatcher", grid=WEST_GRID) == [west]
    assert keys_of("dispatcher", severity="blue") == [new]
    assert keys_of("dispatcher", channel="hotline") == [old]
    assert keys_of("dispatcher", stage="dispatch") == [new]
    assert keys_of("dispatcher", page_size=2, page=2) == [new]
    # a dispatcher of the west grid sees the west report only, and the others' tasks are 404 to them
    assert keys_of("dispatcher_west") == [west]
    west_client = page_client(app, "dispatcher_west")
    assert west_client.get(f"/dispatch/tasks/{open_task(old, 'triage').id}").status_code == 404
    assert west_client.get(f"/dispatch/tasks/{open_task(west, 'triage').id}").status_code == 200

    page = page_client(app, "dispatcher")
    html = page.get("/dispatch/?channel=hotline").get_data(as_text=True)
    assert old in html and west not in html and "12345 热线" in html
    for args, field in (("category=X1", "category"), ("grid=510124009", "grid"), ("sort=name", "sort")):
        refused = page.get(f"/dispatch/?{args}")
        assert refused.status_code == 422 and f'id="err-{field}"' in refused.get_data(as_text=True)


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_possible_duplicates_are_open_cases_of_the_category_near_in_place_and_time(
    app: Flask, client: FlaskClient, auth: Any, clock: Any
) -> None:
    first = report(client, auth, title="垃圾满溢 1")["key"]
    near = report(client, auth, title="垃圾满溢 2", lat=NEAR[0], lon=NEAR[1])["key"]
    report(client, auth, title="远处的垃圾", lat=FAR[0], lon=FAR[1])
    report(client, auth, title="同处的井盖缺失", category_code="P0101")
    closed = report(client, auth, title="已撤销的垃圾满溢")["key"]
    db.session.execute(update(Case).where(Case.key == closed).values(status="withdrawn"))
    db.session.commit()
    clock.advance(hours=71)
    latest = report(client, auth, title="垃圾又满了")["key"]

    found = duplicates.possible_duplicates(user("dispatcher"), case_row(latest))
    assert [d.case.key for d in found] == [first, near]  # nearest first: the far, other, closed ones left out
    assert found[0].distance_meters < 1 and 95 < found[1].distance_meters < 105
    assert found[0].apart == -timedelta(hours=71)
    clock.advance(hours=2)  # 73 h after the first two: outside the 72 h window
    again = report(client, auth)["key"]
    assert duplicates.possible_duplicates(user("dispatcher"), case_row(again)) == [
        duplicates.PossibleDuplicate(case_row(latest), 0.0, -timedelta(hours=2))
    ]
    # the radius is a setting
    app.extensions["gridcase.settings"] = _with(app, duplicate_radius_meters=50)
    assert [d.case.key for d in duplicates.possible_duplicates(user("dispatcher"), case_row(latest))] == [
        again,
        first,
    ]
    # what the west dispatcher may not see is not offered
    assert duplicates.possible_duplicates(user("dispatcher_west"), case_row(latest)) == []


def _with(app: Flask, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(app.extensions["gridcase.settings"], **changes)


def _post(client: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/dispatch/")})


def test_accept_and_dispatch_as_proposed_from_the_page(app: Flask, client: FlaskClient, auth: Any) -> None:
    key = report(client, auth)["key"]
    page = page_client(app, "dispatcher")
    triage = open_task(key, "triage")
    response = _post(
        page,
        f"/dispatch/tasks/{triage.id}/triage",
        {"triage_decision": "accept", "severity": "orange", "category_code": "E0102"},
    )
    dispatch = open_task(key, "dispatch")
    assert response.status_code == 302 and response.headers["Location"] == f"/dispatch/tasks/{dispatch.id}"
    assert dispatch.status == TaskStatus.CLAIMED and dispatch.assignee_id == user("dispatcher").id
    html = page.get(f"/dispatch/tasks/{dispatch.id}").get_data(as_text=True)
    proposed = re.search(r'<input type="radio" name="handler" value="([^"]+)" checked>', html)
    assert proposed and proposed.group(1) == "user:worker"
    # the severity corrected at triage (the category kept): 4 working hours × 0.75 for orange
    assert [e.after for e in case_events(key, "case.reclassified")] == [{"severity": "orange"}]
    assert 'id="d-hours" name="time_limit_hours" type="number" min="1" max="720" step="1" value="3"' in html
    response = _post(
        page, f"/dispatch/tasks/{dispatch.id}/dispatch", {"handler": "user:worker", "time_limit_hours": "3"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/dispatch/"
    case = case_row(key)
    assert (case.status, case.handler_user) == ("handling", "worker")
    limit = case_events(key, "case.time_limit_set")[-1].after
    # the unchanged box keeps the category's limit
    assert limit["source"] == "category E0102" and limit["limit"] == "4wh", limit


def test_refused_forms_come_back_with_the_reason_beside_the_field(
    app: Flask, client: FlaskClient, auth: Any
) -> None:
    key = report(client, auth)["key"]
    page = page_client(app, "dispatcher")
    triage = open_task(key, "triage")
    refused = _post(page, f"/dispatch/tasks/{triage.id}/triage", {"triage_decision": "reject"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert re.search(r'id="err-reject_reason" role="alert">此项必填<', html), html
    assert case_row(key).status == "triage"
    for number, message in (("GC-2026-999999", "没有案件 GC-2026-999999"), (key, "不能标记为自身的重复案件")):
        refused = _post(
            page,
            f"/dispatch/tasks/{triage.id}/triage",
            {"triage_decision": "duplicate", "duplicate_of": number},
        )
        assert refused.status_code == 422
        assert f'id="err-duplicate_of" role="alert">{message}<' in refused.get_data(as_text=True)
    assert case_row(key).status == "triage"
    walk_to(client, auth, key, "dispatch")
    dispatch = open_task(key, "dispatch")
    refused = _post(
        page, f"/dispatch/tasks/{dispatch.id}/dispatch", {"handler": "user:worker", "time_limit_hours": "8"}
    )
    assert refused.status_code == 422
    assert 'id="err-dispatch_note" role="alert">修改时限须说明理由' in refused.get_data(as_text=True)
    refused = _post(
        page, f"/dispatch/tasks/{dispatch.id}/dispatch", {"handler": "other", "other_handler": ""}
    )
    assert refused.status_code == 422 and 'id="err-handler"' in refused.get_data(as_text=True)
    assert case_row(key).status == "dispatching"
    assert db.session.get(HumanTask, dispatch.id).status in TaskStatus.OPEN


def test_the_picker_offers_people_and_units_with_grid_and_load(
    app: Flask, client: FlaskClient, auth: Any, create_user: Any
) -> None:
    from app.tasks.services import task_data
    from tests.cases.territory import add_unit

    add_unit("water", "water", EAST_GRID)  # the fixture's unit of ``handler``, now serving the east grid
    create_user("grid_worker", "worker_nowhere")  # on no grid: not offered
    busy = report(client, auth)["key"]
    walk_to(client, auth, busy, "handle")  # worker holds one case
    key = report(client, auth)["key"]
    walk_to(client, auth, key, "dispatch")
    pick = picker.build(case_row(key), task_data(open_task(key, "dispatch"))["proposal"])
    assert pick.proposed == "user:worker"
    assert [(c.value, c.grid_code, c.load) for c in pick.nearby] == [
        ("user:worker", EAST_GRID, 1),
        ("unit:water", EAST_GRID, 0),
    ]
    assert pick.grid_names[EAST_GRID] == "第2网格"
    assert "网格 锦绣花园 的网格员" in pick.reason and EAST_GRID not in pick.reason  # the case's grid by name
    others = {c.value for c in pick.others}
    assert {"user:worker2", "user:handler"} <= others  # the street's other worker, a department handler
    assert "user:worker_nowhere" not in others and "user:worker" not in others
    assert pick.find("user:handler").name == user("handler").display_name
