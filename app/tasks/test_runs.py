"""Test runs (试运行): a designer runs any version of a process (a draft or not) from the studio, with test
data, completes its tasks as any role, and moves a simulated clock to fire its timers.

What keeps a test run away from real work (see also ``docs/testrun.md``):

- its instance is marked ``is_test`` and has no case; its tasks are offered to nobody (``TEST_RUN_GROUP``),
  so no inbox, queue or task page shows them; only the run's page completes them;
- its service tasks run the operators' simulations (``app.workflow.operators.simulation``), which write
  nothing: no case, KPI, notification or outbox job comes out of a test run;
- its clock is the run's own (``TestRun.clock_at``): every step of the run reads it, and the scheduler never
  fires a test instance's timer on the real clock (``instances.due_instance_ids``/``fire_due_timers``), so
  a timer fires only when the designer advances the run's clock past it.

Designers and admins only (403 for every other role); a designer sees and acts on their own runs.
Everything here runs in the caller's transaction; the caller commits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app import runtime
from app.audit.services import record
from app.auth.models import User
from app.auth.roles import DESIGNERS, Role
from app.clock import FrozenClock, as_utc, now
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.tasks import services as tasks
from app.workflow import form_versions, instances, operations
from app.workflow.forms import FormNotFound, FormValidationError
from app.workflow.models import HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance, TaskStatus
from app.workflow.test_run_models import TestRun

STARTED_ACTION = "testrun.started"
CLOCK_ACTION = "testrun.clock_advanced"
DELETED_ACTION = "testrun.deleted"

# How far one advance may move the clock, and how many timers it may fire (a cycle timer of PT1M
# advanced by a year would otherwise run the instance half a million times in one request).
MAX_ADVANCE = timedelta(days=366)
MAX_FIRINGS = 200
TIMER_RESOLUTION = timedelta(microseconds=1)


def require_designer(user: User) -> User:
    if user.role not in DESIGNERS:
        raise Forbidden("只有流程设计员和系统管理员可以试运行流程", {"role": "需要 designer 或 admin 角色"})
    return user


def run_of(user: User, run_id: int) -> TestRun:
    """The run ``user`` may see and act on: 404 when absent or deleted, 403 when another designer's."""
    require_designer(user)
    run = db.session.get(TestRun, run_id)
    if run is None or run.deleted_at is not None:
        raise NotFound(f"试运行 {run_id} 不存在")
    if run.started_by_id != user.id and user.role != Role.ADMIN:
        raise Forbidden("这是其他设计员的试运行", {"test_run": "只有发起人和系统管理员可以查看"})
    return run


def runs_of(user: User) -> list[TestRun]:
    """The designer's test runs, newest first (deleted ones left out)."""
    require_designer(user)
    return list(
        db.session.execute(
            select(TestRun)
            .where(TestRun.started_by_id == user.id, TestRun.deleted_at.is_(None))
            .order_by(TestRun.id.desc())
        ).scalars()
    )


def bpmn_version(key: str, version: int) -> ProcessDefinition:
    definition = db.session.execute(
        select(ProcessDefinition).where(
            ProcessDefinition.key == key,
            ProcessDefinition.version == version,
            ProcessDefinition.kind == "bpmn",
        )
    ).scalar_one_or_none()
    if definition is None:
        raise NotFound(f"流程 '{key}' 没有 BPMN 版本 {version}")
    return definition


# -- test data --------------------------------------------------------------------------------------

VARIABLE_NAME = operations.VARIABLE_NAME


def start_form_name(definition: ProcessDefinition) -> str | None:
    declared = definition.start_form or {}
    form = declared.get("form")
    return form if isinstance(form, str) and form else None


def start_form_schema(definition: ProcessDefinition) -> tasks.TaskForm | None:
    """The version's start form as it froze it (the file's, when it froze none); None without one."""
    name = start_form_name(definition)
    if name is None:
        return None
    frozen = form_versions.version_id(definition.id, name)
    if frozen is not None:
        form = form_versions.frozen_form(frozen)
        return tasks.TaskForm(form.schema, form.ui_schema)
    try:
        return tasks.TaskForm(tasks.forms().load(name), tasks.forms().ui_schema(name))
    except FormNotFound as exc:
        raise Conflict(str(exc), {"form": name}) from exc


