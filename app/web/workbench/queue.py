"""The workbench queue: the open triage (受理立案) and dispatch (派遣) tasks the dispatcher may work on, with
filters from the query string, the report's age, sorting, pagination, and "next task".

Which tasks: the task inbox's own rule (``app.tasks.services.inbox_query`` scope ``all``: the tasks they
hold, and the ready ones offered to them within their grid scope), narrowed to the two forms this page
works. Filters: category (a class or sub-class code: its prefix), grid (a subtree), severity, the
reporter's channel, and the stage. Sorts: ``severity`` (most urgent first, then the oldest report; the
default) or ``age`` (the oldest report first). A malformed filter is refused naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import Select, select

from app.auth.models import User
from app.cases.models import SOURCE_CHANNELS, Case
from app.cases.services import severity_rank
from app.clock import as_utc, now
from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.grids.codes import code_problem
from app.grids.models import Grid
from app.grids.scope import in_subtrees
from app.http import MAX_PAGE_SIZE, paginate
from app.inputs import BoundedInt
from app.tasks import services as tasks
from app.timelimits.calendar import SEVERITIES
from app.workflow.models import HumanTask, TaskStatus

# The two steps this page works, by the form their tasks carry (bpmn/case_handling.bpmn).
STAGE_FORMS = {"triage": "triage.schema.json", "dispatch": "dispatch.schema.json"}
FORM_STAGES = {form: stage for stage, form in STAGE_FORMS.items()}
SORTS = ("severity", "age")
DEFAULT_PAGE_SIZE = 20
# "Next task" tries this many of the first ready tasks: another dispatcher may take one meanwhile.
NEXT_TASK_TRIES = 5


class QueueArgs(Schema):
    category = fields.Str(
        validate=validate.Regexp(
            r"^[EP](\d{2}){0,2}$", error="expected a category code or its prefix, e.g. E01"
        )
    )
    grid = fields.Str()
    severity = fields.Str(validate=validate.OneOf(SEVERITIES))
    channel = fields.Str(validate=validate.OneOf(SOURCE_CHANNELS))
    stage = fields.Str(validate=validate.OneOf(tuple(STAGE_FORMS)))
    sort = fields.Str(load_default="severity", validate=validate.OneOf(SORTS))
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=DEFAULT_PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))

    @validates_schema
    def _grid(self, data: dict[str, Any], **_: Any) -> None:
        grid = data.get("grid")
        if grid is not None and (problem := code_problem(grid)) is not None:
            raise ValidationError(problem, "grid")


@dataclass(frozen=True)
class QueueQuery:
    category: str | None = None
    grid: str | None = None
    severity: str | None = None
    channel: str | None = None
    stage: str | None = None
    sort: str = "severity"
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    def as_args(self, **changes: Any) -> dict[str, Any]:
        """This query as query-string arguments (defaults left out), with ``changes`` applied."""
        values: dict[str, Any] = {
            "category": self.category,
            "grid": self.grid,
            "severity": self.severity,
            "channel": self.channel,
            "stage": self.stage,
            "sort": self.sort if self.sort != "severity" else None,
            "page": self.page if self.page != 1 else None,
            "page_size": self.page_size if self.page_size != DEFAULT_PAGE_SIZE else None,
        }
        values.update(changes)
        return {name: value for name, value in values.items() if value is not None}


def parse_args(raw: dict[str, str]) -> QueueQuery:
    """The query of a query string; empty values (an untouched select) mean no filter."""
    given = {name: value.strip() for name, value in raw.items() if value and value.strip()}
    try:
        loaded = QueueArgs().load(given, unknown="exclude")
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        details = {
            str(name): " ".join(map(str, value if isinstance(value, list) else [value]))
            for name, value in messages.items()
        }
        raise InvalidInput(f"invalid filter: {', '.join(sorted(details))}", details) from exc
    if (
        loaded.get("grid")
        and db.session.execute(select(Grid.id).where(Grid.code == loaded["grid"])).first() is None
    ):
        raise InvalidInput("invalid filter: grid", {"grid": f"no grid with code {loaded['grid']}"})
    return QueueQuery(**loaded)


def queue_statement(user: User, query: QueueQuery) -> Select[Any]:
    """The user's open triage and dispatch tasks (of cases) matching ``query``, in its order."""
    forms = [STAGE_FORMS[query.stage]] if query.stage else list(STAGE_FORMS.values())
    statement = (
        tasks.inbox_query(user, "all")
        .where(HumanTask.form_key.in_(forms), HumanTask.case_id.is_not(None))
        .order_by(None)
    )
    if query.category:
        statement = statement.where(Case.category_code.startswith(query.category))
    if query.grid:
        statement = statement.where(in_subtrees(Case.grid_code, (query.grid,)))
    if query.severity:
        statement = statement.where(Case.severity == query.severity)
    if query.channel:
        statement = statement.where(Case.source_channel == query.channel)
    if query.sort == "age":
        return statement.order_by(Case.created_at, HumanTask.id)
    return statement.order_by(severity_rank(), Case.created_at, HumanTask.id)


@dataclass(frozen=True)
class QueueRow:
    task: HumanTask
    case: Case
    stage: str
    age: timedelta  # since the report
    mine: bool  # claimed by the user (else ready to take)


def search(user: User, query: QueueQuery) -> dict[str, Any]:
    """One page of the queue: ``app.http.paginate``'s envelope whose ``items`` are ``QueueRow``s."""
    page = paginate(queue_statement(user, query), query.page, query.page_size)
    task_list: list[HumanTask] = page["items"]
    ids = {task.case_id for task in task_list if task.case_id is not None}
    by_id = (
        {c.id: c for c in db.session.execute(select(Case).where(Case.id.in_(ids))).scalars()} if ids else {}
    )
    moment = now()
    page["items"] = [
        QueueRow(
            task=task,
            case=by_id[task.case_id],
            stage=FORM_STAGES[task.form_key or ""],
            age=moment - as_utc(by_id[task.case_id].created_at),
            mine=task.status == TaskStatus.CLAIMED and task.assignee_id == user.id,
        )
        for task in task_list
        if task.case_id in by_id
    ]
    return page


def take_next(user: User, query: QueueQuery) -> HumanTask | None:
    """Claim the first ready task of the queue (its order: the most urgent or the oldest) for ``user``:
    None when there is none. A task another dispatcher takes meanwhile is skipped."""
    ready = queue_statement(user, query).where(HumanTask.status == TaskStatus.READY)
    for task_id in db.session.execute(ready.with_only_columns(HumanTask.id).limit(NEXT_TASK_TRIES)).scalars():
        try:
            return tasks.claim(user, task_id)
        except Conflict:
            continue
    return None
