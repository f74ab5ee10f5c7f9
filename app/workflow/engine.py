"""The SpiffWorkflow adapter: parse diagrams, run engine steps, serialize state. No database here.

The rest of the app sees plain data (``ParsedProcess``, ``ReadyUserTask``, dicts of state) and never a
SpiffWorkflow object.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR as SPIFF_VALIDATOR
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from app import runtime
from app.runtime import RuntimeUnavailable
from app.workflow import (
    check_messages,
    checks,
    history,
    operators,
    parser_problems,
    reuse,
    start_forms,
    timer_start_events,
)
from app.workflow.call_binding import BINDINGS, BoundSubWorkflowConverter, BoundWorkflow, binding_of
from app.workflow.guards import DEFAULT_BUDGET_SECONDS
from app.workflow.sandbox import RestrictedEnvironment
from app.workflow.timers import CLOCK_TIMERS, parse_timer_value


class DeploymentError(ValueError):
    """A diagram that cannot be deployed: names the file, the element and the reason."""

    def __init__(
        self,
        file_name: str,
        element_id: str | None,
        reason: str,
        line: int | None = None,
        *,
        element_name: str | None = None,
        severity: str = "error",
        original: str | None = None,
    ) -> None:
        self.file_name = file_name
        self.original = original  # SpiffWorkflow's own text, when its parser refused the diagram
        self.element_id = element_id
        self.reason = reason
        self.line = line
        self.element_name = element_name
        self.severity = severity
        where = (
            file_name + (f" line {line}" if line else "") + (f" element '{element_id}'" if element_id else "")
        )
        super().__init__(f"{where}: {reason}")

    def as_dict(self) -> dict[str, Any]:
        """``reason`` in English (stable, for tools); ``message`` in the reader's language."""
        return {
            "file": self.file_name,
            "element_id": self.element_id,
            "element_name": self.element_name,
            "line": self.line,
            "severity": self.severity,
            "reason": self.reason,
            "message": check_messages.in_reader_language(self.reason),
            **({"original": self.original} if self.original else {}),
        }


class DeploymentRejected(DeploymentError):
    """Every problem of a diagram at once. Reads as its first problem (``element_id``, ``reason``) for
    callers that show one; ``problems`` lists them all, warnings included."""

    def __init__(self, problems: list[DeploymentError]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        first = errors[0]
        super().__init__(
            first.file_name,
            first.element_id,
            first.reason,
            first.line,
            element_name=first.element_name,
            original=first.original,
        )
        self.problems = problems

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "problems": [p.as_dict() for p in self.problems]}


class EngineError(RuntimeError):
    """An engine step failed (a script raised, an operator refused, an expression broke, a guard stopped it,
    a value could not be stored). ``element_id``: the failing element, when known."""

    def __init__(self, message: str, element_id: str | None = None) -> None:
        self.element_id = element_id
        self.engine: EngineInstance | None = None  # the instance it happened in, when raised by one
        super().__init__(message)

    def failure_state(self) -> str | None:
        """The state to store with the incident (``EngineInstance.failure_state``); None when unknown."""
        return self.engine.failure_state() if self.engine is not None else None


# ---------------------------------------------------------------------------------------------------
# Script engine: sandboxed expressions plus service-task operators


class _OperatorEnvironment(RestrictedEnvironment):
    def call_service(self, context: dict[str, Any], **kwargs: Any) -> str:
        params = {name: spec["value"] for name, spec in kwargs["operation_params"].items()}
        result = operators.invoke(kwargs["operation_name"], context, params)
        return json.dumps(result)


class _ScriptEngine(PythonScriptEngine):
    def call_service(self, task: Any, **kwargs: Any) -> Any:
        # SpiffWorkflow's own version references an undefined name when the service fails.
        try:
            return self.environment.call_service(task.data, **kwargs)
        except SpiffWorkflowException:
            raise
        except Exception as exc:
            raise EngineError(f"{kwargs.get('operation_name')}: {exc}", task.task_spec.bpmn_id) from exc


def _app_now() -> datetime:
    """The current app's clock, asked at each call: timers and scripts' ``now()`` follow the app's clock
    (a test's or the demo walker's) without any process-wide setting."""
    return runtime.clock().now()


