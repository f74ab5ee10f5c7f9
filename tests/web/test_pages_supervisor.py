"""Supervisor pages through the Flask test client: case list filters and pagination, roles and grid scope,
the case page (timeline, limits, photos), the diagram-state endpoint and the dashboard's JSON.

The territory is tests/cases/territory.py: cases reported at its east point lie in the east grid, at its west
point in the west grid, and without a location they are unlocated (the command centre's).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.cases.models import Attachment, Case
from app.clock import as_utc
from app.extensions import db
from app.workflow import scheduler
from app.workflow.models import ProcessInstance
from tests.cases.territory import (
    COMMUNITY,
    DISTRICT,
    EAST_GRID,
    WEST_GRID,
    WEST_POINT,
    assign,
    build_territory,
)
from tests.helpers import complete, fingerprint, report, upload_photo, walk_to
from tests.web.pages import PageClient, sign_in
from tests.web.seed import deploy_case_handling

JSON = {"Accept": "application/json"}


@pytest.fixture(params=["sqlite", "postgresql"])
def app(make_app: Any, request: pytest.FixtureRequest) -> Iterator[Flask]:
    app = make_app(request.param)
    app.test_client_class = PageClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def deployed(app: Flask) -> None:
    """Only the case handling process: these pages show its cases (and other diagrams may be mid-edit)."""
    deploy_case_handling(app)
    db.session.commit()


@pytest.fixture
def territory(users: dict[str, Any], create_user: Any, auth: Any) -> None:
    build_territory()
    create_user("community_staff", "community")
    create_user("grid_leader", "leader_west")
    for username, grid in [
        ("worker", EAST_GRID),
        ("worker2", EAST_GRID),
        ("community", COMMUNITY),
        ("leader_west", WEST_GRID),
        ("dispatcher", DISTRICT),
        ("supervisor", DISTRICT),
    ]:
        assign(username, grid)
    for username in [*users, "community", "leader_west"]:
        auth(username)


pytestmark = pytest.mark.usefixtures("users", "territory", "deployed")


def page_client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, username)
    return client


def _instance(key: str) -> ProcessInstance:
    db.session.expire_all()
    return db.session.execute(
        select(ProcessInstance).join(Case, Case.id == ProcessInstance.case_id).where(Case.key == key)
    ).scalar_one()


def _make_overdue(client: FlaskClient, auth: Any, clock: Any, key: str) -> None:
    """Fire the case's timers (warning, then overdue) until the community coordinator has it."""
    walk_to(client, auth, key, "handle", hours=2)
    while True:
        db.session.expire_all()
        if db.session.execute(select(Case.overdue_at).where(Case.key == key)).scalar_one() is not None:
            return
        due = _instance(key).next_timer_at
        assert due is not None
        clock.set(as_utc(due))
        assert scheduler.tick() == 1


@pytest.fixture
def cases(client: FlaskClient, auth: Any, clock: Any) -> dict[str, str]:
    """Five cases: east ones at several steps (one overdue and escalated), a red one in the west grid, an
    unlocated one, and a closed one with before and after photos."""
    keys: dict[str, str] = {}
    keys["closed"] = report(client, auth, title="井盖缺失", category_code="P0101", severity="orange")["key"]
    upload_photo(client, auth, "resident", keys["closed"], kind="report")
    walk_to(client, auth, keys["closed"], "review")
    complete(client, auth, "supervisor", keys["closed"], "review", {"review_decision": "approve"})
    keys["review"] = report(client, auth, title="垃圾满溢")["key"]
    walk_to(client, auth, keys["review"], "review")
    keys["west"] = report(
        client, auth, title="西区道路破损", severity="orange", lat=WEST_POINT[0], lon=WEST_POINT[1]
    )["key"]
    make_red(keys["west"])
    keys["unlocated"] = report(client, auth, title="无定位的上报", lat=None, lon=None, address=None)["key"]
    keys["overdue"] = report(client, auth, title="占道经营", severity="yellow")["key"]
    _make_overdue(client, auth, clock, keys["overdue"])
    return keys