def parse_variables(text: Any) -> dict[str, Any]:
    """The test data typed as a JSON object (a process without a start form): each problem names the field
    ``variables``, in zh-CN then English."""
    if not isinstance(text, str):
        raise InvalidInput("variables: expected JSON text", {"variables": "需要 JSON 文本"})
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"第 {exc.lineno} 行第 {exc.colno} 列"
        raise InvalidInput(
            f"variables: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            {"variables": f"不是合法的 JSON：{where}（{exc.msg}）"},
        ) from exc
    if not isinstance(value, dict):
        raise InvalidInput(
            "variables: expected a JSON object",
            {"variables": '需要 JSON 对象，例如 {"severity": "red"}'},
        )
    bad = [name for name in value if not VARIABLE_NAME.fullmatch(name)]
    if bad:
        names = ", ".join(repr(name) for name in bad)
        raise InvalidInput(
            f"variables: bad variable names {names}",
            {"variables": f"变量名不合法：{names}（字母开头，仅字母、数字、下划线）"},
        )
    return value


def start_variables(definition: ProcessDefinition, data: Any, variables_json: Any) -> dict[str, Any]:
    """The start variables of a test instance: the start form's data validated as a start does
    (``tasks.FormDataInvalid`` field by field), else the JSON object typed by the designer."""
    form = start_form_schema(definition)
    if form is None:
        return parse_variables(variables_json)
    if not isinstance(data, dict):
        raise InvalidInput("form data must be a JSON object", {"data": "expected an object"})
    try:
        return tasks.forms().validate_document(
            form.schema,
            data,
            case_id=None,
            refs=tasks.DatabaseFormReferences(),
            name=start_form_name(definition),
            test_run=True,
        )
    except FormValidationError as exc:
        raise tasks.FormDataInvalid(str(exc), exc.field_errors) from exc


# -- actions ----------------------------------------------------------------------------------------


def _clock_of(run: TestRun) -> FrozenClock:
    return FrozenClock(as_utc(run.clock_at))


def start(user: User, definition: ProcessDefinition, data: Any = None, variables_json: Any = None) -> TestRun:
    """Start a test instance of ``definition`` with the designer's test data. Bad data: 422 naming the
    fields, and nothing is written."""
    require_designer(user)
    variables = start_variables(definition, data, variables_json)
    if start_form_name(definition) is not None:
        variables = {**variables, "started_by": user.username, "grid_code": variables.get("grid_code")}
    started_at = now()
    with runtime.simulated_clock(FrozenClock(started_at)):
        outcome = instances.start_test_instance(definition, variables, user)
    run = TestRun(
        instance_id=outcome.instance.id,
        definition_id=definition.id,
        started_by_id=user.id,
        started_at=started_at,
        clock_at=started_at,
        test_data=variables,
    )
    db.session.add(run)
    db.session.flush()
    record(
        STARTED_ACTION,
        entity_type="process_instance",
        entity_id=outcome.instance.id,
        actor=user,
        instance_id=outcome.instance.id,
        data={
            "test_run": run.id,
            "process_key": definition.key,
            "version": definition.version,
            "variables": variables,
        },
    )
    return run


def open_tasks(run: TestRun) -> list[HumanTask]:
    return list(
        db.session.execute(
            select(HumanTask)
            .where(HumanTask.instance_id == run.instance_id, HumanTask.status.in_(TaskStatus.OPEN))
            .order_by(HumanTask.id)
        ).scalars()
    )


def complete_task(user: User, run_id: int, task_id: int, data: Any) -> instances.StepOutcome:
    """Complete a ready task of the run as the designer, whatever role it is for, validated against its
    form as on ``/m/`` (``tasks.FormDataInvalid`` field by field; nothing is written then)."""
    run = run_of(user, run_id)
    instance = instances.lock_instance(run.instance_id)
    task = db.session.get(HumanTask, task_id, populate_existing=True)
    if task is None or task.instance_id != instance.id:
        raise NotFound(f"试运行 {run_id} 没有任务 {task_id}")
    clean = tasks.validated_data(task, data, test_run=True)
    with runtime.simulated_clock(_clock_of(run)):
        return instances.complete_task(task, clean, user, instance, open_tasks(run))


