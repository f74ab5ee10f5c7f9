"""One compiled URL builder per distinct rule per test process, instead of one per rule per app.

werkzeug compiles two small Python functions for every URL rule added to an app's map (generated source,
``ast`` and ``compile``): 288 builders for gridcase's ~140 rules, two thirds of the CPU of building an app
once the API document is deferred, and the suite builds an app for nearly every test. A builder is a pure
function of what the rule says (its parts, its defaults and their converters): the same rule in the next
test's app compiles to the same code, which reads the rule's own converters when it runs. Tests only: a
production process builds its app once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing.rules import Rule

_compile = Rule._compile_builder
_compiled: dict[tuple[Any, ...], Callable[..., tuple[str, str]]] = {}


def _key(rule: Rule, append_unknown: bool) -> tuple[Any, ...]:
    defaults = rule.defaults or {}
    return (
        rule.rule,
        rule.map.host_matching,
        rule.subdomain,
        rule.host,
        tuple(rule._trace),
        tuple(sorted((name, repr(value)) for name, value in defaults.items())),
        tuple(sorted((name, type(rule._converters[name])) for name in defaults if name in rule._converters)),
        append_unknown,
    )


def _compile_builder(self: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
    key = _key(self, append_unknown)
    builder = _compiled.get(key)
    if builder is None:
        builder = _compiled[key] = _compile(self, append_unknown)
    return builder


def install() -> None:
    Rule._compile_builder = _compile_builder  # type: ignore[method-assign]
