"""Visibility by grid (issue #3 item 7): each role × where the case is × each endpoint, with no leak.

One small territory is built once per module and backend: district 510124 → street 510124001 (the western
half) → communities 001 (north) and 002 (south) → grids 001 (west) and 002 (east) in each. Four cases:

    A  in grid 510124001001001 (community 1), dispatched to unit ``water``
    B  in grid 510124001002002 (community 2)
    D  in the district outside the street (grid code 510124)
    U  with no location (grid code null)

Each case has a photo, a comment, its case_handling instance (waiting at triage, a dispatcher task) and a
probe instance whose task ``look`` is offered to every role, so "a role task of a case you cannot see"
is tested for every role. A visible cell must answer, an invisible one must answer exactly what an absent
resource answers (same status, same body with the id swapped).
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import String, cast, func, literal, select

from app import create_app
from app.auth.models import User
from app.auth.services import create_user
from app.cases import jobs as case_jobs
from app.cases import services as case_services
from app.cases.lifecycle import record_dispatch
from app.cases.models import Attachment, Case
from app.cases.services import visible_cases
from app.clock import FrozenClock, now
from app.extensions import db
from app.grids.models import Grid, GridMember
from app.grids.scope import in_subtrees, scope_of, subtree_roots
from app.grids.services import import_geojson
from app.units.services import create_unit
from app.workflow import deploy, instances
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus
from tests.conftest import PASSWORD, START, _settings, _truncate_postgres
from tests.factories import app_on_both_backends
from tests.grids.shapes import DISTRICT_BOX, WEST_BOX, box_feature, collection
from tests.helpers import complete, fingerprint, jpeg, open_task, report, walk_to
from tests.probes import one_task_bpmn

DISTRICT, STREET, STREET_2 = "510124", "510124001", "510124002"
STREET_2_BOX = (103.95, 30.70, 104.00, 30.75)
COMMUNITY_1, COMMUNITY_2 = "510124001001", "510124001002"
GRID_11, GRID_12, GRID_21, GRID_22 = (f"{c}{g}" for c in (COMMUNITY_1, COMMUNITY_2) for g in ("001", "002"))

# The street is the western half of the district; communities split it north/south, grids west/east.
_W, _S, _E, _N = WEST_BOX
_MID_LAT, _MID_LON = (_S + _N) / 2, (_W + _E) / 2
BOXES = {
    COMMUNITY_1: (_W, _MID_LAT, _E, _N),
    COMMUNITY_2: (_W, _S, _E, _MID_LAT),
    GRID_11: (_W, _MID_LAT, _MID_LON, _N),
    GRID_12: (_MID_LON, _MID_LAT, _E, _N),
    GRID_21: (_W, _S, _MID_LON, _MID_LAT),
    GRID_22: (_MID_LON, _S, _E, _MID_LAT),
}


def territory() -> dict[str, Any]:
    return collection(
        box_feature(DISTRICT, "郫都区", DISTRICT_BOX),
        box_feature(STREET, "郫筒街道", WEST_BOX),
        box_feature(STREET_2, "犀浦街道", STREET_2_BOX),
        *(box_feature(code, f"网格{code[-6:]}", box) for code, box in BOXES.items()),
    )


def centre(box: tuple[float, float, float, float]) -> dict[str, float]:
    return {"lat": (box[1] + box[3]) / 2, "lon": (box[0] + box[2]) / 2}


# position → (where it is reported, the grid code it must get)
POSITIONS: dict[str, tuple[dict[str, float], str | None]] = {
    "A": (centre(BOXES[GRID_11]), GRID_11),
    "B": (centre(BOXES[GRID_22]), GRID_22),
    "D": ({"lat": 30.775, "lon": 103.975}, DISTRICT),  # the north-east quarter: in no street
    "U": ({}, None),
}

# username → (role, unit, assigned grids, the cases they see)
PEOPLE: dict[str, tuple[str, str | None, tuple[str, ...], set[str]]] = {
    "worker": ("grid_worker", None, (GRID_11,), {"A"}),
    "worker_sibling": ("grid_worker", None, (GRID_21,), set()),  # B is in the other grid of community 2
    "leader": ("grid_leader", None, (GRID_11,), {"A"}),
    "community": ("community_staff", None, (COMMUNITY_1,), {"A"}),
    "street": ("street_coordinator", None, (STREET,), {"A", "B"}),
    # Two assignments, one inside the other: the inner one adds nothing.
    "district": ("district_coordinator", None, (DISTRICT, STREET), {"A", "B", "D", "U"}),
    "street_2_coordinator": ("street_coordinator", None, (STREET_2,), set()),
    "dispatcher": ("dispatcher", None, (STREET,), {"A", "B", "U"}),
    "dispatcher_street_2": ("dispatcher", None, (STREET_2,), {"U"}),
    "dispatcher_unassigned": ("dispatcher", None, (), {"U"}),
    "supervisor": ("supervisor", None, (STREET_2,), {"U"}),
    "supervisor_district": ("supervisor", None, (DISTRICT,), {"A", "B", "D", "U"}),
    "handler": ("department_handler", "water", (), {"A"}),
    "resident": ("resident", None, (), set()),
    "designer": ("designer", None, (), set()),
    "admin": ("admin", None, (), {"A", "B", "D", "U"}),
}
REPORTER = "reporter"  # a resident who reported all four cases
ALL_ROLES_CSV = ",".join(sorted({role for role, *_ in PEOPLE.values()}))

PROBE_BPMN = one_task_bpmn("visibility_probe", ALL_ROLES_CSV)


@dataclass
class CaseRefs:
    key: str
    id: int
    title: str
    instance_id: int
    attachment_id: int
    look_task_id: int
    triage_task_id: int


@dataclass
class World:
    app: Flask
    client: FlaskClient
    cases: dict[str, CaseRefs] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            response = self.client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
            assert response.status_code == 201, response.get_json()
            self.tokens[username] = response.get_json()["token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def assign(user: User, *codes: str) -> None:
    for code in codes:
        grid_id = db.session.execute(select(Grid.id).where(Grid.code == code)).scalar_one()
        db.session.add(GridMember(user_id=user.id, grid_id=grid_id, created_at=now()))
    db.session.flush()


def _open_task(case_id: int, element_id: str) -> HumanTask:
    return db.session.execute(
        select(HumanTask).where(
            HumanTask.case_id == case_id,
            HumanTask.element_id == element_id,
            HumanTask.status.in_(TaskStatus.OPEN),
        )
    ).scalar_one()


def _report(world: World, position: str) -> CaseRefs:
    location, expected_code = POSITIONS[position]
    title = f"可见性测试案件{position}"
    response = world.client.post(
        "/api/v1/cases",
        json={"title": title, "severity": "yellow", **location},
        headers=world.headers(REPORTER),
    )
    assert response.status_code == 201, response.get_json()
    key = response.get_json()["key"]
    case = db.session.execute(select(Case).where(Case.key == key)).scalar_one()
    # Reporting locates the case once dispatch by location is in; until then the test places it.
    if case.grid_code is None:
        case.grid_code = expected_code
    assert case.grid_code == expected_code
    if position == "A":
        record_dispatch(case, None, "water", now())  # as a dispatch to the unit leaves it
    db.session.commit()

    photo = world.client.post(
        f"/api/v1/cases/{key}/attachments?kind=report",
        data={"file": (io.BytesIO(jpeg()), "photo.jpg")},
        headers=world.headers(REPORTER),
        content_type="multipart/form-data",
    )
    assert photo.status_code == 201, photo.get_json()
    attachment_id = photo.get_json()["id"]
    if db.session.get(Attachment, attachment_id).thumbnail_path is None:
        case_jobs.make_thumbnail(attachment_id)
    comment = world.client.post(
        f"/api/v1/cases/{key}/comments", json={"body": "门口"}, headers=world.headers(REPORTER)
    )
    assert comment.status_code == 201
    admin = db.session.execute(select(User).where(User.username == "admin")).scalar_one()
    instances.start_instance("visibility_probe", business_key=key, variables={}, case_id=case.id, actor=admin)
    db.session.commit()
    instance_id = (
        db.session.execute(
            select(ProcessInstance.id)
            .where(ProcessInstance.case_id == case.id, ProcessInstance.business_key == key)
            .order_by(ProcessInstance.id)
        )
        .scalars()
        .first()
    )
    assert instance_id is not None
    return CaseRefs(
        key=key,
        id=case.id,
        title=title,
        instance_id=instance_id,
        attachment_id=attachment_id,
        look_task_id=_open_task(case.id, "look").id,
        triage_task_id=_open_task(case.id, "triage").id,
    )


def build_world(app: Flask) -> World:
    world = World(app, app.test_client())
    import_geojson(territory())
    create_unit("water", "供水公司", "water")
    for username, (role, unit, codes, _) in {**PEOPLE, REPORTER: ("resident", None, (), set())}.items():
        user = create_user(username, PASSWORD, role, None, unit)
        assign(user, *codes)
    rules = app.extensions["gridcase.deploy_rules"]()
    deploy.deploy_folder(app.extensions["gridcase.settings"].bpmn_folder, rules)
    deploy.deploy_file("visibility_probe.bpmn", PROBE_BPMN, rules)
    db.session.commit()
    for position in POSITIONS:
        world.cases[position] = _report(world, position)
    return world


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"visibility-{request.param}")
    if request.param == "sqlite":
        path = tmp / "test.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_schema")
    app = create_app(_settings(url, tmp), clock=FrozenClock(START))
    app.config["TESTING"] = True
    if request.param == "postgresql":
        _truncate_postgres(app)
    with app.app_context():
        yield build_world(app)
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _world_holds_no_locks(request: pytest.FixtureRequest) -> Iterator[None]:
    """The world's session lives across tests; a read leaves its transaction open, holding its locks into
    the next module's emptying of the tables. End it after every test of the world."""
    yield
    if "world" in request.fixturenames:
        db.session.rollback()


