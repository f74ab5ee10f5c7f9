"""RestrictedPython sandbox for BPMN script tasks and gateway conditions (流程脚本沙箱).

Process designers write Python in script tasks and in gateway / sequence-flow conditions. That code
runs in :class:`RestrictedEnvironment`, a SpiffWorkflow ``TaskDataEnvironment`` that compiles every
script with RestrictedPython and runs it with a curated set of builtins and guards:

* no ``import`` / ``from ... import`` and no ``class`` statements (rejected at compile time);
* no names or attributes starting with ``_`` (so no ``__class__``, ``__dict__``, ``__subclasses__``...);
* no ``exec`` / ``eval`` calls (compile time), and ``open``, ``compile``, ``globals``, ``locals``,
  ``vars``, ``getattr``, ``hasattr``, ``type``, ``dir``, ``input``, ``object``, ``super`` ... are
  stubs that raise :class:`SandboxError` when called;
* no ``print`` (rejected at compile time: scripts communicate only through task data);
* ``str.format`` / ``format_map`` are refused (RestrictedPython rule); use f-strings instead;
* augmented assignment works on plain names only (``total += 1``); ``d["k"] += 1`` is refused by
  RestrictedPython, write ``d["k"] = d["k"] + 1``.

Compile errors are raised as :class:`SandboxError` and name the offending source line. ``execute()``
writes a script's top-level variables back into task data only when the script succeeds; variables named
like a helper or an ``external_context`` entry are not written back (as in ``TaskDataEnvironment``).

Builtins available to designer code: RestrictedPython's ``safe_builtins`` (minus ``__build_class__``)
plus ``len min max sum sorted any all enumerate zip range list dict set tuple round abs str int float
bool isinstance map filter reversed``.

Helpers (``HELPERS``; 时间一律用 ISO 8601 字符串，保持任务数据可 JSON 序列化):

====================================  ========  ===================================================
Helper                                Returns   Meaning
====================================  ========  ===================================================
``now()``                             str       current UTC time (当前 UTC 时间), from the
                                                environment's clock (in the engine: the app's clock)
``parse_datetime(s)``                 str       ``s`` normalised to UTC; naive input is taken as UTC
                                                (规范化为 UTC，无时区按 UTC 处理)
``add_hours(iso, hours)``             str       ``iso`` + ``hours`` (may be negative / fractional)
``add_minutes(iso, minutes)``         str       ``iso`` + ``minutes``
``hours_between(a, b)``               float     ``b - a`` in hours (negative if ``b`` is earlier)
``is_before(a, b)``                   bool      ``a`` is strictly earlier than ``b``
====================================  ========  ===================================================

Returned timestamps look like ``2026-11-02T09:00:00+00:00``; inputs may use ``Z`` or any offset.

Bounds (``app/workflow/guards.py`` says exactly what is bounded and what is not):

* every script and expression runs within a time budget (``budget``, default 1 s; the engine passes the
  ``ENGINE_SCRIPT_BUDGET_SECONDS`` setting); past it, it stops with :class:`ScriptBudgetExceeded`;
* ``**``, ``*``, ``<<``, ``+``, ``%``, ``pow`` and ``range`` refuse, before computing, values that would be
  huge (``2**10**9``, ``"x" * 10**10``); so do the str methods that grow a string and f-string formats;
* bare ``except:`` and ``finally:`` are refused (either could keep a script running past its budget), and
  ``BaseException`` is not a builtin;
* whatever designer code raises, ``SystemExit``, ``KeyboardInterrupt`` and ``GeneratorExit`` included, leaves
  ``execute``/``evaluate`` as an ``Exception`` (a :class:`SandboxError`), so SpiffWorkflow marks the task in
  error and nothing above (a thread, a worker, a request) ends;
* ``check_value`` (given by the engine) is asked about each variable a script writes back, before anything
  is written: a value that cannot be stored (``range(3)``, a set, a generator, a 5,000-digit int) fails the
  script there, naming the variable. Callables and modules are dropped, as before.
"""

from __future__ import annotations

import ast
import builtins
import functools
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import CodeType, ModuleType
from typing import Any, Literal

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment

from app.workflow import guards
from app.workflow.guards import DEFAULT_BUDGET_SECONDS, ScriptBudgetExceeded

__all__ = [
    "HELPERS",
    "SANDBOX_BUILTINS",
    "RestrictedEnvironment",
    "SandboxError",
    "ScriptBudgetExceeded",
    "add_hours",
    "add_minutes",
    "check_source",
    "compile_eval",
    "compile_exec",
    "hours_between",
    "is_before",
    "now",
    "parse_datetime",
    "system_clock",
]

# Filename given to compiled code: SpiffWorkflow's PythonScriptEngine looks for '<string>' frames in a
# traceback to report the failing script line.
_FILENAME = guards.DESIGNER_CODE
_CACHE_SIZE = 1024


