"""Bounds on designer code (脚本守卫): a time budget per script or expression, and operators that refuse to
build huge values before they start.

Time: :func:`time_budget` traces the code it runs (``sys.settrace``, line and call events) and stops it once
its budget of CPU time is spent, with :class:`ScriptBudgetExceeded`. The trace raises :class:`_OutOfTime`, a
``BaseException`` that designer code cannot catch: ``except Exception`` lets it through, bare ``except:`` is
refused at compile time, and ``BaseException`` is not among the sandbox's builtins. Only Python-level work is
traced; a single C-level operation is not interrupted, so the operations that can run for minutes on their
own are refused before they start:

==========================  =============================================================================
Bounded                     How
==========================  =============================================================================
``a ** b``, ``pow(a, b)``   refused when the integer result would exceed :data:`MAX_INT_BITS` bits
``a << b``                  the same
``a * b``                   refused when a repeated str/list/tuple would exceed :data:`MAX_LENGTH` items, or
                            an integer product :data:`MAX_INT_BITS` bits
``a + b``                   refused when a concatenated str/list/tuple would exceed :data:`MAX_LENGTH`
``x += y`` ...              the same rules (RestrictedPython routes them through ``_inplacevar_``)
``"%10d" % x``              refused when a width or precision (also one given by ``*``) exceeds MAX_LENGTH
``f"{x:>{w}}"``             the same for the format spec of an f-string value
``range(...)``              at most :data:`MAX_LENGTH` numbers, so ``sum``/``sorted``/``list`` of a range
                            stay short
str ``ljust rjust center``  the width, and the result of ``replace``/``join``/``expandtabs``, at most
``zfill replace join``      :data:`MAX_LENGTH` characters
==========================  =============================================================================

Not bounded: memory as a whole. A script may build many values below these limits until its time budget
ends it: about 1 s of ``list.append`` is some tens of millions of items, and a loop keeping a new
million-character string each round can hold gigabytes before its second is up (bounding that needs a
process limit, e.g. running workers under ``ulimit -v``). Nor C-level work on values that are already big
(``str()`` of a deeply nested list, ``sorted`` of a list of a million long strings). The
step bound of an engine run (``ENGINE_MAX_STEPS_PER_RUN``) is counted by the engine, not here.
"""

from __future__ import annotations

import gc
import operator
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

DEFAULT_BUDGET_SECONDS = 1.0
DESIGNER_CODE = "<string>"  # the file name the sandbox compiles designer code under
MAX_LENGTH = 1_000_000  # characters of a str, items of a list or tuple
MAX_INT_BITS = 100_000  # about 30,000 decimal digits


class GuardError(Exception):
    """Designer code asked for something a guard refuses (the sandbox reports it as a SandboxError)."""


class ScriptBudgetExceeded(GuardError):
    """A script or expression ran longer than its time budget."""


