"""KPIs supervisors read (GB/T 30428.4 / CJ/T 292 practice), counted on ``case_file`` columns.

For a period [from, to) every count is a number of cases. A case counts where the column named falls in the
period ("in P" below), so a case received in October and closed in November is received in October and
closed in November. Only the cases the user may see count (``app.cases.services.visible_cases``).

Counts:

=====================  ============  ======================================================================
key                    zh-CN         definition
=====================  ============  ======================================================================
received               接报数        created_at in P
filed                  立案数        filed_at in P (accepted at triage)
filed_closed           立案已结案数  filed_at in P and status = closed (by now)
dispatched             派遣数        dispatched_at in P (first dispatch)
accurately_dispatched  准确派遣数    dispatched_at in P and redispatch_count = 0
due                    应处置数      due_at (handling limit, as extended) in P
handled                处置数        handled_at in P (photo proof sent; the last one after a rework)
handled_on_time        按期处置数    due_at in P and handled_at is not null and handled_at <= due_at
closed                 结案数        closed_at in P and status = closed (not rejected/duplicate/withdrawn)
due_to_close           应结案数      close_due_at (closing limit) in P
postponed              延期数        close_due_at in P and postponed_count > 0
closed_on_time         按期结案数    close_due_at in P, postponed_count = 0, status = closed and
                                     closed_at <= close_due_at
reworked               返工数        handled_at in P and rework_count > 0
mean_handling_minutes  平均处置时长  mean handled_at − dispatched_at of the cases handled in P (minutes)
=====================  ============  ======================================================================

Rates (fractions 0..1 rounded to 4 places; null when the denominator is 0):

- 按期处置率 on_time_handling_rate  = handled_on_time / due
- 结案率     closure_rate           = filed_closed / filed
- 按期结案率 on_time_closure_rate   = closed_on_time / (due_to_close − postponed)
- 返工率     rework_rate            = reworked / handled
- 准确派遣率 dispatch_accuracy_rate = accurately_dispatched / dispatched

Each numerator is a subset of its denominator, so a rate never exceeds 1. Postponed (延期) cases leave the
on-time closure denominator, as the formula says, and so they leave its numerator too.

Every grouping is ONE SQL statement with conditional aggregates (``SUM(CASE …)``) over the visible cases; no
Python loop touches cases. A case is read only if some column above falls in [from, to); since every event of
a case happens after it was received, ``created_at < to`` bounds the scan too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    and_,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy import case as sql_case
from sqlalchemy.sql.elements import Label

from app.auth.models import User
from app.auth.roles import Role
from app.cases.models import CaseStatus
from app.cases.services import visible_cases
from app.errors import Forbidden, InvalidInput
from app.extensions import db
from app.grids.codes import LEVEL_LENGTHS, code_problem
from app.grids.models import Grid
from app.grids.scope import in_subtrees
from app.kpi import periods
from app.units.models import Unit

KPI_READERS = frozenset(
    {
        Role.SUPERVISOR,
        Role.DISPATCHER,
        Role.COMMUNITY_STAFF,
        Role.STREET_COORDINATOR,
        Role.DISTRICT_COORDINATOR,
        Role.ADMIN,
    }
)
GRID_GROUPINGS: dict[str, int] = {level: LEVEL_LENGTHS[level] for level in ("street", "community", "grid")}
GROUPINGS = ("overall", *GRID_GROUPINGS, "unit", "worker")

# key → (zh-CN, English): the order of the columns in JSON rows and CSV.
COUNT_LABELS: dict[str, tuple[str, str]] = {
    "received": ("接报数", "received"),
    "filed": ("立案数", "filed"),
    "filed_closed": ("立案已结案数", "filed and closed"),
    "dispatched": ("派遣数", "dispatched"),
    "accurately_dispatched": ("准确派遣数", "accurately dispatched"),
    "due": ("应处置数", "due to handle"),
    "handled": ("处置数", "handled"),
    "handled_on_time": ("按期处置数", "handled on time"),
    "closed": ("结案数", "closed"),
    "due_to_close": ("应结案数", "due to close"),
    "postponed": ("延期数", "postponed"),
    "closed_on_time": ("按期结案数", "closed on time"),
    "reworked": ("返工数", "reworked"),
}
MEAN_LABEL = ("平均处置时长(分钟)", "mean handling time (minutes)")
RATE_LABELS: dict[str, tuple[str, str]] = {
    "on_time_handling_rate": ("按期处置率", "on-time handling rate"),
    "closure_rate": ("结案率", "closure rate"),
    "on_time_closure_rate": ("按期结案率", "on-time closure rate"),
    "rework_rate": ("返工率", "rework rate"),
    "dispatch_accuracy_rate": ("准确派遣率", "dispatch accuracy rate"),
}
OVERALL_NAME = "全部"


@dataclass(frozen=True)
class KpiQuery:
    group_by: str
    start: datetime  # aware; the period is [start, end)
    end: datetime
    grid: str | None = None  # only cases in this grid's subtree
    granularity: str | None = None  # day | week | month: one row per group and bucket


# -- the statement ----------------------------------------------------------------------------------


def _epoch_seconds(column: Any) -> ColumnElement[Any]:
    """Seconds since 1970 on either backend (SQLite stores UTC text, PostgreSQL timestamptz)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(sql_case((condition, 1), else_=0)), 0)