_DURATION_WORDS = {
    "分钟": "minutes",
    "分": "minutes",
    "min": "minutes",
    "m": "minutes",
    "小时": "hours",
    "时": "hours",
    "h": "hours",
    "天": "days",
    "日": "days",
    "d": "days",
    "周": "weeks",
    "星期": "weeks",
    "w": "weeks",
}
_PLAIN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(分钟|分|min|m|小时|时|h|天|日|d|周|星期|w)\s*$", re.IGNORECASE)
_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


def parse_duration(text: Any) -> timedelta:
    """ "PT2H", "P1D", "P1DT12H", "2 小时", "1 天", "30 分钟", "2h", "1d": how far to move the clock."""
    value = str(text or "").strip()
    delta: timedelta | None = None
    plain = _PLAIN.match(value)
    if plain:
        delta = timedelta(**{_DURATION_WORDS[plain.group(2).lower()]: float(plain.group(1))})
    else:
        iso = _ISO.match(value)
        if iso and value.upper() not in ("P", "PT") and not value.upper().endswith("T"):
            delta = timedelta(**{unit: float(amount) for unit, amount in iso.groupdict().items() if amount})
    if delta is None:
        raise InvalidInput(
            f"duration: cannot read {value!r}",
            {"duration": "请填写时长，例如 PT2H、P1D、2 小时、1 天"},
        )
    if delta <= timedelta(0) or delta > MAX_ADVANCE:
        raise InvalidInput(
            f"duration: {value!r} is not between a second and {MAX_ADVANCE.days} days",
            {"duration": f"时长须大于 0 且不超过 {MAX_ADVANCE.days} 天"},
        )
    return delta


@dataclass(frozen=True)
class Advanced:
    clock_at: Any
    timers_fired: int


def advance_clock(user: User, run_id: int, duration: Any) -> Advanced:
    """Move the run's simulated clock forward by ``duration``; the run's timers due by then fire in the order
    they fall due, each at its own due time on the simulated clock. Real instances and the real clock are
    untouched."""
    run = run_of(user, run_id)
    delta = parse_duration(duration)
    instance = instances.lock_instance(run.instance_id)
    start_at = as_utc(run.clock_at)
    target = start_at + delta
    current, fired = start_at, 0
    while fired < MAX_FIRINGS and instance.status == InstanceStatus.RUNNING and instance.next_timer_at:
        due = as_utc(instance.next_timer_at)
        # A duration timer reached at T is due at T + d + 1 µs (the engine reads the clock a microsecond
        # ahead, app.workflow.timers): "PT2H" after a PT2H timer was reached fires it.
        if due > target + TIMER_RESOLUTION:
            break
        current = max(due, current)
        with runtime.simulated_clock(FrozenClock(current)):
            if instances.fire_due_timers(instance.id) is None:
                break
        fired += 1
    run.clock_at = max(target, current)
    with runtime.simulated_clock(_clock_of(run)):  # logged at the run's new now, after what it fired
        _record_clock_move(user, run, instance.id, str(duration).strip(), start_at, fired)
    return Advanced(as_utc(run.clock_at), fired)


def _record_clock_move(
    user: User, run: TestRun, instance_id: int, by: str, start_at: Any, fired: int
) -> None:
    record(
        CLOCK_ACTION,
        entity_type="process_instance",
        entity_id=instance_id,
        actor=user,
        instance_id=instance_id,
        data={
            "test_run": run.id,
            "by": by,
            "from": start_at.isoformat(),
            "to": as_utc(run.clock_at).isoformat(),
            "timers_fired": fired,
        },
    )


def delete(user: User, run_id: int) -> None:
    """Take the run off the designer's list; a running instance is terminated first. Its rows stay: the
    audit trail refers to them."""
    run = run_of(user, run_id)
    instance = db.session.get(ProcessInstance, run.instance_id)
    if instance is not None and instance.status in (
        InstanceStatus.RUNNING,
        InstanceStatus.ERROR,
        InstanceStatus.SUSPENDED,
    ):
        with runtime.simulated_clock(_clock_of(run)):
            operations.terminate(instance.id, user, "试运行已删除 / test run deleted")
    run.deleted_at = now()
    record(
        DELETED_ACTION,
        entity_type="process_instance",
        entity_id=run.instance_id,
        actor=user,
        instance_id=run.instance_id,
        data={"test_run": run.id},
    )