def sees(username: str, position: str) -> bool:
    return position in PEOPLE[username][3]


# -- the matrix ------------------------------------------------------------------------------------

GHOST_KEY, GHOST_ID = "GC-2026-999999", 999999


@dataclass(frozen=True)
class Endpoint:
    """One way to reach a case. ``url`` builds the path from the case refs (or the ghost ids)."""

    method: str
    ident: str  # which reference the url names: key, attachment, instance or task
    url: Callable[[dict[str, Any]], str]
    ok: int = 200
    body: dict[str, Any] | None = None
    # Endpoints that change state when allowed: their 404 must leave the database as it was.
    mutates: bool = False


def _refs(case: CaseRefs) -> dict[str, Any]:
    return {
        "key": case.key,
        "attachment": case.attachment_id,
        "instance": case.instance_id,
        "task": case.look_task_id,
    }


GHOST = {"key": GHOST_KEY, "attachment": GHOST_ID, "instance": GHOST_ID, "task": GHOST_ID}

ITEM_ENDPOINTS: dict[str, Endpoint] = {
    "case get": Endpoint("GET", "key", lambda r: f"/api/v1/cases/{r['key']}"),
    "timeline": Endpoint("GET", "key", lambda r: f"/api/v1/cases/{r['key']}/timeline"),
    "comments": Endpoint("GET", "key", lambda r: f"/api/v1/cases/{r['key']}/comments"),
    "attachment list": Endpoint("GET", "key", lambda r: f"/api/v1/cases/{r['key']}/attachments"),
    "attachment": Endpoint("GET", "attachment", lambda r: f"/api/v1/attachments/{r['attachment']}"),
    "attachment download": Endpoint(
        "GET", "attachment", lambda r: f"/api/v1/attachments/{r['attachment']}/content"
    ),
    "thumbnail": Endpoint(
        "GET", "attachment", lambda r: f"/api/v1/attachments/{r['attachment']}/content?thumbnail=1"
    ),
    "process instance": Endpoint("GET", "instance", lambda r: f"/api/v1/process-instances/{r['instance']}"),
    "task get": Endpoint("GET", "task", lambda r: f"/api/v1/tasks/{r['task']}"),
    "task claim": Endpoint("POST", "task", lambda r: f"/api/v1/tasks/{r['task']}/claim", mutates=True),
    # Unknown form data: a visible task reaches validation (422) and nothing happens either way.
    "task complete": Endpoint(
        "POST",
        "task",
        lambda r: f"/api/v1/tasks/{r['task']}/complete",
        ok=422,
        body={"data": {"no_such_field": 1}},
        mutates=True,
    ),
    "comment post": Endpoint(
        "POST",
        "key",
        lambda r: f"/api/v1/cases/{r['key']}/comments",
        ok=201,
        body={"body": "看到了"},
        mutates=True,
    ),
}


