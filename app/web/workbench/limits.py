"""The time limit a dispatch gets when the dispatcher keeps the category's (``app.cases.dispatch``): shown
on the workbench, and the hours its time-limit box starts with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.cases.dispatch import compute_limits
from app.cases.models import Case
from app.categories.services import get_category
from app.clock import now
from app.errors import InvalidInput
from app.timelimits.calendar import SEVERITY_FACTORS, Severity, TimeLimit


@dataclass(frozen=True)
class CategoryLimit:
    limit: TimeLimit  # as configured on the category (or the default limit)
    factor: float  # the severity's share of it
    from_category: bool  # False: the case has no category, the default limit applies
    due_at: datetime  # the deadline if dispatched now with this limit
    # The limit in working hours, when it is a whole number of them: what the box starts with.
    default_hours: int | None


def category_limit(case: Case) -> CategoryLimit | None:
    """The category's limit for ``case`` dispatched now; None when it cannot be computed (a calendar
    without data for the coming days: the dispatcher then gives hours)."""
    category = get_category(case.category_code, active_only=False)
    try:
        limits = compute_limits(case, None, now(), category)
    except InvalidInput:
        return None
    known = {severity.value: severity for severity in Severity}
    factor = SEVERITY_FACTORS[known[case.severity]] if case.severity in known else 1.0
    hours = limits.limit.amount * factor
    whole = limits.limit.unit == "working_hours" and hours == int(hours) and hours >= 1
    return CategoryLimit(
        limit=limits.limit,
        factor=factor,
        from_category=category is not None,
        due_at=limits.handle.due_at,
        default_hours=int(hours) if whole else None,
    )