class _CollectorTime:
    """CPU seconds the cyclic garbage collector has spent in this process. A full collection of a large heap
    can take a second, and it runs in whatever code allocates when it is due (``n = n + 1`` in a script):
    that pause is the process's, not the script's, so the budget leaves it out."""

    seconds = 0.0
    _started = 0.0

    @classmethod
    def on_gc(cls, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            cls._started = time.thread_time()
        else:
            cls.seconds += time.thread_time() - cls._started


gc.callbacks.append(_CollectorTime.on_gc)


def _script_seconds() -> float:
    """This thread's CPU time, less the collector's pauses."""
    return time.thread_time() - _CollectorTime.seconds


class _OutOfTime(BaseException):
    """Raised by the trace inside designer code: not an Exception, so ``except Exception`` cannot keep it."""


@contextmanager
def time_budget(seconds: float, filename: str = DESIGNER_CODE) -> Iterator[None]:
    """Run the body under a trace that stops it once it has used ``seconds`` of CPU (ScriptBudgetExceeded).

    Only frames of code compiled as ``filename`` (designer code) are traced line by line: the sandbox's own
    functions (these guards, the helpers) are bounded and would only make every line of a script slower.
    The trace is this thread's only while the body runs; the one there before (a debugger, coverage) comes
    back afterwards.
    """
    # The thread's CPU time less the collector's, not the wall clock: a script is stopped for what it
    # computes, never because a busy machine left its thread waiting or a full collection paused it (a
    # one-line script failed both ways late in a long test run).
    clock = _script_seconds
    deadline = clock() + seconds

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        if clock() > deadline:
            raise _OutOfTime
        return trace

    def call(frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != filename:
            return None
        return trace(frame, event, arg)

    previous = sys.gettrace()
    sys.settrace(call)
    try:
        yield
    except _OutOfTime:
        raise ScriptBudgetExceeded(
            f"script stopped: it ran longer than its time budget of {seconds:g} s (脚本超出运行时限)"
        ) from None
    finally:
        sys.settrace(previous)


# -- operators ----------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _refuse(what: str) -> GuardError:
    return GuardError(f"{what} is too large for a process script (值过大)")


def _check_int_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise _refuse(f"{what}: a number of about {bits} bits (limit {MAX_INT_BITS})")


def _check_length(length: int, what: str) -> None:
    if length > MAX_LENGTH:
        raise _refuse(f"{what}: {length} items (limit {MAX_LENGTH})")


def _check_pow(base: Any, exponent: Any) -> None:
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        _check_int_bits(base.bit_length() * exponent, "**")


def _check_mult(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        _check_int_bits(left.bit_length() + right.bit_length(), "*")
        return
    for seq, times in ((left, right), (right, left)):
        length = _length(seq)
        if length is not None and _is_int(times) and times > 0:
            _check_length(length * times, "*")


def _check_lshift(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right) and right > 0 and left != 0:
        _check_int_bits(left.bit_length() + right, "<<")


def _check_add(left: Any, right: Any) -> None:
    left_length, right_length = _length(left), _length(right)
    if left_length is not None and right_length is not None:
        _check_length(left_length + right_length, "+")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\d+|\*)?(?:\.(\d+|\*))?")
_NUMBER = re.compile(r"\d+")


def _check_widths(numbers: list[str], what: str) -> None:
    for number in numbers:
        if len(number) > 7 or int(number) > MAX_LENGTH:
            raise _refuse(f"{what}: a width or precision of {number[:20]}")


def _check_mod(left: Any, right: Any) -> None:
    """``"%10d" % x``: the widths and precisions of a %-format, also those given by ``*``."""
    if not isinstance(left, str):
        return
    starred = False
    for width, precision in _PERCENT_SPEC.findall(left):
        _check_widths([n for n in (width, precision) if n and n != "*"], "%")
        starred = starred or "*" in (width, precision)
    if starred:
        args = right if isinstance(right, tuple) else (right,)
        _check_widths([str(abs(a)) for a in args if _is_int(a)], "%")


def format_value(value: Any, spec: str, conversion: int = -1) -> str:
    """An f-string's ``{value!conversion:spec}``, its spec's widths and precisions bounded first."""
    if conversion == ord("s"):
        value = str(value)
    elif conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("a"):
        value = ascii(value)
    _check_widths(_NUMBER.findall(spec), "f-string format")
    return format(value, spec)


_CHECKS: dict[str, Callable[[Any, Any], None]] = {
    "**": _check_pow,
    "*": _check_mult,
    "<<": _check_lshift,
    "+": _check_add,
    "%": _check_mod,
}
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "**": operator.pow,
    "*": operator.mul,
    "<<": operator.lshift,
    "+": operator.add,
    "%": operator.mod,
}
GUARDED_OPERATORS = tuple(_OPERATORS)


def binop(op: str, left: Any, right: Any) -> Any:
    """``left op right`` for the guarded operators (the sandbox's AST transform calls this)."""
    _CHECKS[op](left, right)
    return _OPERATORS[op](left, right)


def check_inplace(op: str, left: Any, right: Any) -> None:
    """The same rule for ``left op= right`` (``op`` like ``"+="``)."""
    check = _CHECKS.get(op[:-1])
    if check is not None:
        check(left, right)


def guarded_pow(base: Any, exponent: Any, mod: Any = None) -> Any:
    """The ``pow`` builtin; with a modulus the result stays small: only the two-argument form is checked."""
    if mod is None:
        _check_pow(base, exponent)
        return pow(base, exponent)
    return pow(base, exponent, mod)


def guarded_range(*args: int) -> range:
    """The ``range`` builtin, at most MAX_LENGTH numbers long."""
    numbers = range(*args)
    try:
        length = len(numbers)
    except OverflowError:
        length = MAX_LENGTH + 1
    _check_length(length, "range()")
    return numbers


# -- str methods that grow their string ---------------------------------------------------------------


def _width_method(text: str, name: str) -> Callable[..., str]:
    method = getattr(text, name)

    def padded(width: Any, *args: Any) -> str:
        if _is_int(width):
            _check_length(width, f"str.{name}()")
        return method(width, *args)

    return padded


def _replace(text: str) -> Callable[..., str]:
    def replace(old: Any, new: Any, count: int = -1) -> str:
        if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
            hits = text.count(old) if old else len(text) + 1
            if count >= 0:
                hits = min(hits, count)
            _check_length(len(text) + hits * (len(new) - len(old)), "str.replace()")
        return text.replace(old, new, count)

    return replace


def _join(text: str) -> Callable[[Any], str]:
    def join(items: Any) -> str:
        parts = list(items)
        _check_length(len(parts), "str.join()")
        try:  # map(len) runs in C: no traced Python frame per part
            total = len(text) * max(len(parts) - 1, 0) + sum(map(len, parts))
        except TypeError:
            total = 0  # a part without a length: join itself refuses it
        _check_length(total, "str.join()")
        return text.join(parts)

    return join


def _expandtabs(text: str) -> Callable[..., str]:
    def expandtabs(tabsize: int = 8) -> str:
        if _is_int(tabsize):
            _check_length(len(text) + text.count("\t") * max(tabsize, 0), "str.expandtabs()")
        return text.expandtabs(tabsize)

    return expandtabs


def str_method(text: str, name: str) -> Callable[..., str] | None:
    """A bounded stand-in for ``text.<name>`` when that method can grow the string; else None."""
    if name in ("ljust", "rjust", "center", "zfill"):
        return _width_method(text, name)
    if name == "replace":
        return _replace(text)
    if name == "join":
        return _join(text)
    if name == "expandtabs":
        return _expandtabs(text)
    return None


__all__ = [
    "DEFAULT_BUDGET_SECONDS",
    "GUARDED_OPERATORS",
    "MAX_INT_BITS",
    "MAX_LENGTH",
    "GuardError",
    "ScriptBudgetExceeded",
    "binop",
    "check_inplace",
    "format_value",
    "guarded_pow",
    "guarded_range",
    "str_method",
    "time_budget",
]