DEFAULT_MAX_STEPS_PER_RUN = 100_000
_PRUNE_EVERY_PASSES = 16


def _script_budget() -> float:
    """The app's ENGINE_SCRIPT_BUDGET_SECONDS; the default outside an app made by create_app (tools)."""
    try:
        return runtime.settings().engine_script_budget_seconds
    except RuntimeUnavailable:
        return DEFAULT_BUDGET_SECONDS


def _max_steps_per_run() -> int:
    try:
        return runtime.settings().engine_max_steps_per_run
    except RuntimeUnavailable:
        return DEFAULT_MAX_STEPS_PER_RUN


def _check_storable(name: str, value: Any) -> None:
    """Raise when ``value`` would make the state unstorable: what the state serializer does with it."""
    json.dumps(_STATE_REGISTRY.convert(value), cls=_STATE_SERIALIZER._encoder_cls)


SCRIPT_ENGINE = _ScriptEngine(
    environment=_OperatorEnvironment(clock=_app_now, budget=_script_budget, check_value=_check_storable)
)


# ---------------------------------------------------------------------------------------------------
# Serialization: instance state is stored without its spec (the spec is stored once per version)


class _StateConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        if getattr(workflow, "bound_calls", None):  # callees bound at their call's start (call_binding)
            dct["bound_calls"] = dict(workflow.bound_calls)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        spec, subprocess_specs = _restoring.specs
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        for call_task_id, definition_id in dct.pop("bound_calls", {}).items():
            workflow.bind(call_task_id, definition_id)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_restoring = threading.local()
_SPEC_REGISTRY = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
for _timer_class, _typename in CLOCK_TIMERS.items():  # stored specs restore to the clock-reading timers
    TimerConditionalEventDefinitionConverter(_timer_class, _SPEC_REGISTRY, _typename)
_STATE_REGISTRY = BpmnWorkflowSerializer.configure(
    {**SPIFF_CONFIG, BpmnWorkflow: _StateConverter, BpmnSubWorkflow: BoundSubWorkflowConverter}
)
_StateConverter(BoundWorkflow, _STATE_REGISTRY, "BpmnWorkflow")  # states stored before keep restoring
_STATE_SERIALIZER = BpmnWorkflowSerializer(_STATE_REGISTRY)


@dataclass(frozen=True)
class LoadedSpec:
    """A deployed process, restored once and shared by every instance of that version."""

    spec: Any
    subprocess_specs: dict[str, Any]


class SpecCache:
    """Deployed specs, restored once and shared by every instance of a version (they are immutable).

    One cache per app (``runtime.spec_cache()``): a definition id is unique only within one
    database, and two apps in one process (tests, tools) may use two databases whose ids overlap.
    """

    def __init__(self) -> None:
        self._specs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, cache_key: str) -> LoadedSpec | None:
        found: LoadedSpec | None = self._specs.get(cache_key)
        return found

    def remember(self, cache_key: str, build: Callable[[], Any]) -> Any:
        """``build()`` once per key: what is derived from immutable versions (a DMN version's tables too).
        ``build`` must not call back into this cache (the lock is not reentrant)."""
        found = self._specs.get(cache_key)
        if found is None:
            with self._lock:
                found = self._specs.get(cache_key)
                if found is None:
                    found = build()
                    self._specs[cache_key] = found
        return found

    def load(
        self,
        cache_key: str,
        spec_document: dict[str, Any],
        adjust: Callable[[LoadedSpec], None] | None = None,
    ) -> LoadedSpec:
        """Restore a stored spec (``ParsedProcess.spec_document``), cached by ``cache_key``; ``adjust``
        changes the fresh copy before anyone shares it (bound decision tables: app.workflow.decisions)."""

        def restore() -> LoadedSpec:
            spec = _SPEC_REGISTRY.restore(spec_document["spec"])
            subs = {
                name: _SPEC_REGISTRY.restore(sub) for name, sub in spec_document["subprocess_specs"].items()
            }
            loaded = LoadedSpec(spec, subs)
            if adjust is not None:
                adjust(loaded)
            return loaded

        loaded: LoadedSpec = self.remember(cache_key, restore)
        return loaded


# ---------------------------------------------------------------------------------------------------
# Parsing and validation


