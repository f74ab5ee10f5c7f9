"""Simple JUEL expressions (Camunda 7's ``${...}``) as the Python expressions our diagrams use.

What converts: names and dotted names (``a.b`` → ``a["b"]``: task data is JSON, so objects are dicts),
number, string, boolean and null literals, comparisons (``==``/``eq``, ``!=``/``ne``, ``<``/``lt`` …),
``&&``/``and``, ``||``/``or``, ``!``/``not``, ``empty``, arithmetic and parentheses. Anything else (method
calls, ``execution``, the ternary, indexing, lambdas) is refused with the reason: a person rewrites it.
"""

from __future__ import annotations

import ast
import re

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<op>&&|\|\||==|!=|<=|>=|[<>!+\-*/%()])
      | (?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
    )""",
    re.VERBOSE,
)
_WORDS = {
    "and": "and",
    "or": "or",
    "not": "not",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "div": "/",
    "mod": "%",
    "true": "True",
    "false": "False",
    "null": "None",
    "empty": "not",
}
_OPERATORS = {"&&": "and", "||": "or", "!": "not"}
# Names that reach into the Java engine: nothing of theirs exists here.
_ENGINE_NAMES = {"execution", "task", "authenticatedUserId", "variables", "dateTime"}
_WRAPPED = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.DOTALL)


class NotConvertible(ValueError):
    """The expression uses something this translation does not cover; the message says what."""


def is_expression(text: str) -> bool:
    """Whether ``text`` is a JUEL expression (``${...}`` or ``#{...}``) rather than a literal value."""
    return _WRAPPED.match(text) is not None


def to_python(text: str) -> str:
    """The Python expression for the JUEL expression ``text`` (with or without its ``${ }``)."""
    match = _WRAPPED.match(text)
    body = match.group("body") if match else text
    parts: list[str] = []
    position = 0
    previous_was_name = False
    while position < len(body):
        if body[position:].strip() == "":
            break
        token = _TOKEN.match(body, position)
        if token is None or token.end() == position:
            raise NotConvertible(f"unsupported syntax at {body[position:].strip()[:20]!r}")
        position = token.end()
        kind = token.lastgroup
        value = token.group(kind or "")
        if kind == "op" and value == "(" and previous_was_name:
            raise NotConvertible("method and function calls")
        previous_was_name = False
        if kind == "name":
            parts.append(_name(value))
            previous_was_name = value not in _WORDS
        elif kind == "op":
            parts.append(_OPERATORS.get(value, value))
        elif kind == "string":
            parts.append(_string(value))
        else:
            parts.append(value)
    python = " ".join(parts).replace("( ", "(").replace(" )", ")")
    if not python:
        raise NotConvertible("empty expression")
    try:
        ast.parse(python, mode="eval")
    except SyntaxError as exc:
        raise NotConvertible(f"not a valid expression once converted ({exc.msg})") from exc
    return python


def _name(dotted: str) -> str:
    if dotted in _WORDS:
        return _WORDS[dotted]
    head, *attributes = dotted.split(".")
    if head in _ENGINE_NAMES:
        raise NotConvertible(f"'{head}' is the Java engine's; read a process variable instead")
    return head + "".join(f'["{attribute}"]' for attribute in attributes)


def _string(literal: str) -> str:
    """A JUEL string literal (single or double quotes, backslash escapes) as a Python literal."""
    inner = literal[1:-1]
    return repr(re.sub(r"\\(.)", r"\1", inner))
