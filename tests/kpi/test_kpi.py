"""KPI formulas on a hand-computed fixture: 13 cases inserted as rows with chosen timestamps; every expected
count and rate below was worked out by hand from the table in ``_CASES`` (see app/kpi/services.py for the
definitions). The same expectations hold on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.auth.services import create_user
from app.extensions import db
from app.grids.models import Grid, GridMember
from app.units.models import Unit
from tests.conftest import PASSWORD, AppFactory
from tests.factories import historic_case
from tests.helpers import fingerprint

DISTRICT, STREET = "510124", "510124001"
C1, C2 = "510124001001", "510124001002"  # communities
GA, GB, GC = "510124001001001", "510124001001002", "510124001002001"  # grids: A, B in C1; C in C2
NOV = {"from": "2026-11-01", "to": "2026-12-01"}  # local (UTC+8): [2026-10-31T16:00Z, 2026-11-30T16:00Z)


def t(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


# n, grid, worker, unit, status, created, filed, dispatched, redispatch, due, handled, close_due, closed,
# postponed, rework. All times UTC; November (local) is [10-31 16:00Z, 11-30 16:00Z).
_CASES: list[tuple[Any, ...]] = [
    # handled on time (120 min), closed on time
    (1, GA, "worker", None, "closed", t(11, 2, 1), t(11, 2, 2), t(11, 2, 3), 0,
     t(11, 2, 7), t(11, 2, 5), t(11, 3, 3), t(11, 2, 6), 0, 0),
    # redispatched once, handled late (360 min), reworked, closed late
    (2, GA, "worker", None, "closed", t(11, 3, 1), t(11, 3, 1, 30), t(11, 3, 2), 1,
     t(11, 3, 6), t(11, 3, 8), t(11, 4, 2), t(11, 5, 0), 0, 1),
    # due in November, never handled, never closed
    (3, GB, "worker2", None, "handling", t(11, 4, 1), t(11, 4, 2), t(11, 4, 2), 0,
     t(11, 4, 10), None, t(11, 5, 2), None, 0, 0),
    # a unit's case, postponed once, handled on time (1500 min), closed: out of the on-time closure base
    (4, GB, None, "water", "closed", t(11, 5, 1), t(11, 5, 2), t(11, 5, 3), 0,
     t(11, 6, 5), t(11, 6, 4), t(11, 7, 0), t(11, 6, 23), 1, 0),
    # redispatched twice, handled on time (300 min), reworked twice, closed on time
    (5, GC, "worker2", None, "closed", t(11, 6, 1), t(11, 6, 2), t(11, 6, 3), 2,
     t(11, 6, 9), t(11, 6, 8), t(11, 8, 0), t(11, 7, 0), 0, 2),
    # rejected at triage: closed_at set, but not a closure
    (6, GC, None, None, "rejected", t(11, 7, 1), None, None, 0,
     None, None, None, t(11, 7, 5), 0, 0),
    # waiting for triage
    (7, GA, None, None, "triage", t(11, 8, 1), None, None, 0, None, None, None, None, 0, 0),
    # received at local midnight of 1 November: in; filed, not dispatched yet
    (8, GA, None, None, "dispatching", t(10, 31, 16), t(10, 31, 16, 30), None, 0,
     None, None, None, None, 0, 0),
    # received one second before November (October), filed/dispatched/handled (180 min) in November
    (9, GB, "worker", None, "review", t(10, 31, 15, 59, 59), t(10, 31, 17), t(11, 1, 1), 0,
     t(11, 1, 5), t(11, 1, 4), t(11, 2, 5), None, 0, 0),
    # all October, except its closure on 3 November
    (10, GC, None, "water", "closed", t(10, 20, 1), t(10, 20, 2), t(10, 20, 3), 0,
     t(10, 21, 3), t(10, 21, 1), t(10, 25, 0), t(11, 3, 0), 0, 0),
    # dispatched in November, due in December
    (11, GC, "worker", None, "handling", t(11, 20, 1), t(11, 20, 2), t(11, 20, 3), 0,
     t(12, 2, 3), None, t(12, 5, 0), None, 0, 0),
    # no location: no grid
    (12, None, None, None, "triage", t(11, 10, 1), None, None, 0, None, None, None, None, 0, 0),
    # received at local midnight of 1 December: out
    (13, GA, None, None, "triage", t(11, 30, 16), None, None, 0, None, None, None, None, 0, 0),
]  # fmt: skip

COUNT_KEYS = [
    "received", "filed", "filed_closed", "dispatched", "accurately_dispatched", "due", "handled",
    "handled_on_time", "closed", "due_to_close", "postponed", "closed_on_time", "reworked",
]  # fmt: skip
RATE_KEYS = [
    "on_time_handling_rate",
    "closure_rate",
    "on_time_closure_rate",
    "rework_rate",
    "dispatch_accuracy_rate",
]


def expected(counts: list[int], mean: float | None, rates: list[float | None]) -> dict[str, Any]:
    return {**dict(zip(COUNT_KEYS, counts, strict=True)), "mean_handling_minutes": mean,
            **dict(zip(RATE_KEYS, rates, strict=True))}  # fmt: skip


#                 rec fil fcl dis acc due hdl hot clo dtc pst cot rwk
OVERALL = expected([10, 8, 4, 7, 5, 6, 5, 4, 5, 6, 1, 2, 2], 492.0, [0.6667, 0.5, 0.4, 0.4, 0.7143])
COMMUNITY_1 = expected([6, 6, 3, 5, 4, 5, 4, 3, 3, 5, 1, 1, 1], 540.0, [0.6, 0.5, 0.25, 0.25, 0.8])
COMMUNITY_2 = expected([3, 2, 1, 2, 1, 1, 1, 1, 2, 1, 0, 1, 1], 300.0, [1.0, 0.5, 1.0, 1.0, 0.5])
NO_GRID = expected([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], None, [None] * 5)
WORKER = expected([3, 4, 2, 4, 3, 3, 3, 2, 2, 3, 0, 1, 1], 220.0, [0.6667, 0.5, 0.3333, 0.3333, 0.75])
WORKER_2 = expected([2, 2, 1, 2, 1, 2, 1, 1, 1, 2, 0, 1, 1], 300.0, [0.5, 0.5, 0.5, 1.0, 0.5])
# due_to_close 1 − postponed 1 = 0: on-time closure has no base, so null (not 0)
NO_WORKER = expected([5, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 0, 0], 1500.0, [1.0, 0.5, None, 0.0, 1.0])
WATER = expected([1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 0, 0], 1500.0, [1.0, 1.0, None, 0.0, 1.0])


def _grid(code: str, name: str, parent: Grid | None) -> Grid:
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    level = {6: "district", 9: "street", 12: "community", 15: "grid"}[len(code)]
    grid = Grid(code=code, name=name, level=level, parent=parent, geometry=square, min_lon=0, min_lat=0,
                max_lon=1, max_lat=1, created_at=t(1, 1, 0))  # fmt: skip
    db.session.add(grid)
    return grid


def _seed() -> None:
    district = _grid(DISTRICT, "郫都区", None)
    street = _grid(STREET, "犀浦街道", district)
    c1, c2 = _grid(C1, "锦绣社区", street), _grid(C2, "犀安社区", street)
    _grid(GA, "锦绣1网格", c1), _grid(GB, "锦绣2网格", c1), _grid(GC, "犀安1网格", c2)
    db.session.add(Unit(code="water", name="郫都自来水公司", kind="water", created_at=t(1, 1, 0)))
    db.session.flush()
    users = {
        "admin": ("admin", None, None),
        "supervisor": ("supervisor", None, DISTRICT),
        "dispatcher": ("dispatcher", None, DISTRICT),
        "street": ("street_coordinator", None, STREET),
        "community": ("community_staff", None, C1),
        "worker": ("grid_worker", None, GA),
        "worker2": ("grid_worker", None, GC),
        "leader": ("grid_leader", None, C1),
        "resident": ("resident", None, None),
        "handler": ("department_handler", "water", None),
        "designer": ("designer", None, None),
    }
    grids = {g.code: g for g in db.session.query(Grid)}
    for username, (role, unit, grid_code) in users.items():
        user = create_user(username, PASSWORD, role, username.upper(), unit)
        if grid_code:
            db.session.add(GridMember(user_id=user.id, grid_id=grids[grid_code].id, created_at=t(1, 1, 0)))
    for row in _CASES:
        (n, grid, worker, unit, status, created, filed, dispatched, redispatch, due, handled, close_due,
         closed, postponed, rework) = row  # fmt: skip
        historic_case(
            key=f"GC-2026-{n:06d}", title=f"案件{n}", source_channel="web", severity="blue",
            status=status, grid_code=grid, handler_user=worker, handler_unit=unit, created_at=created,
            updated_at=created, filed_at=filed, dispatched_at=dispatched, redispatch_count=redispatch,
            due_at=due, handled_at=handled, close_due_at=close_due, closed_at=closed,
            postponed_count=postponed, rework_count=rework,
        )  # fmt: skip
    db.session.commit()


@pytest.fixture(params=["sqlite", "postgresql"])
def kpi_app(request: pytest.FixtureRequest, make_app: AppFactory) -> Iterator[Flask]:
    app = make_app(request.param)
    with app.app_context():
        _seed()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(kpi_app: Flask) -> FlaskClient:
    return kpi_app.test_client()


def _headers(client: FlaskClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def kpis(client: FlaskClient, who: str = "supervisor", expect: int = 200, **params: str) -> Any:
    response = client.get("/api/v1/kpis", query_string=params, headers=_headers(client, who))
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def metrics(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in (*COUNT_KEYS, "mean_handling_minutes", *RATE_KEYS)}


def by_key(rows: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    return {row["key"]: metrics(row) for row in rows}


def test_overall(client):
    body = kpis(client, **NOV)
    assert body["from"] == "2026-11-01T00:00:00+08:00" and body["to"] == "2026-12-01T00:00:00+08:00"
    [row] = body["rows"]
    assert (row["key"], row["name"]) == (None, "全部")
    assert row["period_start"] == "2026-11-01T00:00:00+08:00"
    assert metrics(row) == OVERALL


def test_by_community_street_and_grid(client):
    rows = kpis(client, group_by="community", **NOV)["rows"]
    assert [(r["key"], r["name"]) for r in rows] == [(C1, "锦绣社区"), (C2, "犀安社区"), (None, None)]
    assert by_key(rows) == {C1: COMMUNITY_1, C2: COMMUNITY_2, None: NO_GRID}

    street = by_key(kpis(client, group_by="street", **NOV)["rows"])
    assert set(street) == {STREET, None}
    assert street[STREET]["received"] == 9 and street[STREET]["closed"] == 5

    grids = by_key(kpis(client, group_by="grid", **NOV)["rows"])
    assert {k: v["received"] for k, v in grids.items()} == {GA: 4, GB: 2, GC: 3, None: 1}
    assert grids[GB]["postponed"] == 1 and grids[GB]["on_time_closure_rate"] == 0.0


def test_by_worker_and_unit(client):
    assert by_key(kpis(client, group_by="worker", **NOV)["rows"]) == {
        "worker": WORKER,
        "worker2": WORKER_2,
        None: NO_WORKER,
    }
    units = kpis(client, group_by="unit", **NOV)["rows"]
    assert [(r["key"], r["name"]) for r in units] == [("water", "郫都自来水公司"), (None, None)]
    assert metrics(units[0]) == WATER
    assert units[1]["received"] == 9


def test_grid_filter_selects_a_subtree(client):
    [row] = kpis(client, grid=C2, **NOV)["rows"]
    assert metrics(row) == COMMUNITY_2


def test_weekly_trend_has_every_bucket(client):
    # 1 November 2026 is a Sunday: the first week is clipped to one day.
    rows = kpis(client, granularity="week", **NOV)["rows"]
    assert [r["period_start"][:10] for r in rows] == [
        "2026-11-01", "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30",
    ]  # fmt: skip
    assert rows[-1]["period_end"] == "2026-12-01T00:00:00+08:00"
    assert [r["received"] for r in rows] == [1, 7, 1, 1, 0, 0]
    assert [r["handled"] for r in rows] == [1, 4, 0, 0, 0, 0]
    assert [r["mean_handling_minutes"] for r in rows] == [180.0, 570.0, None, None, None, None]
    assert rows[4]["on_time_handling_rate"] is None


def test_monthly_trend_by_community(client):
    rows = kpis(
        client, group_by="community", granularity="month", **{"from": "2026-10-01", "to": "2027-01-01"}
    )
    table = {(r["period_start"][:7], r["key"]): r for r in rows["rows"]}
    assert {k: r["received"] for k, r in table.items()} == {
        ("2026-10", C1): 1, ("2026-10", C2): 1, ("2026-10", None): 0,
        ("2026-11", C1): 6, ("2026-11", C2): 3, ("2026-11", None): 1,
        ("2026-12", C1): 1, ("2026-12", C2): 0, ("2026-12", None): 0,
    }  # fmt: skip
    assert metrics(table[("2026-11", C1)]) == COMMUNITY_1


def test_a_period_without_cases_gives_nulls_not_errors(client):
    [row] = kpis(client, **{"from": "2025-01-01", "to": "2025-02-01"})["rows"]
    assert metrics(row) == expected([0] * 13, None, [None] * 5)
    assert kpis(client, group_by="unit", **{"from": "2025-01-01", "to": "2025-02-01"})["rows"] == []


def test_csv_export(client):
    headers = _headers(client, "supervisor")
    response = client.get("/api/v1/kpis.csv", query_string={"group_by": "community", **NOV}, headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="kpis-community-20261101-20261201.csv"'
    )
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text[1:])))
    assert table[0][:6] == ["开始时间", "结束时间", "编码", "名称", "接报数", "立案数"]
    assert table[0][-5:] == ["按期处置率", "结案率", "按期结案率", "返工率", "准确派遣率"]
    assert table[1][:6] == ["period_start", "period_end", "key", "name", "received", "filed"]
    assert len(table) == 5
    data = [dict(zip(table[1], line, strict=True)) for line in table[2:]]
    assert [(d["key"], d["name"]) for d in data] == [(C1, "锦绣社区"), (C2, "犀安社区"), ("", "")]
    assert data[0]["received"] == "6" and data[0]["on_time_closure_rate"] == "0.25"
    assert data[0]["mean_handling_minutes"] == "540.0"
    assert data[2]["closure_rate"] == "" and data[2]["mean_handling_minutes"] == ""
    assert data[0]["period_start"] == "2026-11-01T00:00:00+08:00"

    same = client.get(
        "/api/v1/kpis", query_string={"group_by": "community", "format": "csv", **NOV}, headers=headers
    )
    assert same.status_code == 200 and same.get_data(as_text=True) == text


def test_scope_community_staff_sees_only_their_community(client):
    rows = kpis(client, "community", group_by="community", **NOV)["rows"]
    assert by_key(rows) == {C1: COMMUNITY_1}
    # Asking for another community's subtree gives nothing of it.
    [row] = kpis(client, "community", grid=C2, **NOV)["rows"]
    assert row["received"] == 0


def test_scope_street_coordinator_and_admin(client):
    street = by_key(kpis(client, "street", group_by="community", **NOV)["rows"])
    assert street == {C1: COMMUNITY_1, C2: COMMUNITY_2}  # the unlocated case is the command centre's
    assert metrics(kpis(client, "admin", **NOV)["rows"][0]) == OVERALL
    assert metrics(kpis(client, "dispatcher", **NOV)["rows"][0]) == OVERALL


@pytest.mark.parametrize("who", ["resident", "worker", "handler", "designer", "leader"])
def test_other_roles_are_refused(client, who):
    body = kpis(client, who, expect=403, **NOV)
    assert body["error"] == "forbidden"
    response = client.get("/api/v1/kpis.csv", query_string=NOV, headers=_headers(client, who))
    assert response.status_code == 403


def test_needs_a_signed_in_user(client):
    assert client.get("/api/v1/kpis", query_string=NOV).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "district", **NOV}, "group_by"),
        ({"from": "2026-11-31", "to": "2026-12-01"}, "from"),
        ({"from": "yesterday", "to": "2026-12-01"}, "from"),
        ({"from": "2026-11-01", "to": "2026-13-01"}, "to"),
        ({"from": "2026-12-01", "to": "2026-11-01"}, "to"),
        ({"from": "2026-11-01", "to": "2026-11-01"}, "to"),
        ({"to": "2026-12-01"}, "from"),
        ({"grid": "510124009", **NOV}, "grid"),
        ({"grid": "51012400", **NOV}, "grid"),
        ({"grid": "510124abc", **NOV}, "grid"),
        ({"granularity": "hour", **NOV}, "granularity"),
        ({"granularity": "day", "from": "2020-01-01", "to": "2026-01-01"}, "granularity"),
        ({"format": "xlsx", **NOV}, "format"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(client, params, field):
    headers = _headers(client, "supervisor")
    before = fingerprint()
    response = client.get("/api/v1/kpis", query_string=params, headers=headers)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["details"], response.get_json()
    csv_response = client.get("/api/v1/kpis.csv", query_string=params, headers=headers)
    assert csv_response.status_code == 422
    assert fingerprint() == before


def test_a_trend_of_one_bucket_equals_the_period(client):
    [row] = kpis(client, granularity="month", **NOV)["rows"]
    assert metrics(row) == OVERALL
    [row] = kpis(client, granularity="day", **{"from": "2026-11-06", "to": "2026-11-07"})["rows"]
    # local 6 November: c5 received, filed, dispatched, due, handled; c4's handled and due_at (extended)
    assert (row["received"], row["handled"], row["due"], row["handled_on_time"]) == (1, 2, 2, 2)
