"""Mediation KPIs over the disputes of the cases a caller sees, for a period [start, end):

| key | 指标 | definition |
|---|---|---|
| ``filed`` | 受理纠纷数 | ``filed_at`` in P |
| ``concluded`` | 办结数 | ``concluded_at`` (agreement or failure) in P |
| ``agreements`` | 化解数 | concluded in P with an agreement |
| ``failed`` | 调解不成数 | concluded in P without one |
| ``success_rate`` | 化解率 | agreements / concluded |
| ``mean_hours_to_agreement`` | 平均化解时长(小时) | mean ``agreed_at − filed_at`` of the agreements in P |
| ``follow_ups_due`` | 应回访数 | ``follow_up_due_at`` in P |
| ``follow_ups_on_time`` | 按期回访数 | due in P and done by the due time |
| ``follow_up_on_time_rate`` | 按期回访率 | follow_ups_on_time / follow_ups_due |

Rates are 0..1 rounded to 4 places, null when their base is 0. Disputes are few next to cases: the rows
touching the period are read once and counted here, the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from app.auth.models import User
from app.cases.models import Case
from app.cases.services import case_visible_to
from app.clock import as_utc
from app.errors import Forbidden, InvalidInput
from app.extensions import db
from app.grids.codes import code_problem
from app.grids.models import Grid
from app.grids.scope import in_subtrees
from app.kpi.services import KPI_READERS
from app.mediation.models import Dispute

LABELS: dict[str, tuple[str, str]] = {
    "filed": ("受理纠纷数", "disputes filed"),
    "concluded": ("办结数", "concluded"),
    "agreements": ("化解数", "agreements"),
    "failed": ("调解不成数", "failed"),
    "success_rate": ("化解率", "mediation success rate"),
    "mean_hours_to_agreement": ("平均化解时长(小时)", "mean time to agreement (hours)"),
    "follow_ups_due": ("应回访数", "follow-ups due"),
    "follow_ups_on_time": ("按期回访数", "follow-ups done on time"),
    "follow_up_on_time_rate": ("按期回访率", "on-time follow-up rate"),
}


@dataclass(frozen=True)
class DisputeKpiQuery:
    start: datetime  # aware; the period is [start, end)
    end: datetime
    grid: str | None = None


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _check_grid(code: str | None) -> None:
    if code is None:
        return
    problem = code_problem(code)
    if problem is not None:
        raise InvalidInput("invalid grid code", {"grid": problem})
    if db.session.execute(select(Grid.id).where(Grid.code == code)).first() is None:
        raise InvalidInput("unknown grid", {"grid": f"no grid with code {code}"})


def dispute_kpis(user: User, query: DisputeKpiQuery) -> dict[str, Any]:
    if user.role not in KPI_READERS:
        raise Forbidden(f"a {user.role} may not read KPIs", {"role": f"needs one of {sorted(KPI_READERS)}"})
    _check_grid(query.grid)
    start, end = query.start, query.end

    def within(column: Any) -> Any:
        return and_(column >= start, column < end)

    statement = (
        select(
            Dispute.outcome,
            Dispute.filed_at,
            Dispute.agreed_at,
            Dispute.concluded_at,
            Dispute.follow_up_due_at,
            Dispute.follow_up_done_at,
        )
        .join(Case, Case.id == Dispute.case_id)
        .where(
            case_visible_to(user),
            or_(within(Dispute.filed_at), within(Dispute.concluded_at), within(Dispute.follow_up_due_at)),
        )
    )
    if query.grid is not None:
        statement = statement.where(in_subtrees(Case.grid_code, (query.grid,)))

    def inside(moment: datetime | None) -> bool:
        return moment is not None and start <= as_utc(moment) < end

    filed = concluded = agreements = due = on_time = 0
    agreement_hours: list[float] = []
    for outcome, filed_at, agreed_at, concluded_at, due_at, done_at in db.session.execute(statement):
        filed += inside(filed_at)
        if inside(concluded_at):
            concluded += 1
            if outcome == "agreement" and agreed_at is not None:
                agreements += 1
                agreement_hours.append((as_utc(agreed_at) - as_utc(filed_at)).total_seconds() / 3600)
        if due_at is not None and inside(due_at):
            due += 1
            on_time += done_at is not None and as_utc(done_at) <= as_utc(due_at)
    return {
        "from_": start,
        "to": end,
        "grid": query.grid,
        "filed": filed,
        "concluded": concluded,
        "agreements": agreements,
        "failed": concluded - agreements,
        "success_rate": _rate(agreements, concluded),
        "mean_hours_to_agreement": round(sum(agreement_hours) / len(agreement_hours), 2)
        if agreement_hours
        else None,
        "follow_ups_due": due,
        "follow_ups_on_time": on_time,
        "follow_up_on_time_rate": _rate(on_time, due),
    }