class SandboxError(Exception):
    """Designer code was refused by the sandbox (compile-time policy or a forbidden call at runtime)."""

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        errors: tuple[str, ...] = (),
        lineno: int | None = None,
        line: str | None = None,
    ) -> None:
        super().__init__(message)
        self.source = source
        self.errors = errors
        self.lineno = lineno
        self.line = line


_LINE_RE = re.compile(r"^Line (\d+):")


def _compile_error(source: str, errors: tuple[str, ...]) -> SandboxError:
    """Build a SandboxError whose message quotes each offending source line (出错的源代码行)."""
    lines = source.splitlines()
    parts: list[str] = []
    first_lineno: int | None = None
    first_line: str | None = None
    for err in errors:
        match = _LINE_RE.match(err)
        if match and 0 < int(match.group(1)) <= len(lines):
            lineno = int(match.group(1))
            text = lines[lineno - 1].strip()
            parts.append(f"{err} -> `{text}`")
            if first_lineno is None:
                first_lineno, first_line = lineno, text
        else:
            parts.append(err)
    message = "Script rejected by sandbox: " + "; ".join(parts)
    return SandboxError(message, source=source, errors=errors, lineno=first_lineno, line=first_line)


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, tightened: no imports, no classes, no print."""

    def visit_Import(self, node: ast.Import) -> ast.AST | None:
        self.error(node, "Import statements are not allowed.")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST | None:
        self.error(node, "Import statements are not allowed.")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST | None:
        self.error(node, "Class definitions are not allowed.")
        return node

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in ("print", "printed"):
            self.error(node, "print() is not available; store values in task data variables instead.")
            return node
        return super().visit_Name(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        if node.type is None:  # it would catch the time budget's stop
            self.error(node, "A bare `except:` is not allowed; write `except Exception:`.")
            return node
        return super().visit_ExceptHandler(node)

    def visit_Try(self, node: ast.Try) -> Any:
        if node.finalbody:  # it would run untraced after the time budget's stop
            self.error(node, "`finally:` is not allowed in process scripts.")
            return node
        return super().visit_Try(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        """``a ** b`` and the other guarded operators become ``_binop_("**", a, b)`` (see ``guards``)."""
        visited = super().visit_BinOp(node)
        symbol = _GUARDED_AST_OPS.get(type(node.op))
        if symbol is None or visited is not node:
            return visited
        func = ast.copy_location(ast.Name(id="_binop_", ctx=ast.Load()), node)
        name = ast.copy_location(ast.Constant(symbol), node)
        call = ast.Call(func=func, args=[name, node.left, node.right], keywords=[])
        return ast.copy_location(call, node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        """``f"{x!r:>{w}}"`` becomes ``f"{_format_(x, f'>{w}', 114)}"``: the spec is checked first."""
        visited = super().visit_FormattedValue(node)
        if visited is not node or node.format_spec is None:
            return visited
        func = ast.copy_location(ast.Name(id="_format_", ctx=ast.Load()), node)
        conversion = ast.copy_location(ast.Constant(node.conversion), node)
        call = ast.copy_location(
            ast.Call(func=func, args=[node.value, node.format_spec, conversion], keywords=[]), node
        )
        return ast.copy_location(ast.FormattedValue(value=call, conversion=-1, format_spec=None), node)


_GUARDED_AST_OPS: dict[type[ast.operator], str] = {
    ast.Pow: "**",
    ast.Mult: "*",
    ast.LShift: "<<",
    ast.Add: "+",
    ast.Mod: "%",
}
assert set(_GUARDED_AST_OPS.values()) == set(guards.GUARDED_OPERATORS)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def compile_exec(source: str) -> CodeType:
    """Compile a script (exec mode) under the sandbox policy; cached per source string."""
    result = compile_restricted_exec(source, filename=_FILENAME, policy=_SandboxPolicy)
    if result.errors or result.code is None:
        raise _compile_error(source, tuple(result.errors) or ("compilation failed",))
    return result.code


@functools.lru_cache(maxsize=_CACHE_SIZE)
def compile_eval(source: str) -> CodeType:
    """Compile an expression (eval mode) under the sandbox policy; cached per source string."""
    result = compile_restricted_eval(source, filename=_FILENAME, policy=_SandboxPolicy)
    if result.errors or result.code is None:
        raise _compile_error(source, tuple(result.errors) or ("compilation failed",))
    return result.code


def check_source(source: str, mode: Literal["exec", "eval"] = "exec") -> None:
    """Raise SandboxError if ``source`` (a script, or an expression when ``mode="eval"``) is refused.

    Used at deploy time; the compiled code lands in the same cache the environment uses.
    """
    if mode == "eval":
        compile_eval(source.strip())
    elif mode == "exec":
        compile_exec(source)
    else:
        raise ValueError(f"mode must be 'exec' or 'eval', not {mode!r}")


# ---------------------------------------------------------------------------------------------------
# Clock and helpers (时钟与辅助函数)
# ---------------------------------------------------------------------------------------------------


def system_clock() -> datetime:
    """The wall clock, timezone-aware: what an environment reads when it is given no clock."""
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _to_datetime(value: object, arg: str) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"{arg} must be an ISO 8601 string, got {type(value).__name__}")
    try:
        return _as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        raise ValueError(f"{arg} is not an ISO 8601 date/time: {value!r}") from None


def _to_number(value: object, arg: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{arg} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{arg} must be a finite number, got {value!r}")
    return float(value)


def _iso(value: datetime) -> str:
    return _as_utc(value).isoformat()


def now() -> str:
    """Current UTC time as an ISO 8601 string (当前时间), by the system clock; an environment's ``now()``
    reads that environment's clock instead (:func:`_now_by`)."""
    return _iso(system_clock())


