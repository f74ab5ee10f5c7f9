"""What the ``case.*`` operators do in a designer's test run (``app.workflow.operators.simulation``).

A test instance has no case: each simulation answers what its operator would answer, from the test data the
designer gave (``category_code``, ``severity``, ``grid_code``, ``lat``/``lon``, the dispatch fields …) and the
same read-only rules (the handler proposal, the working-time limits, the checks of the person's input), and
writes nothing: no case row, no case event, no notification. The run's log shows each call and its result.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.auth.models import User
from app.cases import dispatch
from app.cases.escalation import TRIGGERS, _level, report_in_due
from app.cases.lifecycle import draft_case
from app.cases.models import Case
from app.categories.services import get_category
from app.clock import as_utc, now
from app.errors import InvalidInput
from app.extensions import db
from app.units.models import Unit
from app.workflow import operators
from app.workflow.operators import OperatorCall
from app.workflow.test_run_models import TestRun
from app.workflow.timers import parse_timer_value

TEST_CASE_KEY = "试运行"


def _test_case(call: OperatorCall) -> Case:
    """A case as the test data describes it (a task's form may have changed a field since; one it left
    empty keeps the run's start value), never added to the session: nothing stores it."""
    started = (
        db.session.execute(
            select(TestRun.test_data).where(TestRun.instance_id == call.instance_id)
        ).scalar_one_or_none()
        or {}
    )

    def value(name: str) -> Any:
        given = call.data.get(name)
        return given if given is not None else started.get(name)

    return draft_case(
        TEST_CASE_KEY,
        title=str(value("title") or TEST_CASE_KEY),
        category_code=value("category_code"),
        grid_code=value("grid_code"),
        lat=value("lat"),
        lon=value("lon"),
        severity=str(value("severity") or "yellow"),
        handler_user=call.data.get("handler_user"),
        handler_unit=call.data.get("handler_unit"),
    )


@operators.simulation("case.finish")
def finish(call: OperatorCall) -> dict[str, Any]:
    return {"status": call.params["status"], "at": now().isoformat()}


@operators.simulation("case.mark_duplicate")
def mark_duplicate(call: OperatorCall) -> dict[str, Any]:
    original_key = call.params["duplicate_of"]
    exists = db.session.execute(select(Case.id).where(Case.key == original_key)).scalar_one_or_none()
    if exists is None:
        raise InvalidInput(
            f"duplicate_of: no case {original_key!r}", {"duplicate_of": f"no case {original_key!r}"}
        )
    return {"duplicate_of": original_key}


@operators.simulation("case.propose_handler")
def propose_handler(call: OperatorCall) -> dict[str, Any]:
    return dispatch.propose(_test_case(call)).as_dict()


@operators.simulation("case.set_time_limit")
def set_time_limit(call: OperatorCall) -> dict[str, Any]:
    case = _test_case(call)
    if "time_limit" not in call.data:  # the first dispatch checks the chosen handler, as the operator does
        dispatch.check_handler(call.data.get("handler_user"), call.data.get("handler_unit"))
    start = now()
    category = get_category(case.category_code, active_only=False) if case.category_code else None
    limits = dispatch.compute_limits(case, call.params.get("hours"), start, category)
    handle = limits.handle
    working = dispatch.calendar().working_time_between(handle.start, handle.due_at).total_seconds() / 3600
    return {
        "start_at": handle.start.isoformat(),
        "warn_at": handle.warn_at.isoformat(),
        "due_at": handle.due_at.isoformat(),
        "close_due_at": limits.close_due_at.isoformat() if limits.close_due_at else None,
        "limit": str(limits.limit),
        "source": limits.source,
        "hours": round(working, 2),
    }


def _handler_now(data: dict[str, Any]) -> dict[str, Any]:
    """Who handles the test case now: the dispatch's choice, or whoever supervision or an escalation
    handed it to since."""
    handler = {"handler_user": data.get("handler_user"), "handler_unit": data.get("handler_unit")}
    for later in (data.get("supervision"), data.get("escalation_outcome")):
        if isinstance(later, dict) and (later.get("handler_user") or later.get("handler_unit")):
            handler = {"handler_user": later.get("handler_user"), "handler_unit": later.get("handler_unit")}
    return handler


@operators.simulation("case.current_handler")
def current_handler(call: OperatorCall) -> dict[str, Any]:
    return _handler_now(call.data)


@operators.simulation("case.warn_due")
def warn_due(call: OperatorCall) -> dict[str, Any]:
    return {"warned_at": now().isoformat()}


@operators.simulation("case.mark_overdue")
def mark_overdue(call: OperatorCall) -> dict[str, Any]:
    return {"overdue_at": now().isoformat()}


@operators.simulation("case.escalate")
def escalate(call: OperatorCall) -> dict[str, Any]:
    level = _level(call.params["level"])
    trigger = call.params.get("trigger")
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown escalation trigger {trigger!r}; expected one of {', '.join(TRIGGERS)}")
    return {"level": level, "trigger": trigger, "at": now().isoformat()}


def _active_user(username: str, field: str) -> None:
    found = db.session.execute(
        select(User.id).where(User.username == username, User.active.is_(True))
    ).scalar_one_or_none()
    if found is None:
        raise InvalidInput(f"{field}: no active user {username!r}", {field: f"no active user {username!r}"})


@operators.simulation("case.apply_supervision")
def apply_supervision(call: OperatorCall) -> dict[str, Any]:
    action = call.params["action"]
    result: dict[str, Any] = {"action": action}
    if action == "reassign":
        username = call.params["new_handler_user"]
        _active_user(username, "new_handler_user")
        result["handler_user"] = username
    elif action == "extend":
        limit = call.data.get("time_limit")
        due = limit.get("due_at") if isinstance(limit, dict) else None
        base = parse_timer_value(due) if isinstance(due, str) else now()
        result["due_at"] = dispatch.calendar().add_working_hours(
            as_utc(base), int(call.params["extend_hours"])
        )
        result["due_at"] = result["due_at"].isoformat()
    elif action != "urge":
        raise ValueError(f"unknown supervision action {action!r}")
    return result


@operators.simulation("case.record_rework")
def record_rework(call: OperatorCall) -> dict[str, Any]:
    previous = call.data.get("rework")
    count = int(previous.get("rework_count", 0)) if isinstance(previous, dict) else 0
    return {"rework_count": count + 1}


@operators.simulation("case.summon_units")
def summon_units(call: OperatorCall) -> list[dict[str, Any]]:
    units = call.params.get("units")
    if not isinstance(units, list) or not units or not all(isinstance(u, str) for u in units):
        raise ValueError("summon_units: give at least one unit code")
    known = set(
        db.session.execute(select(Unit.code).where(Unit.code.in_(units), Unit.active.is_(True))).scalars()
    )
    unknown = [u for u in units if u not in known]
    if unknown:
        raise ValueError(f"summon_units: no active unit with code {', '.join(map(repr, unknown))}")
    level = _level(call.params["level"])
    due_at = report_in_due(now(), str(call.params["report_in_limit"])).isoformat()
    return [{"unit": unit, "level": level, "report_in_due": due_at} for unit in units]


def _summoned(call: OperatorCall) -> dict[str, Any]:
    entry = call.params.get("summoned")
    if not isinstance(entry, dict) or not isinstance(entry.get("unit"), str):
        raise ValueError("expected one entry of case.summon_units' result as parameter 'summoned'")
    return entry


@operators.simulation("case.record_report_in")
def record_report_in(call: OperatorCall) -> dict[str, Any]:
    return {**_summoned(call), "status": "reported"}


@operators.simulation("case.report_in_missed")
def report_in_missed(call: OperatorCall) -> dict[str, Any]:
    return {**_summoned(call), "status": "missed"}


@operators.simulation("case.hand_over")
def hand_over(call: OperatorCall) -> dict[str, Any]:
    username = call.params.get("user") or None
    unit = call.params.get("unit") or None
    if username and unit:
        raise InvalidInput(
            "hand over to a user or to a unit, not both", {"handover_unit": "a user or a unit"}
        )
    if username:
        _active_user(username, "handover_user")
    outcome = str(call.params.get("outcome") or "returned")
    after = (
        {"handler_user": username, "handler_unit": unit} if (username or unit) else _handler_now(call.data)
    )
    return {"outcome": outcome, **after}


@operators.simulation("case.refer_to_supervisor")
def refer_to_supervisor(call: OperatorCall) -> dict[str, Any]:
    return {"outcome": "supervise", "reason": str(call.params.get("reason") or "referred")}