def _group_key(c: Any, group_by: str) -> ColumnElement[Any] | None:
    if group_by in GRID_GROUPINGS:
        length = GRID_GROUPINGS[group_by]
        # Cases located only to a coarser level (or nowhere) have no grid at this level: key null.
        return sql_case((func.length(c.grid_code) >= length, func.substr(c.grid_code, 1, length)), else_=None)
    if group_by == "unit":
        return c.handler_unit
    if group_by == "worker":
        return c.handler_user
    return None


def _aggregates(c: Any, start: Any, end: Any) -> list[Label[Any]]:
    """The counts, with [start, end) given as binds (one period) or as the bucket's columns (a trend)."""

    def within(column: Any) -> ColumnElement[bool]:
        return and_(column >= start, column < end)

    closed = c.status == CaseStatus.CLOSED
    handled = within(c.handled_at)
    timed = and_(handled, c.dispatched_at.is_not(None))
    conditions: dict[str, ColumnElement[bool]] = {
        "received": within(c.created_at),
        "filed": within(c.filed_at),
        "filed_closed": and_(within(c.filed_at), closed),
        "dispatched": within(c.dispatched_at),
        "accurately_dispatched": and_(within(c.dispatched_at), c.redispatch_count == 0),
        "due": within(c.due_at),
        "handled": handled,
        "handled_on_time": and_(within(c.due_at), c.handled_at.is_not(None), c.handled_at <= c.due_at),
        "closed": and_(within(c.closed_at), closed),
        "due_to_close": within(c.close_due_at),
        "postponed": and_(within(c.close_due_at), c.postponed_count > 0),
        "closed_on_time": and_(
            within(c.close_due_at), c.postponed_count == 0, closed, c.closed_at <= c.close_due_at
        ),
        "reworked": and_(handled, c.rework_count > 0),
    }
    assert list(conditions) == list(COUNT_LABELS)
    columns = [_count(condition).label(key) for key, condition in conditions.items()]
    handling_seconds = _epoch_seconds(c.handled_at) - _epoch_seconds(c.dispatched_at)
    columns.append(func.sum(sql_case((timed, handling_seconds), else_=None)).label("handling_seconds"))
    columns.append(_count(timed).label("handling_timed"))
    return columns


_EVENT_COLUMNS = (
    "created_at",
    "filed_at",
    "dispatched_at",
    "due_at",
    "handled_at",
    "close_due_at",
    "closed_at",
)


def _touches(c: Any, start: Any, end: Any) -> ColumnElement[bool]:
    """Some counted column of the case falls in [start, end)."""
    return or_(*[and_(c[name] >= start, c[name] < end) for name in _EVENT_COLUMNS])


def kpi_statement(user: User, query: KpiQuery) -> tuple[Select[Any], list[periods.Period]]:
    """The one statement computing ``query`` over the cases ``user`` may see, and the periods its ``period``
    column (an index into that list) refers to."""
    spans = periods.split(query.start, query.end, query.granularity)
    cases = visible_cases(user).subquery("visible_case")
    c = cases.c
    when = DateTime(timezone=True)
    start, end = literal(query.start, when), literal(query.end, when)
    key = _group_key(c, query.group_by)

    scope = [c.created_at < end, _touches(c, start, end)]
    if query.grid is not None:
        scope.append(in_subtrees(c.grid_code, (query.grid,)))

    if query.granularity is None:
        period = literal(0, Integer).label("period")
        statement = select(period, *_aggregates(c, start, end)).select_from(cases)
        group: list[Any] = []
    else:
        buckets = union_all(
            *[
                select(
                    literal(index, Integer).label("idx"),
                    literal(span_start, when).label("starts"),
                    literal(span_end, when).label("ends"),
                )
                for index, (span_start, span_end) in enumerate(spans)
            ]
        ).subquery("period_bucket")
        b = buckets.c
        statement = (
            select(b.idx.label("period"), *_aggregates(c, b.starts, b.ends))
            .select_from(cases)
            .join(buckets, true())
        )
        scope.append(_touches(c, b.starts, b.ends))
        group = [b.idx]
    if key is not None:
        statement = statement.add_columns(key.label("group_key"))
        group.append(key)
    statement = statement.where(*scope)
    if group:
        statement = statement.group_by(*group)
    return statement, spans


# -- rows -------------------------------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator > 0 else None


@dataclass(frozen=True)
class _Tally:
    """One result row of the statement, before the rates."""

    period: int
    key: str | None
    counts: dict[str, int]
    handling_seconds: float
    handling_timed: int

    @classmethod
    def of(cls, raw: Any) -> _Tally:
        return cls(
            period=raw.period,
            key=getattr(raw, "group_key", None),
            counts={name: int(getattr(raw, name)) for name in COUNT_LABELS},
            handling_seconds=float(raw.handling_seconds or 0),
            handling_timed=int(raw.handling_timed),
        )

    @classmethod
    def zero(cls, period: int, key: str | None) -> _Tally:
        return cls(period, key, dict.fromkeys(COUNT_LABELS, 0), 0.0, 0)