def _now_by(clock: Callable[[], datetime]) -> Callable[[], str]:
    def now() -> str:
        """Current UTC time as an ISO 8601 string (当前时间), by the environment's clock."""
        return _iso(clock())

    return now


def parse_datetime(s: str) -> str:
    """Normalise an ISO 8601 string to UTC; naive values are taken as UTC."""
    return _iso(_to_datetime(s, "parse_datetime(s)"))


def add_hours(iso_string: str, hours: float) -> str:
    """``iso_string`` plus ``hours`` hours, as a UTC ISO string (加小时)."""
    start = _to_datetime(iso_string, "add_hours(iso_string, ...)")
    return _iso(start + timedelta(hours=_to_number(hours, "add_hours(..., hours)")))


def add_minutes(iso_string: str, minutes: float) -> str:
    """``iso_string`` plus ``minutes`` minutes, as a UTC ISO string (加分钟)."""
    start = _to_datetime(iso_string, "add_minutes(iso_string, ...)")
    return _iso(start + timedelta(minutes=_to_number(minutes, "add_minutes(..., minutes)")))


def hours_between(a: str, b: str) -> float:
    """Hours from ``a`` to ``b`` (``b - a``; negative when ``b`` is earlier) (相差小时数)."""
    delta = _to_datetime(b, "hours_between(..., b)") - _to_datetime(a, "hours_between(a, ...)")
    return delta.total_seconds() / 3600.0


def is_before(a: str, b: str) -> bool:
    """True when ``a`` is strictly earlier than ``b`` (a 早于 b)."""
    return _to_datetime(a, "is_before(a, ...)") < _to_datetime(b, "is_before(..., b)")


HELPERS: dict[str, Callable[..., Any]] = {
    "now": now,
    "parse_datetime": parse_datetime,
    "add_hours": add_hours,
    "add_minutes": add_minutes,
    "hours_between": hours_between,
    "is_before": is_before,
}


# ---------------------------------------------------------------------------------------------------
# Builtins and guards (内置函数与守卫)
# ---------------------------------------------------------------------------------------------------

# Builtins RestrictedPython's safe_builtins lacks. RestrictedPython leaves sorted/zip/reversed/tuple out
# because they iterate in C and bypass `_getiter_`; our `_getiter_` does no per-object checks, so
# nothing is lost by offering them.
_EXTRA_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in (
        "sum", "min", "max", "sorted", "any", "all", "enumerate", "zip", "list", "dict",
        "set", "tuple", "map", "filter", "reversed",
    )
}  # fmt: skip

# Names that raise a clear SandboxError instead of a bare NameError (禁止使用的内置函数).
_FORBIDDEN_BUILTINS = (
    "__import__", "open", "exec", "eval", "compile", "globals", "locals", "vars", "getattr",
    "hasattr", "type", "dir", "input", "breakpoint", "help", "memoryview", "bytearray", "object",
    "super", "exit", "quit", "classmethod", "staticmethod", "property",
)  # fmt: skip


def _forbidden(name: str) -> Callable[..., Any]:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise SandboxError(f"{name}() is not available in sandboxed process scripts")

    refuse.__name__ = name
    return refuse


SANDBOX_BUILTINS: dict[str, Any] = {
    # Without BaseException designer code cannot name (and catch) the time budget's stop.
    **{k: v for k, v in safe_builtins.items() if k not in ("__build_class__", "BaseException")},
    **_EXTRA_BUILTINS,
    **{name: _forbidden(name) for name in _FORBIDDEN_BUILTINS},
    "pow": guards.guarded_pow,
    "range": guards.guarded_range,
}