def make_red(key: str) -> None:
    """Raise a case to red in the database: a red report would start the emergency process instead, and
    these pages only need a case to show in red."""
    db.session.execute(update(Case).where(Case.key == key).values(severity="red"))
    db.session.commit()


def _listed(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    return re.findall(r'data-case-key="([^"]+)"', response.get_data(as_text=True))


# -- roles and scope -------------------------------------------------------------------------------


SUPERVISOR_PAGES = ["/supervise/cases", "/supervise/dashboard"]


def test_anonymous_visitors_are_sent_to_sign_in(app):
    client = app.test_client()
    for path in SUPERVISOR_PAGES:
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    assert client.get("/supervise/dashboard/data.json", headers=JSON).status_code == 401


# The role cases below only read: each is a subtest of one test per backend, over one seeded world.
OTHER_ROLES = ["resident", "worker", "designer", "handler"]


def test_other_roles_get_403(app, cases, subtests):
    for username in OTHER_ROLES:
        with subtests.test(username=username):
            client = page_client(app, username)
            for path in [*SUPERVISOR_PAGES, f"/supervise/cases/{cases['review']}"]:
                response = client.get(path)
                assert response.status_code == 403, path
                assert "<html" in response.get_data(as_text=True)  # an error page, not JSON
            for path in [
                "/supervise/dashboard/data.json",
                "/supervise/dashboard/grids.json",
                f"/supervise/cases/{cases['review']}/diagram.json",
            ]:
                response = client.get(path, headers=JSON)
                assert response.status_code == 403, path
                assert response.get_json()["error"] == "forbidden"


SUPERVISING_ROLES = ["supervisor", "dispatcher", "community", "leader_west", "admin"]


def test_supervising_roles_open_the_pages(app, cases, subtests):
    for username in SUPERVISING_ROLES:
        with subtests.test(username=username):
            client = page_client(app, username)
            for path in SUPERVISOR_PAGES:
                assert client.get(path).status_code == 200, path


def test_each_user_lists_only_the_cases_they_see(app, cases):
    everything = set(cases.values())
    assert set(_listed(page_client(app, "supervisor").get("/supervise/cases"))) == everything
    assert set(_listed(page_client(app, "admin").get("/supervise/cases"))) == everything
    # community staff: their community's cases, not the unlocated one
    assert set(_listed(page_client(app, "community").get("/supervise/cases"))) == everything - {
        cases["unlocated"]
    }
    # a grid leader of the west grid: only the west case
    assert _listed(page_client(app, "leader_west").get("/supervise/cases")) == [cases["west"]]


def test_a_case_outside_the_scope_is_404_like_a_missing_one(app, cases):
    client = page_client(app, "leader_west")
    assert client.get(f"/supervise/cases/{cases['west']}").status_code == 200
    hidden = client.get(f"/supervise/cases/{cases['review']}")
    missing = client.get("/supervise/cases/GC-2026-999999")
    assert hidden.status_code == missing.status_code == 404
    hidden_json = client.get(f"/supervise/cases/{cases['review']}/diagram.json", headers=JSON)
    missing_json = client.get("/supervise/cases/GC-2026-999999/diagram.json", headers=JSON)
    assert hidden_json.status_code == missing_json.status_code == 404
    assert hidden_json.get_json()["error"] == missing_json.get_json()["error"] == "not_found"


# -- filters and pagination ------------------------------------------------------------------------


def test_filters(app, cases):
    client = page_client(app, "supervisor")

    def listed(query: str) -> set[str]:
        return set(_listed(client.get(f"/supervise/cases?{query}")))

    assert listed("status=review") == {cases["review"]}
    assert listed("status=closed") == {cases["closed"]}
    assert listed("category=P01") == {cases["closed"]}  # a class: its sub-classes too
    assert listed("category=E0102") == {cases["review"], cases["west"], cases["unlocated"], cases["overdue"]}
    assert listed(f"grid={WEST_GRID}") == {cases["west"]}
    assert listed(f"grid={EAST_GRID}") == {cases["closed"], cases["review"], cases["overdue"]}
    assert listed("severity=red") == {cases["west"]}
    assert listed("overdue=true") == {cases["overdue"]}
    assert cases["overdue"] not in listed("overdue=false")
    # the reports were filed on 2026-11-03 China time (the test clock starts 2026-11-02 17:00 CST… the
    # overdue walk moved it on); the day range is inclusive on both ends
    created = {
        key: db.session.execute(select(Case.created_at).where(Case.key == key)).scalar_one()
        for key in cases.values()
    }
    days = {key: (as_utc(value).astimezone(_cst())).date().isoformat() for key, value in created.items()}
    first_day = min(days.values())
    assert listed(f"from={first_day}&to={first_day}") == {k for k, d in days.items() if d == first_day}
    assert listed("from=2026-01-01&to=2026-01-31") == set()
    # several filters combine, empty values are no filter
    assert listed(f"status=&severity=yellow&grid={EAST_GRID}&overdue=") == {cases["review"], cases["overdue"]}


def _cst() -> Any:
    from app.timelimits.calendar import CHINA_STANDARD_TIME

    return CHINA_STANDARD_TIME


def test_grid_filter_within_a_scope_cannot_widen_it(app, cases):
    client = page_client(app, "leader_west")
    assert _listed(client.get(f"/supervise/cases?grid={EAST_GRID}")) == []
    assert _listed(client.get(f"/supervise/cases?grid={DISTRICT}")) == [cases["west"]]


def test_pagination(app, cases):
    client = page_client(app, "supervisor")
    first = client.get("/supervise/cases?page_size=2")
    body = first.get_data(as_text=True)
    assert len(_listed(first)) == 2
    assert 'rel="next" href="/supervise/cases?page_size=2&amp;page=2"' in body
    assert 'rel="prev"' not in body
    seen = _listed(first) + _listed(client.get("/supervise/cases?page_size=2&page=2"))
    last = client.get("/supervise/cases?page_size=2&page=3")
    seen += _listed(last)
    assert 'rel="next"' not in last.get_data(as_text=True)
    assert sorted(seen) == sorted(cases.values())  # every case once
    # most urgent first: the red west case heads the first page
    assert _listed(first)[0] == cases["west"]
    # the filters stay in the page links
    filtered = client.get(f"/supervise/cases?severity=yellow&page_size=1&grid={EAST_GRID}").get_data(
        as_text=True
    )
    link = re.search(r'rel="next" href="([^"]+)"', filtered).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query) == {
        "severity": ["yellow"],
        "grid": [EAST_GRID],
        "page_size": ["1"],
        "page": ["2"],
    }