def _row(tally: _Tally, spans: list[periods.Period], names: dict[str | None, str | None]) -> dict[str, Any]:
    span_start, span_end = spans[tally.period]
    counts = tally.counts
    mean_minutes = None
    if tally.handling_timed:
        # Rounded in steps so SQLite's float julianday and PostgreSQL's exact epoch agree.
        mean_seconds = round(tally.handling_seconds / tally.handling_timed, 3)
        mean_minutes = round(mean_seconds / 60, 2)
    return {
        "period_start": periods.local(span_start),
        "period_end": periods.local(span_end),
        "key": tally.key,
        "name": names.get(tally.key),
        **counts,
        "mean_handling_minutes": mean_minutes,
        "on_time_handling_rate": _rate(counts["handled_on_time"], counts["due"]),
        "closure_rate": _rate(counts["filed_closed"], counts["filed"]),
        "on_time_closure_rate": _rate(counts["closed_on_time"], counts["due_to_close"] - counts["postponed"]),
        "rework_rate": _rate(counts["reworked"], counts["handled"]),
        "dispatch_accuracy_rate": _rate(counts["accurately_dispatched"], counts["dispatched"]),
    }


def _with_empty_buckets(tallies: list[_Tally], buckets: int, group_by: str) -> list[_Tally]:
    """A trend shows every bucket: zero rows where a group had nothing (groups, not cases, are looped)."""
    keys = {None} if group_by == "overall" else {t.key for t in tallies}
    present = {(t.period, t.key) for t in tallies}
    missing = [_Tally.zero(i, k) for i in range(buckets) for k in keys if (i, k) not in present]
    return tallies + missing


def _names(group_by: str, keys: set[str]) -> dict[str | None, str | None]:
    """zh-CN names of the groups: grid names, unit names, workers' display names."""
    lookups: dict[str, Callable[[], Any]] = {
        "unit": lambda: select(Unit.code, Unit.name).where(Unit.code.in_(keys)),
        "worker": lambda: select(User.username, User.display_name).where(User.username.in_(keys)),
    }
    if group_by == "overall":
        return {None: OVERALL_NAME}
    if not keys:
        return {}
    statement = (
        lookups[group_by]()
        if group_by in lookups
        else select(Grid.code, Grid.name).where(Grid.code.in_(keys))
    )
    return {row[0]: row[1] for row in db.session.execute(statement)}


def check_query(query: KpiQuery) -> None:
    """What the schema cannot know: the grid exists. Raises InvalidInput naming the field."""
    if query.group_by not in GROUPINGS:
        raise InvalidInput("unknown grouping", {"group_by": f"expected one of {', '.join(GROUPINGS)}"})
    if query.start >= query.end:
        raise InvalidInput("empty period", {"to": "must be later than from"})
    if query.granularity is not None and query.granularity not in periods.GRANULARITIES:
        raise InvalidInput(
            "unknown granularity", {"granularity": f"expected one of {', '.join(periods.GRANULARITIES)}"}
        )
    if query.grid is not None:
        problem = code_problem(query.grid)
        if problem is not None:
            raise InvalidInput("invalid grid code", {"grid": problem})
        if db.session.execute(select(Grid.id).where(Grid.code == query.grid)).first() is None:
            raise InvalidInput("unknown grid", {"grid": f"no grid with code {query.grid}"})


def execute_kpi_statement(statement: Select[Any]) -> list[Any]:
    if db.session.get_bind().dialect.name == "postgresql":
        # PostgreSQL's JIT compiling of this wide aggregate costs more than it saves at any size we read
        # (0.2-2 s at 1M cases, bench/kpi.py); SET LOCAL lasts until the request's transaction ends.
        db.session.execute(text("SET LOCAL jit = off"))
    return list(db.session.execute(statement))


def kpi_rows(user: User, query: KpiQuery) -> list[dict[str, Any]]:
    """The KPI rows of ``query``: one per group (and per bucket with a granularity), ordered by period
    then key (the group without a key, e.g. cases with no unit, last)."""
    if user.role not in KPI_READERS:
        raise Forbidden(f"a {user.role} may not read KPIs", {"role": f"needs one of {sorted(KPI_READERS)}"})
    check_query(query)
    statement, spans = kpi_statement(user, query)
    tallies = [_Tally.of(raw) for raw in execute_kpi_statement(statement)]
    if query.group_by == "overall":
        tallies = [replace(t, key=None) for t in tallies]
    if query.granularity is not None:
        tallies = _with_empty_buckets(tallies, len(spans), query.group_by)
    names = _names(query.group_by, {t.key for t in tallies if t.key is not None})
    rows = [_row(tally, spans, names) for tally in tallies]
    rows.sort(key=lambda r: (r["period_start"], r["key"] is None, r["key"] or ""))
    return rows