def _call(world: World, who: str, endpoint: Endpoint, refs: dict[str, Any]) -> Any:
    return world.client.open(
        endpoint.url(refs), method=endpoint.method, json=endpoint.body, headers=world.headers(who)
    )


def _expected_ok(who: str, position: str, endpoint_name: str) -> bool:
    if endpoint_name == "process instance" and who == "designer":
        return True  # designers read every instance's state (for diagrams), not the case
    return sees(who, position)


MATRIX = [
    (who, position, endpoint) for who in PEOPLE for position in POSITIONS for endpoint in ITEM_ENDPOINTS
]


@pytest.mark.parametrize(("who", "position", "endpoint_name"), MATRIX)
def test_item_endpoints(world: World, who: str, position: str, endpoint_name: str) -> None:
    endpoint = ITEM_ENDPOINTS[endpoint_name]
    case = world.cases[position]
    if _expected_ok(who, position, endpoint_name):
        response = _call(world, who, endpoint, _refs(case))
        assert response.status_code == endpoint.ok, response.get_json()
        if endpoint_name == "task claim":
            # Put it back for the next cell.
            unclaim = world.client.post(
                f"/api/v1/tasks/{case.look_task_id}/unclaim", headers=world.headers(who)
            )
            assert unclaim.status_code == 200
        elif endpoint_name in ("attachment download", "thumbnail"):
            assert response.mimetype == "image/jpeg"
        elif endpoint_name == "case get":
            assert response.get_json()["key"] == case.key
        return
    world.headers(who)  # signed in before the fingerprint: a first sign-in writes a token and its audit
    before = fingerprint() if endpoint.mutates else None
    response = _call(world, who, endpoint, _refs(case))
    absent = _call(world, who, endpoint, GHOST)
    assert response.status_code == 404, (response.status_code, response.get_json())
    # Exactly what a resource that does not exist gives: nothing tells that this one does.
    assert absent.status_code == 404
    ghost, real = str(GHOST[endpoint.ident]), str(_refs(case)[endpoint.ident])
    assert ghost in absent.get_json()["message"]
    assert response.get_json() == {
        **absent.get_json(),
        "message": absent.get_json()["message"].replace(ghost, real),
    }
    if before is not None:
        assert fingerprint() == before