# Every case is refused and changes nothing (its own fingerprint check): subtests over one seeded world.
BAD_FILTERS = [
    ("status=lost", "status"),
    ("severity=purple", "severity"),
    ("category=X9", "category"),
    ("grid=12", "grid"),
    ("grid=510124009", "grid"),  # well formed, but no such grid
    ("overdue=maybe", "overdue"),
    ("from=2026-13-01", "from"),
    ("from=2026-11-05&to=2026-11-01", "to"),
    ("page=0", "page"),
    ("page_size=1000", "page_size"),
]


def test_bad_filters_are_refused_naming_the_field(app, cases, subtests):
    client = page_client(app, "supervisor")
    for query, field in BAD_FILTERS:
        with subtests.test(query=query):
            before = fingerprint()
            response = client.get(f"/supervise/cases?{query}")
            assert response.status_code == 422
            body = response.get_data(as_text=True)
            assert f'id="err-{field}"' in body or f"{field}:" in body
            assert "data-case-key" not in body
            assert fingerprint() == before


# -- the case page ---------------------------------------------------------------------------------


def test_case_page_shows_timeline_limits_and_photos(app, cases):
    client = page_client(app, "supervisor")
    key = cases["closed"]
    body = client.get(f"/supervise/cases/{key}").get_data(as_text=True)
    for action in ["case.reported", "task.completed", "case.time_limit_set", "case.status_changed"]:
        assert f'data-action="{action}"' in body
    assert 'data-limit="handling" data-verdict="met"' in body
    assert 'data-limit="closing" data-verdict="met"' in body
    # before: the reporter's photo; after: the photo proof
    case_id = db.session.execute(select(Case.id).where(Case.key == key)).scalar_one()
    rows = db.session.execute(select(Attachment.id, Attachment.kind).where(Attachment.case_id == case_id))
    kinds = {attachment_id: kind for attachment_id, kind in rows}
    before_side = body.split('data-side="before"')[1].split("</figure>")[0]
    after_side = body.split('data-side="after"')[1].split("</figure>")[0]
    assert [f'data-attachment-id="{i}"' in before_side for i, k in kinds.items() if k == "report"] == [True]
    assert [f'data-attachment-id="{i}"' in after_side for i, k in kinds.items() if k == "after"] == [True]
    assert 'data-diagram-url="/supervise/cases/' + key + '/diagram.json"' in body


