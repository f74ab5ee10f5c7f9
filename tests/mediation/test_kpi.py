"""Mediation KPIs on a hand-computed fixture: 化解率, mean time to agreement, follow-ups done on time,
scoped by the caller's grid scope and by ``grid``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from app.cases.lifecycle import next_case_key
from app.extensions import db
from app.mediation.models import Dispute
from app.timelimits.calendar import CHINA_STANDARD_TIME
from tests.factories import historic_case
from tests.helpers import fingerprint
from tests.mediation.territory import COMMUNITY_A, GRID_A1, GRID_A2, GRID_B1

pytestmark = pytest.mark.usefixtures("people")


def _at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CHINA_STANDARD_TIME)


def _dispute(
    resident_id: int,
    grid: str,
    filed: datetime,
    outcome: str | None = None,
    concluded: datetime | None = None,
    due: datetime | None = None,
    done: datetime | None = None,
) -> None:
    case = historic_case(
        key=next_case_key(2026),
        title="矛盾纠纷:噪音",
        description="",
        grid_code=grid,
        source_channel="resident",
        severity="yellow",
        status="closed" if concluded else "handling",
        created_at=filed,
        updated_at=filed,
        reporter_id=resident_id,
    )
    db.session.flush()
    db.session.add(
        Dispute(
            case_id=case.id,
            dispute_type="noise",
            description="夜间噪音",
            status="closed" if concluded else "mediating",
            filed_by_id=resident_id,
            session_count=1,
            outcome=outcome,
            filed_at=filed,
            concluded_at=concluded,
            agreed_at=concluded if outcome == "agreement" else None,
            follow_up_due_at=due,
            follow_up_done_at=done,
        )
    )


@pytest.fixture
def disputes(people: dict[str, Any]) -> None:
    """November 2026 (China time) is the period. By hand:

    | | grid | filed | concluded | hours to agreement | follow-up due | done |
    |---|---|---|---|---|---|---|
    | d1 | A1 | 11-03 | 11-05 agreement | 48 | 11-15 | 11-14 (on time) |
    | d2 | A1 | 10-28 | 11-02 agreement | 120 | 11-12 | 11-13 (late) |
    | d3 | A2 | 11-10 | 11-12 failed | | | |
    | d4 | B1 | 11-20 | 11-21 agreement | 24 | 12-03 (after P) | |
    | d5 | A1 | 10-01 | 10-05 agreement (before P) | | 11-01 | never |
    | d6 | A2 | 11-25 | (mediating) | | | |

    All: filed 4 (d1 d3 d4 d6), concluded 4 (d1-d4), agreements 3, 化解率 0.75, mean (48+120+24)/3 = 64 h,
    follow-ups due 3 (d1 d2 d5), on time 1 (d1): 0.3333.
    Community A: filed 3, concluded 3, agreements 2: 0.6667, mean 84 h, follow-ups 3, on time 1.
    Community B: filed 1, concluded 1, agreements 1: 1.0, mean 24 h, no follow-up due: null.
    """
    resident = people["resident"].id
    _dispute(resident, GRID_A1, _at(11, 3), "agreement", _at(11, 5), _at(11, 15), _at(11, 14))
    _dispute(resident, GRID_A1, _at(10, 28), "agreement", _at(11, 2), _at(11, 12), _at(11, 13))
    _dispute(resident, GRID_A2, _at(11, 10), "failed", _at(11, 12))
    _dispute(resident, GRID_B1, _at(11, 20), "agreement", _at(11, 21), _at(12, 3))
    _dispute(resident, GRID_A1, _at(10, 1), "agreement", _at(10, 5), _at(11, 1, 0) + timedelta(hours=10))
    _dispute(resident, GRID_A2, _at(11, 25))
    db.session.commit()


def _kpi(client: Any, auth: Any, who: str, expect: int = 200, **args: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in {"from": "2026-11-01", "to": "2026-12-01", **args}.items())
    response = client.get(f"/api/v1/disputes/kpi?{query}", headers=auth(who))
    assert response.status_code == expect, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("from", "to", "grid")}


@pytest.mark.usefixtures("disputes")
def test_the_figures_by_hand(client, auth):
    assert _figures(_kpi(client, auth, "supervisor")) == {
        "filed": 4,
        "concluded": 4,
        "agreements": 3,
        "failed": 1,
        "success_rate": 0.75,
        "mean_hours_to_agreement": 64.0,
        "follow_ups_due": 3,
        "follow_ups_on_time": 1,
        "follow_up_on_time_rate": 0.3333,
    }
    community_a = {
        "filed": 3,
        "concluded": 3,
        "agreements": 2,
        "failed": 1,
        "success_rate": 0.6667,
        "mean_hours_to_agreement": 84.0,
        "follow_ups_due": 3,
        "follow_ups_on_time": 1,
        "follow_up_on_time_rate": 0.3333,
    }
    assert _figures(_kpi(client, auth, "supervisor", grid=COMMUNITY_A)) == community_a
    # Community staff see their community only (their grid scope), whatever they ask for.
    assert _figures(_kpi(client, auth, "community")) == community_a
    assert _figures(_kpi(client, auth, "community_b")) == {
        "filed": 1,
        "concluded": 1,
        "agreements": 1,
        "failed": 0,
        "success_rate": 1.0,
        "mean_hours_to_agreement": 24.0,
        "follow_ups_due": 0,
        "follow_ups_on_time": 0,
        "follow_up_on_time_rate": None,
    }
    assert _kpi(client, auth, "community_b", grid=GRID_A2)["concluded"] == 0
    assert _figures(_kpi(client, auth, "supervisor", grid=GRID_A2))["filed"] == 2


@pytest.mark.usefixtures("disputes")
def test_kpi_refuses_bad_input_and_other_roles(client, auth):
    before = fingerprint()
    assert "role" in _kpi(client, auth, "resident", expect=403)["details"]
    assert _kpi(client, auth, "med1", expect=403)["error"] == "forbidden"
    assert "to" in _kpi(client, auth, "supervisor", expect=422, to="2026-11-01")["details"]
    assert "from" in _kpi(client, auth, "supervisor", expect=422, **{"from": "yesterday"})["details"]
    assert "grid" in _kpi(client, auth, "supervisor", expect=422, grid="51012400100")["details"]
    assert "grid" in _kpi(client, auth, "supervisor", expect=422, grid="510124009")["details"]
    assert fingerprint() == before


def test_no_disputes_no_rates(client, auth):
    empty = _kpi(client, auth, "supervisor")
    assert (
        empty["concluded"] == 0 and empty["success_rate"] is None and empty["mean_hours_to_agreement"] is None
    )