@dataclass(frozen=True)
class UserTaskInfo:
    element_id: str
    name: str
    lane: str | None
    properties: dict[str, str]


@dataclass(frozen=True)
class ParsedProcess:
    key: str
    name: str
    file_name: str
    spec_document: dict[str, Any]
    user_tasks: list[UserTaskInfo]
    service_operators: dict[str, str]  # element id -> operator name
    start_messages: list[str]
    warnings: list[DeploymentError] = field(default_factory=list)  # reported, not refusing
    start_form: dict[str, Any] | None = None  # what the start event declares for 发起流程 (``start_forms``)


@dataclass
class ValidationRules:
    """Checks that need the app's knowledge: which operators, forms and roles exist."""

    operator_names: set[str]
    form_exists: Any  # Callable[[str], bool]
    known_roles: set[str]
    required_user_task_properties: tuple[str, ...] = ("formJsonSchemaFilename",)
    errors: list[DeploymentError] = field(default_factory=list)


def _xml_root(file_name: str, content: bytes) -> Any:
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        return etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DeploymentError(file_name, None, f"not well-formed XML: {exc.msg}", exc.lineno) from exc


def parse_documents(
    main_file: str, documents: dict[str, bytes], rules: ValidationRules
) -> list[ParsedProcess]:
    """Parse ``main_file`` (with ``documents``: every file it may call, DMN included) and validate it.

    Returns one ``ParsedProcess`` per executable process in ``main_file``. Raises ``DeploymentError``
    naming the file, the element and the reason.
    """
    parser = SpiffBpmnParser(validator=SPIFF_VALIDATOR)
    roots = {}
    for file_name, content in documents.items():
        root = _xml_root(file_name, content)
        roots[file_name] = root
        try:
            if file_name.endswith(".dmn"):
                parser.add_dmn_xml(root, filename=file_name)
            else:
                parser.add_bpmn_xml(root, filename=file_name)
        except SpiffWorkflowException as exc:  # ValidationException included
            raise _parser_refusal(file_name, roots, exc) from exc
    main_root = roots[main_file]
    if main_file.endswith(".dmn"):
        _refuse_if_any(main_file, main_root, [_problem(main_file, f) for f in checks.dmn_findings(main_root)])
        return []
    namespaces = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    process_nodes = main_root.xpath(".//bpmn:process[@isExecutable='true']", namespaces=namespaces)
    if not process_nodes:
        raise DeploymentError(main_file, None, 'no executable process (isExecutable="true") in the file')
    results = []
    problems = _script_language_problems(main_file, main_root, namespaces)
    for node in process_nodes:
        key = node.get("id")
        try:
            spec = parser.get_spec(key)
            subprocess_specs = parser.get_subprocess_specs(key)
        except SpiffWorkflowException as exc:  # ValidationException included
            raise _parser_refusal(main_file, roots, exc, key) from exc
        parsed = _describe_process(
            main_file, key, node.get("name") or key, spec, subprocess_specs, rules, problems
        )
        problems.extend(_problem(main_file, f) for f in parser_problems.default_flow_findings(node))
        for finding in [*checks.message_variable_findings(node), *checks.case_closing_findings(node)]:
            parsed.warnings.append(_problem(main_file, finding))
        problems.extend(_problem(main_file, f) for f in timer_start_events.findings(node))
        start_form, findings = start_forms.read_start_form(node, rules.form_exists, rules.known_roles)
        problems.extend(_problem(main_file, f) for f in findings)
        if start_form is not None:
            parsed = replace(parsed, start_form=start_form.as_dict())
        results.append(parsed)
    _refuse_if_any(main_file, main_root, problems + [w for r in results for w in r.warnings])
    for parsed in results:
        _name_elements(main_root, parsed.warnings)
    return results


def _parser_refusal(
    file_name: str, roots: dict[str, Any], exc: SpiffWorkflowException, process_key: str | None = None
) -> DeploymentRejected:
    """SpiffWorkflow's parser stops at its first problem: that one, on its element and readable, with the
    parser's own text kept (``parser_problems``)."""
    where = getattr(exc, "file_name", None) or file_name
    root = roots.get(where, roots[file_name])
    explained = parser_problems.explain(exc, root)
    problem = DeploymentError(
        where,
        explained.element_id or process_key,
        explained.reason,
        explained.line,
        original=explained.original,
    )
    _name_elements(root, [problem])
    return DeploymentRejected([problem])