def test_timeline_shows_the_missed_limit_and_the_escalation(app, cases):
    client = page_client(app, "supervisor")
    body = client.get(f"/supervise/cases/{cases['overdue']}").get_data(as_text=True)
    assert 'data-action="case.overdue" data-verdict="missed"' in body
    assert 'data-action="case.due_warning"' in body
    assert 'data-action="case.escalated"' in body
    assert 'data-limit="handling" data-verdict="missed"' in body
    assert 'id="case-escalations"' in body


def test_timeline_entries_measure_time_between_steps(app, cases):
    from app.auth.models import User
    from app.web.supervisor import timeline

    supervisor = db.session.execute(select(User).where(User.username == "supervisor")).scalar_one()
    trail = timeline.build(supervisor, cases["overdue"])
    steps = [e for e in trail.entries if e.kind != timeline.SYSTEM]
    assert steps[0].action == "case.reported" and steps[0].since_previous is None
    gaps = [e.since_previous for e in steps[1:]]
    assert all(gap is not None and gap.total_seconds() >= 0 for gap in gaps)
    overdue = next(e for e in trail.entries if e.action == "case.overdue")
    limit_set = next(e for e in trail.entries if e.action == "case.time_limit_set")
    assert overdue.limit is not None and overdue.limit.verdict == timeline.MISSED
    assert overdue.limit.due_at == limit_set.facts["due_at"]
    assert [e.action for e in trail.escalations] == ["case.escalated"]
    assert trail.escalations[0].facts["level"] == "community"


# -- the diagram state -----------------------------------------------------------------------------


def test_diagram_state_of_a_case_walked_to_review(app, cases):
    client = page_client(app, "supervisor")
    response = client.get(f"/supervise/cases/{cases['review']}/diagram.json", headers=JSON)
    assert response.status_code == 200
    state = response.get_json()
    assert state["process_key"] == "case_handling" and state["instance_status"] == "running"
    assert state["xml"].lstrip().startswith("<?xml")
    assert state["active"] == ["review"]
    assert {
        "start_report",
        "triage",
        "gw_triage",
        "propose_handler",
        "dispatch",
        "set_time_limit",
        "handling",
        "handle",
        "photo_proof",
    } <= set(state["completed"])
    assert "finish_rejected" not in state["completed"] and "supervise" not in state["completed"]
    for element_id in state["active"] + state["completed"]:
        assert f'id="{element_id}"' in state["xml"]


def test_diagram_state_while_handling_and_after_closing(app, client, auth, cases):
    key = report(client, auth)["key"]
    walk_to(client, auth, key, "handle")
    page = page_client(app, "dispatcher")
    state = page.get(f"/supervise/cases/{key}/diagram.json", headers=JSON).get_json()
    assert {"handling", "handle", "timer_warn", "timer_overdue"} <= set(state["active"])
    assert "photo_proof" not in state["active"] + state["completed"]
    assert {"triage", "dispatch"} <= set(state["completed"])
    closed = page.get(f"/supervise/cases/{cases['closed']}/diagram.json", headers=JSON).get_json()
    assert closed["instance_status"] == "completed" and closed["active"] == []
    assert {"review", "handle", "photo_proof"} <= set(closed["completed"])


