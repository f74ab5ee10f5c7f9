"""The supervisor's case list: filters from the query string, over ``list_cases`` (so only visible cases).

Filters: status, category (a class or sub-class code: its prefix), grid (a subtree), severity, overdue, a
date range on the report date (``from``/``to`` are days in China time, both inclusive), free text ``q``.
A malformed filter is refused naming the field (``InvalidInput`` → the page shows it, with status 422).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from app.auth.models import User
from app.cases.models import Case, CaseStatus
from app.cases.services import CaseFilters, list_cases
from app.categories.models import Category
from app.errors import InvalidInput
from app.extensions import db
from app.grids.codes import code_problem
from app.grids.models import Grid
from app.grids.scope import in_subtrees, scope_of
from app.http import MAX_PAGE_SIZE, paginate
from app.inputs import BoundedInt
from app.timelimits.calendar import CHINA_STANDARD_TIME, SEVERITIES

DEFAULT_PAGE_SIZE = 20
# The grid filter offers the territory down to comprehensive grids (compounds and buildings are too many).
FILTER_GRID_LEVELS = ("district", "street", "community", "grid")


class CaseListArgs(Schema):
    status = fields.Str(validate=validate.OneOf(CaseStatus.ALL))
    category = fields.Str(
        validate=validate.Regexp(
            r"^[EP](\d{2}){0,2}$", error="expected a category code or its prefix, e.g. E01"
        )
    )
    grid = fields.Str()
    severity = fields.Str(validate=validate.OneOf(SEVERITIES))
    overdue = fields.Bool()
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    q = fields.Str(validate=validate.Length(max=100))
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=DEFAULT_PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise ValidationError("must not be before 'from'", "to")
        grid = data.get("grid")
        if grid is not None and (problem := code_problem(grid)) is not None:
            raise ValidationError(problem, "grid")


@dataclass(frozen=True)
class CaseListQuery:
    status: str | None = None
    category: str | None = None
    grid: str | None = None
    severity: str | None = None
    overdue: bool | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    def as_args(self) -> dict[str, Any]:
        """The query string of this query (for pagination links), without empty filters."""
        values = {
            "status": self.status,
            "category": self.category,
            "grid": self.grid,
            "severity": self.severity,
            "overdue": None if self.overdue is None else ("true" if self.overdue else "false"),
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "q": self.q,
            "page_size": self.page_size if self.page_size != DEFAULT_PAGE_SIZE else None,
        }
        return {name: value for name, value in values.items() if value is not None}


def parse_args(raw: dict[str, str]) -> CaseListQuery:
    """The filters of a query string; empty values (an untouched select) mean no filter."""
    given = {name: value.strip() for name, value in raw.items() if value and value.strip()}
    try:
        loaded = CaseListArgs().load(given, unknown="exclude")
    except ValidationError as exc:
        details = {name: " ".join(map(str, messages)) for name, messages in _flat(exc.messages).items()}
        raise InvalidInput(f"invalid filter: {', '.join(sorted(details))}", details) from exc
    if (
        loaded.get("grid")
        and db.session.execute(select(Grid.id).where(Grid.code == loaded["grid"])).first() is None
    ):
        raise InvalidInput("invalid filter: grid", {"grid": f"no grid with code {loaded['grid']}"})
    return CaseListQuery(**loaded)


def _flat(messages: Any) -> dict[str, list[str]]:
    if isinstance(messages, dict):
        return {str(k): v if isinstance(v, list) else [str(v)] for k, v in messages.items()}
    return {"_schema": list(messages)}


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA_STANDARD_TIME)


def search(user: User, query: CaseListQuery) -> dict[str, Any]:
    """One page of the visible cases matching ``query``: the pagination envelope of ``app.http``."""
    filters = CaseFilters(
        status=query.status,
        category_code=query.category,
        severity=query.severity,
        q=query.q,
        created_from=_local_midnight(query.date_from) if query.date_from else None,
        created_to=_local_midnight(query.date_to) + timedelta(days=1) if query.date_to else None,
        overdue=query.overdue,
    )
    statement = list_cases(user, filters)
    if query.grid:
        statement = statement.where(in_subtrees(Case.grid_code, (query.grid,)))
    return paginate(statement, query.page, query.page_size)


def grid_choices(user: User) -> list[tuple[str, str, str]]:
    """(code, name, level) of the grids the user's filter may name: their territory down to grid level."""
    scope = scope_of(user)
    statement = select(Grid.code, Grid.name, Grid.level).where(Grid.level.in_(FILTER_GRID_LEVELS))
    if not scope.everything:
        statement = statement.where(in_subtrees(Grid.code, scope.grid_codes))
    return [(code, name, level) for code, name, level in db.session.execute(statement.order_by(Grid.code))]


def category_choices() -> list[tuple[str, str, str | None]]:
    """(code, name, English name) of the active categories, classes before their sub-classes."""
    rows = db.session.execute(
        select(Category.code, Category.name, Category.name_en)
        .where(Category.active.is_(True))
        .order_by(Category.code)
    )
    return [(code, name, name_en) for code, name, name_en in rows]


def names_of(cases: list[Case]) -> tuple[dict[str, str], dict[str, str]]:
    """Names of the grids and categories of ``cases``, to show beside their codes."""
    grid_codes = {c.grid_code for c in cases if c.grid_code}
    category_codes = {c.category_code for c in cases if c.category_code}
    grids: dict[str, str] = {}
    categories: dict[str, str] = {}
    if grid_codes:
        grids = {
            code: name
            for code, name in db.session.execute(
                select(Grid.code, Grid.name).where(Grid.code.in_(grid_codes))
            )
        }
    if category_codes:
        categories = {
            code: name
            for code, name in db.session.execute(
                select(Category.code, Category.name).where(Category.code.in_(category_codes))
            )
        }
    return grids, categories