def _problem(file_name: str, finding: checks.Finding) -> DeploymentError:
    return DeploymentError(file_name, finding.element_id, finding.reason, severity=finding.severity)


def _name_elements(root: Any, problems: list[DeploymentError]) -> None:
    """Give each problem its element's name: people know their elements by name, not by id."""
    names = {node.get("id"): node.get("name") for node in root.iter() if isinstance(node.tag, str)}
    for problem in problems:
        if problem.element_id and not problem.element_name:
            problem.element_name = names.get(problem.element_id) or problem.element_id


def _refuse_if_any(file_name: str, root: Any, problems: list[DeploymentError]) -> None:
    """Raise every problem at once when one of them is an error (warnings alone do not refuse)."""
    if any(p.severity == "error" for p in problems):
        _name_elements(root, problems)
        raise DeploymentRejected(problems)


def _script_language_problems(file_name: str, root: Any, namespaces: dict[str, str]) -> list[DeploymentError]:
    """Scripts run as Python whatever ``scriptFormat`` says: a JavaScript or Groovy script (a Camunda
    diagram's) could even compile as Python and then fail on the person who takes the next step."""
    problems = []
    for node in root.xpath(".//bpmn:scriptTask[@scriptFormat]", namespaces=namespaces):
        language = node.get("scriptFormat", "").strip().lower()
        if language not in ("python", "python3", "text/x-python"):
            problems.append(
                DeploymentError(
                    file_name,
                    node.get("id"),
                    f"script language '{language}' cannot run: scripts are Python (rewrite it, or import "
                    "the diagram through the Camunda conversion)",
                )
            )
    return problems


def _all_task_specs(spec: Any, subprocess_specs: dict[str, Any]) -> list[Any]:
    found = list(spec.task_specs.values())
    for sub in subprocess_specs.values():
        found.extend(sub.task_specs.values())
    return found


def _describe_process(
    file_name: str,
    key: str,
    name: str,
    spec: Any,
    subprocess_specs: dict[str, Any],
    rules: ValidationRules,
    problems: list[DeploymentError],
) -> ParsedProcess:
    """The process's deployable description; every problem found is appended to ``problems``."""
    user_tasks: list[UserTaskInfo] = []
    service_operators: dict[str, str] = {}
    start_messages: list[str] = []
    own_starts = {id(s) for s in spec.start.outputs}  # a timer of one is a timer start (timer_start_events)
    for task_spec in _all_task_specs(spec, subprocess_specs):
        element_id = getattr(task_spec, "bpmn_id", None)
        if element_id is None:
            continue
        findings = checks.expression_findings(task_spec, timers=id(task_spec) not in own_starts)
        problems.extend(_problem(file_name, f) for f in findings)
        kind = type(task_spec).__name__
        if kind == "UserTask":
            properties = dict(task_spec.extensions.get("properties", {}))
            for required in rules.required_user_task_properties:
                if not properties.get(required):
                    problems.append(
                        DeploymentError(file_name, element_id, f"user task has no '{required}' property")
                    )
            form = properties.get("formJsonSchemaFilename")
            if form and not rules.form_exists(form):
                problems.append(
                    DeploymentError(file_name, element_id, f"form '{form}' does not exist in forms/")
                )
            roles = {r.strip() for r in properties.get("candidateRoles", "").split(",") if r.strip()}
            unknown = roles - rules.known_roles
            if unknown:
                problems.append(
                    DeploymentError(
                        file_name, element_id, f"unknown role(s) in candidateRoles: {sorted(unknown)}"
                    )
                )
            if not roles:
                problems.append(
                    DeploymentError(file_name, element_id, "user task has no 'candidateRoles' property")
                )
            user_tasks.append(
                UserTaskInfo(element_id, task_spec.bpmn_name or element_id, task_spec.lane, properties)
            )
        if kind == "CallActivity" and binding_of(task_spec) not in BINDINGS:
            problems.append(
                DeploymentError(
                    file_name,
                    element_id,
                    f"calledElementBinding '{binding_of(task_spec)}' is not one of: {', '.join(BINDINGS)}",
                )
            )
        operation = getattr(task_spec, "operation_name", None)
        if operation is not None:
            if operation not in rules.operator_names:
                problems.append(
                    DeploymentError(file_name, element_id, f"unknown service-task operator '{operation}'")
                )
            service_operators[element_id] = operation
        if isinstance(task_spec, StartEvent) and isinstance(
            getattr(task_spec, "event_definition", None), MessageEventDefinition
        ):
            start_messages.append(task_spec.event_definition.name)
    spec_document = {
        "spec": _SPEC_REGISTRY.convert(spec),
        "subprocess_specs": {n: _SPEC_REGISTRY.convert(s) for n, s in subprocess_specs.items()},
    }
    return ParsedProcess(key, name, file_name, spec_document, user_tasks, service_operators, start_messages)