# -- the dashboard ---------------------------------------------------------------------------------


def test_dashboard_data_for_the_command_centre(app, cases):
    data = page_client(app, "supervisor").get("/supervise/dashboard/data.json", headers=JSON).get_json()
    open_keys = {cases[name] for name in ("review", "west", "overdue", "unlocated")}
    # markers: the open cases with a location
    assert {m["key"] for m in data["markers"]} == open_keys - {cases["unlocated"]}
    assert data["markers"][0]["severity"] == "red"  # most urgent first
    assert next(m for m in data["markers"] if m["key"] == cases["overdue"])["overdue"] is True
    assert data["open_total"] == 4
    statuses = {row["status"]: row["count"] for row in data["by_status"]}
    assert statuses["closed"] == 1 and statuses["review"] == 1 and sum(statuses.values()) == 5
    assert {row["severity"]: row["count"] for row in data["by_severity"]} == {
        "red": 1,
        "orange": 0,
        "yellow": 3,
        "blue": 0,
    }
    assert {row["code"]: row["count"] for row in data["by_category"]} == {"E01": 4}
    assert data["by_category"][0]["name"]  # the class's name from the catalogue
    assert [row["key"] for row in data["overdue"]] == [cases["overdue"]] and data["overdue_total"] == 1
    assert data["overdue"][0]["escalation_level"] == "community"
    assert data["kpis"]["received"] == 5 and data["kpis"]["closed"] == 1
    assert len(data["trend"]["days"]) == 14 and sum(data["trend"]["received"]) == 5


def test_dashboard_data_is_scoped(app, cases):
    leader = page_client(app, "leader_west").get("/supervise/dashboard/data.json", headers=JSON).get_json()
    assert [m["key"] for m in leader["markers"]] == [cases["west"]]
    assert leader["open_total"] == 1 and leader["overdue"] == []
    assert leader["kpis"] is None and leader["trend"] is None  # grid leaders do not read KPIs
    community = page_client(app, "community").get("/supervise/dashboard/data.json", headers=JSON).get_json()
    assert community["kpis"]["received"] == 4  # not the unlocated case


def test_dashboard_grids(app, cases):
    features = page_client(app, "supervisor").get("/supervise/dashboard/grids.json", headers=JSON).get_json()
    assert {f["properties"]["code"] for f in features["features"]} == {COMMUNITY, WEST_GRID, EAST_GRID}
    assert all(f["geometry"]["type"] == "Polygon" for f in features["features"])
    west = page_client(app, "leader_west").get("/supervise/dashboard/grids.json", headers=JSON).get_json()
    assert [f["properties"]["code"] for f in west["features"]] == [WEST_GRID]


def test_dashboard_page_passes_its_settings_as_data_attributes(app, cases):
    client = page_client(app, "supervisor")
    body = client.get("/supervise/dashboard?refresh=5").get_data(as_text=True)
    assert 'data-url="/supervise/dashboard/data.json"' in body
    assert 'data-refresh-seconds="5"' in body
    assert "<script>" not in body  # no inline script (CSP)
    assert 'data-refresh-seconds="2"' in client.get("/supervise/dashboard?refresh=1").get_data(as_text=True)
    assert 'data-refresh-seconds="600"' in client.get("/supervise/dashboard?refresh=99999").get_data(
        as_text=True
    )
    leader = page_client(app, "leader_west").get("/supervise/dashboard").get_data(as_text=True)
    assert 'id="dash-kpis"' not in leader and 'id="dash-kpis"' in body


def test_pages_speak_chinese_first_and_english_on_request(app, cases):
    client = page_client(app, "supervisor")
    key = cases["closed"]
    chinese = client.get(f"/supervise/cases/{key}").get_data(as_text=True)
    assert "处置时限" in chinese and "时间线" in chinese and "按期" in chinese
    client.set_cookie("lang", "en")
    english = client.get(f"/supervise/cases/{key}").get_data(as_text=True)
    assert "Handling time limit" in english and "Timeline" in english and "处置时限" not in english
    assert "Open cases on the map" in client.get("/supervise/dashboard").get_data(as_text=True)