LIST_ENDPOINTS: dict[str, Callable[[CaseRefs], str]] = {
    "case list": lambda c: "/api/v1/cases?page_size=100",
    "search by key": lambda c: f"/api/v1/cases?q={c.key}",
    "search by title": lambda c: f"/api/v1/cases?q={c.title}",
    "search by title fragment": lambda c: f"/api/v1/cases?q=测试案件{c.title[-1]}&page_size=100",
    "filter by status": lambda c: "/api/v1/cases?status=triage&page_size=100",
}
LIST_MATRIX = [(who, position, name) for who in PEOPLE for position in POSITIONS for name in LIST_ENDPOINTS]


@pytest.mark.parametrize(("who", "position", "endpoint_name"), LIST_MATRIX)
def test_lists_and_search(world: World, who: str, position: str, endpoint_name: str) -> None:
    case = world.cases[position]
    response = world.client.get(LIST_ENDPOINTS[endpoint_name](case), headers=world.headers(who))
    assert response.status_code == 200
    body = response.get_json()
    keys = [item["key"] for item in body["items"]]
    assert (case.key in keys) == sees(who, position)
    # The counts tell nothing more than the items: a total never includes what you cannot see.
    assert body["total"] == len(keys)


@pytest.mark.parametrize("id_list_limit", ["default", 0])
@pytest.mark.parametrize("who", list(PEOPLE))
def test_case_list_is_exactly_the_visible_cases(
    world: World, who: str, id_list_limit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if id_list_limit != "default":
        # Someone with more tasks than the limit: their own work is checked case by case (PostgreSQL).
        monkeypatch.setattr(case_services, "INVOLVEMENT_ID_LIST_LIMIT", id_list_limit)
    body = world.client.get("/api/v1/cases?page_size=100", headers=world.headers(who)).get_json()
    expected = {world.cases[p].key for p in PEOPLE[who][3]}
    assert {item["key"] for item in body["items"]} == expected
    assert body["total"] == len(expected)
    # The service query every other reader (KPIs included) builds on agrees.
    user = db.session.execute(select(User).where(User.username == who)).scalar_one()
    assert set(db.session.execute(visible_cases(user).with_only_columns(Case.key)).scalars()) == expected


@pytest.mark.parametrize("id_list_limit", ["default", 0])
@pytest.mark.parametrize("scope", ["claimable", "all"])
@pytest.mark.parametrize("who", list(PEOPLE))
def test_inbox_offers_role_tasks_of_visible_cases_only(
    world: World, who: str, scope: str, id_list_limit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if id_list_limit != "default":
        monkeypatch.setattr(case_services, "INVOLVEMENT_ID_LIST_LIMIT", id_list_limit)
    body = world.client.get(
        f"/api/v1/tasks?scope={scope}&page_size=100", headers=world.headers(who)
    ).get_json()
    looks = {item["case_key"] for item in body["items"] if item["element_id"] == "look"}
    assert looks == {world.cases[p].key for p in PEOPLE[who][3]}
    assert body["total"] == len(body["items"])
    # Triage is offered to dispatchers: each gets it for the cases they see, and nobody else gets it.
    triage = {item["case_key"] for item in body["items"] if item["element_id"] == "triage"}
    expected = {world.cases[p].key for p in PEOPLE[who][3]} if PEOPLE[who][0] == "dispatcher" else set()
    assert triage == expected


@pytest.mark.parametrize("position", list(POSITIONS))
def test_the_reporter_sees_every_case_they_reported(world: World, position: str) -> None:
    case = world.cases[position]
    assert world.client.get(f"/api/v1/cases/{case.key}", headers=world.headers(REPORTER)).status_code == 200
    content = world.client.get(
        f"/api/v1/attachments/{case.attachment_id}/content", headers=world.headers(REPORTER)
    )
    assert content.status_code == 200
    # A task offered to residents (the probe's) follows the case: the reporter sees it.
    assert (
        world.client.get(f"/api/v1/tasks/{case.look_task_id}", headers=world.headers(REPORTER)).status_code
        == 200
    )


def test_a_dispatcher_out_of_scope_cannot_triage(world: World) -> None:
    case = world.cases["D"]
    world.headers("dispatcher")  # signed in before the fingerprint: a first sign-in writes a token
    before = fingerprint()
    for action in ("claim", "complete"):
        response = world.client.post(
            f"/api/v1/tasks/{case.triage_task_id}/{action}",
            json={"data": {"triage_decision": "accept"}} if action == "complete" else None,
            headers=world.headers("dispatcher"),
        )
        assert response.status_code == 404, response.get_json()
        assert response.get_json()["message"] == f"task {case.triage_task_id} does not exist"
    assert fingerprint() == before


# -- the grid-prefix filter --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "roots", "inside"),
    [
        ("510124001001", ("510124001",), True),
        ("510124001", ("510124001",), True),
        ("510124", ("510124001",), False),
        ("510124002", ("510124001",), False),
        ("510124002", ("510124001999",), False),  # in the range ['510124001999', '510124002000')
        ("5101240019991", ("510124001999",), True),
        ("510124001998001", ("510124001999",), False),
        ("999999001", ("999999",), True),  # no same-width successor: no upper bound
        ("510124003001", ("510124001", "510124003"), True),
        ("510124002001", ("510124001", "510124003"), False),
    ],
)
def test_in_subtrees_is_exactly_the_code_prefix(
    world: World, code: str, roots: tuple[str, ...], inside: bool
) -> None:
    matched = db.session.execute(
        select(func.count()).where(in_subtrees(cast(literal(code), String(24)), roots))
    ).scalar_one()
    assert bool(matched) == inside == any(code.startswith(root) for root in roots)


def test_scope_of_merges_nested_assignments(world: World) -> None:
    district = db.session.execute(select(User).where(User.username == "district")).scalar_one()
    scope = scope_of(district)
    assert scope.grid_codes == (DISTRICT,)
    # Assigned to the only district, with the unlocated cases: that is every case.
    assert scope.unlocated and scope.everything
    roots = subtree_roots(["510124001001", "510124001", "510124002", "510124001"])
    assert roots == ("510124001", "510124002")
    street = db.session.execute(select(User).where(User.username == "street")).scalar_one()
    assert scope_of(street).grid_codes == (STREET,)
    assert not scope_of(street).unlocated and not scope_of(street).everything
    # A district-level assignment is not "everything" while another district exists.
    db.session.add(
        Grid(
            code="510125",
            name="另一区",
            level="district",
            geometry={},
            min_lon=0,
            min_lat=0,
            max_lon=0,
            max_lat=0,
            created_at=now(),
        )
    )
    db.session.flush()
    assert scope_of(district).unlocated and not scope_of(district).everything
    db.session.rollback()


# -- personal and unit work reaches outside the grid -------------------------------------------------


def _located_case(client: FlaskClient, auth: Callable[[str], dict[str, str]], code: str) -> str:
    created = report(client, auth, "resident", **centre(BOXES[code]))
    case = db.session.execute(select(Case).where(Case.key == created["key"])).scalar_one()
    if case.grid_code is None:  # see _report
        case.grid_code = code
        db.session.commit()
    assert case.grid_code == code
    return str(created["key"])


app = app_on_both_backends  # the flows below exercise the PostgreSQL-only query shapes


@pytest.fixture
def located(app: Flask, users: dict[str, User], deployed: None) -> dict[str, User]:
    """The conftest users on the small territory: the command centre over the district, the grid workers
    in two grids of community 1."""
    import_geojson(territory())
    assign(users["dispatcher"], DISTRICT)
    assign(users["supervisor"], DISTRICT)
    assign(users["worker"], GRID_11)
    assign(users["worker2"], GRID_12)
    db.session.commit()
    return users


def test_a_worker_named_as_handler_sees_the_case_outside_their_grid(client, auth, located, monkeypatch):
    key = _located_case(client, auth, GRID_22)
    for who in ("worker", "worker2"):
        assert client.get(f"/api/v1/cases/{key}", headers=auth(who)).status_code == 404, who

    walk_to(client, auth, key, "review", handler="worker")  # handle and photo proof as "worker"

    assert client.get(f"/api/v1/cases/{key}", headers=auth("worker")).status_code == 200
    assert client.get(f"/api/v1/cases/{key}/timeline", headers=auth("worker")).status_code == 200
    assert client.get(f"/api/v1/cases/{key}", headers=auth("worker2")).status_code == 404
    # The supervisor of the district reviews it; the worker keeps seeing their finished work.
    complete(client, auth, "supervisor", key, "review", {"review_decision": "approve"})
    listed = client.get("/api/v1/cases", headers=auth("worker")).get_json()
    assert [c["key"] for c in listed["items"]] == [key]
    # The same through the case-by-case check used for people with very many tasks (PostgreSQL).
    monkeypatch.setattr(case_services, "INVOLVEMENT_ID_LIST_LIMIT", 0)
    listed = client.get("/api/v1/cases", headers=auth("worker")).get_json()
    assert [c["key"] for c in listed["items"]] == [key]
    assert client.get(f"/api/v1/cases/{key}", headers=auth("worker2")).status_code == 404


def test_a_unit_sees_what_is_dispatched_to_it(client, auth, located):
    key = _located_case(client, auth, GRID_12)
    assert client.get(f"/api/v1/cases/{key}", headers=auth("handler")).status_code == 404
    complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "accept"})
    complete(client, auth, "dispatcher", key, "dispatch", {"handler_unit": "water", "time_limit_hours": 8})

    assert client.get(f"/api/v1/cases/{key}", headers=auth("handler")).status_code == 200
    inbox = client.get("/api/v1/tasks?scope=claimable", headers=auth("handler")).get_json()
    [handle] = [t for t in inbox["items"] if t["case_key"] == key]
    assert (handle["element_id"], handle["candidate_group"]) == ("handle", "water")
    assert client.post(f"/api/v1/tasks/{handle['id']}/claim", headers=auth("handler")).status_code == 200
    # The unit's task is the unit's: a grid worker of the case's own grid is not offered it.
    assert client.get(f"/api/v1/tasks/{handle['id']}", headers=auth("worker2")).status_code == 404