_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    """``name op= value`` for numbers, strings and lists only (lists are extended in place)."""
    func = _INPLACE_OPS.get(op)
    if func is None:
        raise SandboxError(f"augmented assignment {op!r} is not supported; write `x = x {op[:-1]} y`")
    if not isinstance(target, int | float | str | list):
        raise SandboxError(f"{op!r} works on numbers, strings and lists, not {type(target).__name__}")
    guards.check_inplace(op, target, value)
    return func(target, value)


def _getattr(obj: Any, name: str, *default: Any) -> Any:
    """RestrictedPython's attribute guard (a missing attribute raises), with the str methods that grow a
    string bounded (``guards.str_method``)."""
    if isinstance(obj, str):
        bounded = guards.str_method(obj, name)
        if bounded is not None:
            return bounded
    return safer_getattr_raise(obj, name, *default)


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Calls using ``*args`` / ``**kwargs`` are routed through here by RestrictedPython."""
    return func(*args, **kwargs)


_GUARDS: dict[str, Any] = {
    "__builtins__": SANDBOX_BUILTINS,
    # safer_getattr with "raise" semantics: a missing attribute is an AttributeError, not None.
    "_getattr_": _getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_apply_": _apply,
    "_binop_": guards.binop,
    "_format_": guards.format_value,
}


# ---------------------------------------------------------------------------------------------------
# Script environment (脚本执行环境)
# ---------------------------------------------------------------------------------------------------


# What designer code may raise that is not an Exception: it leaves the sandbox as a SandboxError, so
# SpiffWorkflow marks the task in error and no thread, worker or request above is ended by it.
_ESCAPING = (SystemExit, KeyboardInterrupt, GeneratorExit)

ValueCheck = Callable[[str, Any], None]


class RestrictedEnvironment(TaskDataEnvironment):
    """TaskDataEnvironment that compiles and runs designer code with RestrictedPython.

    ``environment_globals`` are added to :data:`HELPERS` (subclasses use this for extra functions);
    they must be as harmless as the helpers, the sandbox does not wrap them. ``clock`` (an aware-datetime
    callable, asked at every call) is what scripts' ``now()`` reads; the engine passes one asking the app's
    clock, so no process-wide setting is needed. ``budget`` (seconds, asked at every call) is the time one
    script or expression may run. ``check_value(name, value)`` raises when a value a script leaves in a
    variable cannot be stored.
    """

    def __init__(
        self,
        environment_globals: Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] = system_clock,
        budget: Callable[[], float] = lambda: DEFAULT_BUDGET_SECONDS,
        check_value: ValueCheck | None = None,
    ) -> None:
        super().__init__({**HELPERS, "now": _now_by(clock), **(environment_globals or {})})
        self.clock = clock
        self.budget = budget
        self.check_value = check_value

    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> Any:
        """Value of ``expression`` with task data (and ``external_context``) as variables."""
        code = compile_eval(expression.strip())
        self._prepare_context(context)
        scope = self._scope(context, external_context or {})
        with self._guarded():
            return eval(code, scope)

    def execute(
        self, script: str, context: dict[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> bool:
        """Run ``script``; its top-level variables are written back into ``context`` on success (all of
        them or, when one cannot be stored, none)."""
        external = dict(external_context or {})
        self.check_for_overwrite(context, external)
        code = compile_exec(script)
        self._prepare_context(context)
        scope = self._scope(context, external)
        with self._guarded():
            exec(code, scope)
        self._write_back(scope, context, external)
        return True

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        try:
            with guards.time_budget(self.budget(), _FILENAME):
                yield
        except _ESCAPING as exc:
            detail = f": {exc}" if str(exc) else ""
            raise SandboxError(f"script raised {type(exc).__name__}{detail}") from None

    def _scope(self, context: Mapping[str, Any], external: Mapping[str, Any]) -> dict[str, Any]:
        # helpers < external context < task data < guards/builtins (guards always win).
        return {**self.globals, **external, **context, **_GUARDS}

    def _write_back(
        self, scope: dict[str, Any], context: dict[str, Any], external: Mapping[str, Any]
    ) -> None:
        """Copy the script's variables into task data, leaving out everything the sandbox supplied."""
        dropped = [k for k in context if k not in scope]  # removed with `del`
        written: dict[str, Any] = {}
        for key, value in scope.items():
            if key in _GUARDS or key in self.globals or key in external:
                continue
            if callable(value) or isinstance(value, ModuleType):
                dropped.append(key)
                continue
            written[key] = value
        if self.check_value is not None:
            for key, value in written.items():
                try:
                    self.check_value(key, value)
                except Exception as exc:
                    raise SandboxError(
                        f"variable '{key}' cannot be stored ({type(value).__name__}: {exc}); "
                        "process data must be JSON: text, numbers, true/false, lists and objects "
                        "(变量无法保存)"
                    ) from None
        for key in dropped:
            context.pop(key, None)
        context.update(written)