# ---------------------------------------------------------------------------------------------------
# Running instances


@dataclass(frozen=True)
class FailedElement:
    """The element a failed step stopped at: its id and its name (the id when it has none)."""

    element_id: str | None
    name: str | None


@dataclass(frozen=True)
class ReadyUserTask:
    task_id: str
    element_id: str
    name: str
    lane: str | None
    properties: dict[str, str]
    # The callee version bound at its call's start this task runs in (call_binding); None: the instance's.
    definition_id: int | None = None


class EngineInstance:
    """One running workflow. Create with ``start`` or ``restore``; persist ``dump()``."""

    def __init__(self, workflow: BpmnWorkflow) -> None:
        self._workflow = workflow
        self._reusable = False  # set by dump(): this object equals a restore of the state just dumped

    @classmethod
    def start(cls, loaded: LoadedSpec, variables: dict[str, Any]) -> EngineInstance:
        workflow = BoundWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=SCRIPT_ENGINE)
        # Variables go on the start task so every path inherits them.
        start_task = workflow.task_tree
        start_task.data.update(variables)
        for child in start_task.children:
            child.data.update(variables)
        return cls(workflow)

    @classmethod
    def restore(cls, loaded: LoadedSpec, state: str) -> EngineInstance:
        _restoring.specs = (loaded.spec, loaded.subprocess_specs)
        try:
            workflow = _STATE_SERIALIZER.deserialize_json(state)
        finally:
            _restoring.specs = None
        workflow.script_engine = SCRIPT_ENGINE
        return cls(workflow)

    def dump(self, reuse_after: bool = True) -> str:
        """The state to persist. Also makes this object equal to a restore of it when it can (``reuse``),
        unless ``reuse_after`` is False (the object is dropped after: that costs a parse of the state).

        A value in task data that cannot be stored (scripts are checked as they finish; this catches what
        else could leave one) is an EngineError at the element whose data holds it.
        """
        try:
            if reuse_after:
                state, self._reusable = reuse.serialize(_STATE_SERIALIZER, self._workflow)
            else:
                state, self._reusable = str(_STATE_SERIALIZER.serialize_json(self._workflow)), False
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            self._reusable = False
            raise EngineError(
                f"the process state cannot be stored: {type(exc).__name__}: {exc}", self._unstorable_element()
            ) from exc
        return state

    def failure_state(self) -> str | None:
        """The state to store with an incident: what SpiffWorkflow left after the failure (the work before the
        failing element kept, the failing task in ERROR); None when even that cannot be stored."""
        self._reusable = False
        try:
            return str(_STATE_SERIALIZER.serialize_json(self._workflow))
        except (TypeError, ValueError, OverflowError, RecursionError):
            return None

    def _unstorable_element(self) -> str | None:
        """The element of the most recently changed task whose data cannot be stored."""
        workflows = [self._workflow, *self._workflow.subprocesses.values()]
        tasks = [t for wf in workflows for t in wf.tasks.values()]
        tasks.sort(key=lambda t: t.last_state_change, reverse=True)
        for task in tasks:
            try:
                _check_storable("data", task.data)
            except (TypeError, ValueError, OverflowError, RecursionError):
                return getattr(task.task_spec, "bpmn_id", None)
        return None

    @property
    def reusable(self) -> bool:
        """Whether this object equals a restore of the state ``dump()`` just returned (see ``reuse``).

        Any later engine step clears it; reading and ``evaluate`` leave it.
        """
        return self._reusable

    # -- stepping --------------------------------------------------------------------------------

    def run(self) -> None:
        """Run engine steps (scripts, gateways, service tasks, due timers) to the next wait state.

        At most ENGINE_MAX_STEPS_PER_RUN steps; finished loop history is pruned as it goes (``history``).
        """
        self._reusable = False
        with self._engine_errors():
            self._workflow.refresh_timers()
            self._engine_steps()
            # Events thrown and caught by nothing in the diagram (a terminate end inside a multi-instance
            # branch, say) wait in the workflow for an embedding application to collect. We have nothing to
            # hand them to; kept, they grew the stored state with every such step and stopped the live
            # workflow from being reused (app/workflow/reuse.py), so each step restored the whole state.
            self._workflow.get_events()

    def _engine_steps(self) -> None:
        """SpiffWorkflow's ``do_engine_steps``, counting steps and pruning loop history between passes."""
        workflow = self._workflow
        limit = _max_steps_per_run()
        steps = 0

        def count(task: Any) -> None:
            nonlocal steps
            steps += 1
            if steps > limit:
                task.error()  # the task that would have run next: a retry runs it again
                raise EngineError(
                    f"the run stopped after {limit} engine steps (ENGINE_MAX_STEPS_PER_RUN); "
                    "is a loop endless? (流程单次运行步数超限)",
                    task.task_spec.bpmn_id,
                )

        passes = 0
        while workflow._do_engine_steps(will_complete_task=count):
            passes += 1
            if passes % _PRUNE_EVERY_PASSES == 0:  # a pass adds a task or so to a loop's depth
                history.prune(workflow)
        workflow.refresh_timers()
        history.prune(workflow)

    @contextmanager
    def _engine_errors(self, element_id: str | None = None) -> Iterator[None]:
        """Whatever a step raises leaves as an EngineError naming the failing element when known."""
        try:
            yield
        except EngineError as exc:
            exc.engine = exc.engine or self
            raise
        except SpiffWorkflowException as exc:
            element = getattr(getattr(exc, "task_spec", None), "bpmn_id", None) or element_id
            error = EngineError(_describe(exc), element)
            error.engine = self
            raise error from exc
        except Exception as exc:  # SpiffWorkflow itself failing on a diagram (a RecursionError, say)
            error = EngineError(f"{type(exc).__name__}: {exc}", element_id or self._error_element())
            error.engine = self
            raise error from exc

    def _error_element(self) -> str | None:
        """The element of a task SpiffWorkflow left in ERROR, if any."""
        workflows = [self._workflow, *self._workflow.subprocesses.values()]
        for wf in workflows:
            for task in wf.tasks.values():
                if task.state == TaskState.ERROR:
                    return getattr(task.task_spec, "bpmn_id", None)
        return None

    def complete_user_task(self, task_id: str, data: dict[str, Any]) -> None:
        self._reusable = False
        task = self._ready_task(task_id)
        task.data.update(data)
        with self._engine_errors(task.task_spec.bpmn_id):
            task.run()
        self.run()

    def pass_start_timer(self, element_id: str) -> None:
        """Let the timer start event ``element_id`` pass now: the scheduler found it due and started this
        instance for it (``timer_starts``). Marked fired before the first run, so the event does not wait
        for its own expression (a cycle would otherwise repeat inside this one instance)."""
        found = [t for t in self._workflow.tasks.values() if t.task_spec.bpmn_id == element_id]
        if not found or not isinstance(
            getattr(found[0].task_spec, "event_definition", None), TimerEventDefinition
        ):
            raise EngineError(f"no timer start event '{element_id}' in this process", element_id)
        self._reusable = False
        for task in found:
            task._set_internal_data(event_fired=True)
            if isinstance(task.task_spec.event_definition, CycleTimerEventDefinition):
                # SpiffWorkflow predicts no path after a cycle (each occurrence adds one as it fires):
                # this instance is one occurrence, so its path is predicted as after any other event.
                task._sync_children(task.task_spec.outputs, TaskState.FUTURE)
                for child in task.children:
                    child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)

    def receive_message(self, name: str, payload: dict[str, Any]) -> bool:
        """Deliver a message; False when nothing in this instance waits for it."""
        event = BpmnEvent(MessageEventDefinition(name), payload=payload)
        waiting = [
            t
            for t in self._workflow.get_tasks(state=TaskState.WAITING)
            if isinstance(t.task_spec, CatchingEvent)
            and getattr(t.task_spec.event_definition, "name", None) == name
        ]
        if not waiting:
            return False
        self._reusable = False
        with self._engine_errors():
            self._workflow.catch(event)
        self.run()
        return True

    # -- failures (incidents) ----------------------------------------------------------------------

    def mark_failed(self, element_id: str | None) -> FailedElement:
        """After a failed step: the failing task in ``TaskState.ERROR``, and which element it is.

        SpiffWorkflow marks a task that raised while running (a script, a gateway, a service task); a task
        that failed while it was being looked at (a timer's expression, checked while it waits) it leaves as
        it was: that one is marked here (``_fail``)."""
        self._reusable = False
        failed = self._tasks_in(TaskState.ERROR)
        if not failed and element_id is not None:
            active = TaskState.READY | TaskState.WAITING | TaskState.STARTED
            failed = [t for t in self._tasks_in(active) if t.task_spec.bpmn_id == element_id][:1]
            for task in failed:
                _fail(task)
        if not failed:
            return FailedElement(element_id, None)
        return _failed_element(next((t for t in failed if t.task_spec.bpmn_id == element_id), failed[0]))

    def mark_task_failed(self, task_id: str) -> FailedElement:
        """Mark one ready task failed (a person's task whose candidate or due time cannot be evaluated)."""
        self._reusable = False
        task = self._workflow.get_task_from_id(UUID(task_id))
        _fail(task)
        return _failed_element(task)

    def retry_failed(self) -> int:
        """Put every task in ERROR back and run on: one SpiffWorkflow failed while running is READY again (a
        person's task runs again with the data it has); one marked here goes back to the state it was in
        (a timer waits again, a person's task is offered again). Returns how many."""
        self._reusable = False
        failed = self._tasks_in(TaskState.ERROR)
        rerun = []
        for task in failed:
            previous = task.internal_data.pop("failed_in_state", None)
            task._set_state(TaskState.READY if previous is None else previous)
            if previous is None and task.task_spec.manual:
                rerun.append(task)
        for task in rerun:
            try:
                task.run()
            except SpiffWorkflowException as exc:
                raise EngineError(_first_line(exc), task.task_spec.bpmn_id) from exc
        self.run()
        return len(failed)

    @property
    def stuck(self) -> bool:
        """Not completed, yet nothing to do and nothing to wait for: no task ready (a person's or the
        engine's), none waiting (a timer, a message, a join), none running outside a sub-process."""
        if self._workflow.completed:
            return False
        alive = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
        containers = self._workflow.subprocesses  # a sub-process's task is STARTED while its tasks run
        return not any(t.state != TaskState.STARTED or t.id not in containers for t in self._tasks_in(alive))

    def _tasks_in(self, states: int) -> list[Any]:
        """Every task in ``states``, sub-processes included, from the flat task maps: SpiffWorkflow's tree
        iterator stops at a depth of 1000 and would miss the tasks of a long loop."""
        workflows = [self._workflow, *self._workflow.subprocesses.values()]
        return [task for wf in workflows for task in wf.tasks.values() if task.state & states]

    # -- reading ---------------------------------------------------------------------------------

    def _ready_task(self, task_id: str) -> Any:
        try:
            task = self._workflow.get_task_from_id(UUID(task_id))
        except Exception as exc:
            raise EngineError(f"no task {task_id} in this instance") from exc
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise EngineError(f"task {task_id} is not waiting for a person")
        return task

    def ready_user_tasks(self) -> list[ReadyUserTask]:
        tasks = []
        for task in self._workflow.get_tasks(state=TaskState.READY, manual=True):
            spec = task.task_spec
            tasks.append(
                ReadyUserTask(
                    task_id=str(task.id),
                    element_id=spec.bpmn_id,
                    name=spec.bpmn_name or spec.bpmn_id,
                    lane=spec.lane,
                    properties=dict((getattr(spec, "extensions", None) or {}).get("properties", {})),
                    definition_id=self._workflow.bound_definition_of(task.workflow),
                )
            )
        return tasks

    def task_data(self, task_id: str) -> dict[str, Any]:
        task = self._workflow.get_task_from_id(UUID(task_id))
        return dict(task.data)

    def evaluate(self, task_id: str, expression: str) -> Any:
        """Evaluate ``expression`` on the task's data. On a copy once the state is dumped and this object is
        to be reused: an expression changing a list in place must not change what the next step sees."""
        task = self._workflow.get_task_from_id(UUID(task_id))
        data = task.data
        if self._reusable:
            task.data = _copy_json(data)
        try:
            with self._engine_errors(task.task_spec.bpmn_id):
                return SCRIPT_ENGINE.evaluate(task, expression)
        finally:
            task.data = data

    def has_completed(self, element_id: str) -> bool:
        """Whether a task of ``element_id`` has completed in this instance (sub-processes included)."""
        workflows = [self._workflow, *self._workflow.subprocesses.values()]
        return element_id in history.completed_history(self._workflow) or any(
            task.task_spec.bpmn_id == element_id
            for wf in workflows
            for task in wf.get_tasks(state=TaskState.COMPLETED)
        )

    def next_timer_at(self) -> datetime | None:
        """The earliest due time among the timers this instance waits on."""
        due: list[datetime] = []
        for task in self._workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if not isinstance(definition, TimerEventDefinition):
                continue
            value = definition.details(task).value
            if isinstance(value, str):
                due.append(parse_timer_value(value))
        return min(due) if due else None

    def move_timers(self, element_ids: set[str], move: Callable[[datetime], datetime]) -> dict[str, datetime]:
        """Give the waiting date timers of ``element_ids`` a new due time, ``move(old due)``: a time limit
        extended while it runs. Fired timers stay fired. Returns the new due time of each timer moved."""
        moved: dict[str, datetime] = {}
        for task in self._workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if not isinstance(definition, TimerEventDefinition) or task.task_spec.bpmn_id not in element_ids:
                continue
            value = definition.details(task).value
            if not isinstance(value, str) or task._get_internal_data("event_fired", False):
                continue
            due = move(parse_timer_value(value))
            task._set_internal_data(event_value=due.isoformat())
            moved[task.task_spec.bpmn_id] = due
        return moved

    @property
    def completed(self) -> bool:
        return bool(self._workflow.completed)

    @property
    def data(self) -> dict[str, Any]:
        return dict(self._workflow.data)

    def element_ids(self) -> tuple[list[str], list[str]]:
        """(active, completed) BPMN element ids, to highlight a diagram."""
        active: set[str] = set()
        done: set[str] = set(history.completed_history(self._workflow))  # pruned loop rounds
        workflows = [self._workflow, *self._workflow.subprocesses.values()]
        for wf in workflows:
            for task in wf.get_tasks():
                element_id = getattr(task.task_spec, "bpmn_id", None)
                if element_id is None:
                    continue
                if task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR):
                    active.add(element_id)
                elif task.state == TaskState.COMPLETED:
                    done.add(element_id)
        return sorted(active), sorted(done - active)


def _fail(task: Any) -> None:
    """Mark ``task`` failed, remembering the state it was in for a retry."""
    task._set_internal_data(failed_in_state=task.state)
    task._set_state(TaskState.ERROR)


def _failed_element(task: Any) -> FailedElement:
    spec = task.task_spec
    return FailedElement(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id)


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON data (what a reusable workflow's data is): faster than ``copy.deepcopy``."""
    if type(value) is dict:
        return {k: _copy_json(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy_json(v) for v in value]
    return value


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n")[0] or type(exc).__name__


def _describe(exc: SpiffWorkflowException) -> str:
    """The first line of SpiffWorkflow's message, with the designer-code error it wraps when it hides it
    (``Error evaluating expression 'x'`` alone does not say the budget ran out)."""
    message = _first_line(exc)
    cause = getattr(exc, "exception", None) or exc.__cause__
    if isinstance(cause, Exception) and not isinstance(cause, SpiffWorkflowException):
        detail = _first_line(cause)
        if detail not in message:
            message = f"{message}: {type(cause).__name__}: {detail}"
    return message