def test_role_tasks_follow_the_case_through_the_process(client, auth, located, create_user):
    """A dispatcher of another street is not offered the triage of a case in street 1."""
    other = create_user("dispatcher", "dispatcher_s2")
    assign(other, STREET_2)
    db.session.commit()
    key = _located_case(client, auth, GRID_11)
    triage = open_task(key, "triage")
    claimable = client.get("/api/v1/tasks?scope=claimable", headers=auth("dispatcher_s2")).get_json()
    assert claimable["items"] == [] and claimable["total"] == 0
    assert client.post(f"/api/v1/tasks/{triage.id}/claim", headers=auth("dispatcher_s2")).status_code == 404
    assert client.post(f"/api/v1/tasks/{triage.id}/claim", headers=auth("dispatcher")).status_code == 200
    # Supervisors reassign only what they see; whoever gets the task by name then sees its case.
    assign(create_user("supervisor", "supervisor_s2"), STREET_2)
    db.session.commit()
    for who, status in (("supervisor_s2", 404), ("supervisor", 200)):
        response = client.post(
            f"/api/v1/tasks/{triage.id}/reassign", json={"username": "dispatcher_s2"}, headers=auth(who)
        )
        assert response.status_code == status, who
    assert client.get(f"/api/v1/cases/{key}", headers=auth("dispatcher_s2")).status_code == 200
    assert client.get(f"/api/v1/cases/{key}", headers=auth("supervisor_s2")).status_code == 404
