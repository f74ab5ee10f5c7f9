"""JSON Schema task forms: load the files in ``forms/`` and validate submitted form data.

Each user task of a BPMN process names its form (``formJsonSchemaFilename``), a draft 2020-12
JSON Schema with ``type: object`` and ``additionalProperties: false``. Besides the standard
keywords, three custom keywords check data against the database through ``FormReferences``:

- ``"x-user-role": ["grid_worker", ...]`` on a string: an active user having one of the roles;
- ``"x-attachments": {"kind": ["after", ...]}`` on an array of ids: attachments of this case
  whose kind is one of those given;
- ``"x-unit-code": true`` on a string: the code of an active unit (``app.units``).

Annotations only read by the UI or by this module: ``x-enum-titles`` (labels for ``enum``, same
order, in the form's default language zh-CN) and ``x-error-messages`` (``{"<keyword>": {"zh-CN": …,
"en": …}}``, or a plain English string, replacing the default message of that keyword's errors in the same
schema object). Every error names its field twice, as a dotted ``field`` and as a JSON ``pointer``, with
``message`` in English (what the API has always answered) and ``messages`` in zh-CN and English (what
the pages show, by the user's language).

``pattern`` follows ECMA-262 as JSON Schema requires (the ``regress`` engine): ``\\d`` is ASCII
``[0-9]`` only (so full-width digits typed with a Chinese IME are rejected), ``$`` does not match
before a trailing newline, and the page's checks (the browser's RegExp) agree with the server.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.exceptions import best_match
from regress import Regex, RegressError

__all__ = [
    "FormNotFound",
    "FormReferences",
    "FormRegistry",
    "FormSchemaError",
    "FormValidationError",
    "Message",
    "validate_schema_document",
]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
FORM_NAME_RE = re.compile(r"^[a-z0-9_]+\.schema\.json$")
_SCHEMA_SUFFIX = ".schema.json"
_UI_SUFFIX = ".uischema.json"
# Keywords that only combine other schemas: their errors rank after a field's own errors.
_WEAK_KEYWORDS = frozenset({"anyOf", "oneOf", "not"})


class FormNotFound(Exception):
    """No form file of that name in the forms folder (or the name is not allowed)."""

    def __init__(self, name: str, reason: str = "not found in the forms folder") -> None:
        super().__init__(f"form {name!r}: {reason}")
        self.name = name


class FormSchemaError(Exception):
    """A form file exists but is not usable: not JSON, or not a valid form schema."""

    def __init__(self, name: str, problems: list[str]) -> None:
        super().__init__(f"form {name!r} is not a valid form schema: " + "; ".join(problems))
        self.name = name
        self.problems = problems


class FormValidationError(Exception):
    """Submitted data does not satisfy the form. ``errors`` holds ``{"field", "message"}`` dicts (English,
    what the API answers); ``field_errors`` the same errors with ``pointer`` and ``messages``
    (``{"zh-CN", "en"}``) for the pages."""

    def __init__(self, field_errors: list[dict[str, Any]], form: str | None = None) -> None:
        fields = list(dict.fromkeys(e["field"] or "(form)" for e in field_errors))
        noun = "field" if len(fields) == 1 else "fields"
        super().__init__(f"{len(fields)} {noun} failed validation: {', '.join(fields)}")
        self.field_errors = field_errors
        self.errors = [{"field": e["field"], "message": e["message"]} for e in field_errors]
        self.form = form


class FormReferences(Protocol):
    """Database look-ups behind the custom keywords (implemented by the app, faked in tests)."""

    def existing_users_with_roles(self, usernames: set[str], roles: set[str]) -> set[str]:
        """Return those of ``usernames`` that are active users having at least one of ``roles``."""
        ...

    def case_attachment_kinds(self, case_id: int, ids: set[int]) -> dict[int, str]:
        """Return ``{id: kind}`` for those of ``ids`` that are attachments of case ``case_id``."""
        ...

    def existing_unit_codes(self, codes: set[str]) -> set[str]:
        """Return those of ``codes`` that are codes of active units."""
        ...


# --- pattern: ECMA-262 semantics ------------------------------------------------------------


@lru_cache(maxsize=256)
def _compile_ecma(pattern: str) -> Regex:
    """A JSON Schema ``pattern`` compiled as ECMA-262 (regress, the Rust engine of that dialect), so the
    server matches exactly as the browser's RegExp does in the task page's checks: ``\\d`` is ASCII only,
    ``$`` does not match before a trailing newline, ``\\w``/``\\s``/``\\b`` as in JavaScript. Raises
    RegressError for a pattern that is not valid ECMA-262."""
    return Regex(pattern)


def _pattern_keyword(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
    if validator.is_type(instance, "string") and _compile_ecma(pattern).find(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_BaseValidator = validators.extend(Draft202012Validator, {"pattern": _pattern_keyword})


# --- custom keywords, bound per validation call ------------------------------------------------


@dataclass(frozen=True)
class _Lookup:
    refs: FormReferences
    case_id: int | None
    # A designer's test run: no case, so no photos; photo ids stand for test photos (only their shape is
    # checked: integers, how many, unique).
    test_run: bool = False


# The custom keywords need the database lookups of the current call; a context variable hands them over
# so the validator class is built once instead of on every validation.
_lookup: ContextVar[_Lookup | None] = ContextVar("gridcase_form_lookup", default=None)


def _current_lookup() -> _Lookup:
    lookup = _lookup.get()
    if lookup is None:
        raise RuntimeError("form keywords used outside FormRegistry.validate")
    return lookup


def _user_role(validator: Any, roles: list[str], instance: Any, _schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "string") or not instance:
        return
    if instance not in _current_lookup().refs.existing_users_with_roles({instance}, set(roles)):
        yield ValidationError(f"unknown user or not a {'/'.join(roles)}: {instance!r}")


def _attachments(validator: Any, spec: Mapping[str, Any], instance: Any, _schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "array"):
        return
    ids = [(index, item) for index, item in enumerate(instance) if validator.is_type(item, "integer")]
    if not ids:
        return
    lookup = _current_lookup()
    if lookup.test_run:
        return
    if lookup.case_id is None:
        yield ValidationError("attachments can only be given for an existing case")
        return
    allowed = list(spec.get("kind", []))
    kinds = lookup.refs.case_attachment_kinds(lookup.case_id, {int(item) for _, item in ids})
    for index, item in ids:
        kind = kinds.get(int(item))
        if kind is None:
            yield ValidationError(f"attachment {int(item)} does not belong to this case", path=[index])
        elif allowed and kind not in allowed:
            yield ValidationError(
                f"attachment {int(item)} is a {kind!r} photo, expected one of: {', '.join(allowed)}",
                path=[index],
            )


def _unit_code(validator: Any, enabled: Any, instance: Any, _schema: Any) -> Iterator[Any]:
    if enabled is not True or not validator.is_type(instance, "string") or not instance:
        return
    if instance not in _current_lookup().refs.existing_unit_codes({instance}):
        yield ValidationError(f"no active unit with code {instance!r}")


_FormValidator = validators.extend(
    _BaseValidator, {"x-user-role": _user_role, "x-attachments": _attachments, "x-unit-code": _unit_code}
)
_validators: dict[int, tuple[Mapping[str, Any], Any]] = {}


def _validator_for(schema: Mapping[str, Any]) -> Any:
    """A validator for ``schema``, reused while the cached schema object is the same."""
    cached = _validators.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    validator = _FormValidator(schema, format_checker=FormatChecker())
    _validators[id(schema)] = (schema, validator)
    return validator


# --- turning jsonschema errors into {"field", "message"} ----------------------------------------


@dataclass(frozen=True)
class Message:
    """One error message in the form's two languages."""

    en: str
    zh: str

    def prefixed(self, en: str, zh: str) -> Message:
        return Message(en + self.en, zh + self.zh)


@dataclass(frozen=True)
class _Problem:
    path: tuple[str | int, ...]
    message: Message
    weak: bool

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.path)

    @property
    def pointer(self) -> str:
        """RFC 6901: ``/a/0/b``, with ``~`` and ``/`` in names escaped."""
        return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in self.path)

    def sort_key(self) -> tuple[Any, ...]:
        parts = tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in self.path)
        return (parts, self.weak)


def _missing_property(error: Any) -> tuple[str, str | None] | None:
    """``(missing property, property needing it)`` of a ``required`` / ``dependentRequired`` error."""
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    if error.validator == "required":
        for name in error.validator_value or ():
            if name not in instance and error.message == f"{name!r} is a required property":
                return str(name), None
        return None
    for owner, dependencies in (error.validator_value or {}).items():
        for name in dependencies:
            if name not in instance and error.message == f"{name!r} is a dependency of {owner!r}":
                return str(name), str(owner)
    return None


def _unknown_properties(error: Any) -> list[str]:
    """The keys an ``additionalProperties: false`` error rejects."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    declared = schema.get("properties", {})
    patterns = [_compile_ecma(p) for p in schema.get("patternProperties", {})]
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    return [
        str(key)
        for key in instance
        if key not in declared and not any(p.find(str(key)) is not None for p in patterns)
    ]


def _custom_message(schema: Mapping[str, Any], keyword: str) -> Message | None:
    """The form's own ``x-error-messages`` for ``keyword``: a plain string is English only."""
    custom = schema.get("x-error-messages")
    value = custom.get(keyword) if isinstance(custom, Mapping) else None
    if isinstance(value, str):
        return Message(value, value)
    if isinstance(value, Mapping) and isinstance(value.get("en"), str):
        return Message(str(value["en"]), str(value.get("zh-CN") or value["en"]))
    return None


_TYPE_NAMES_ZH = {
    "string": "文本",
    "integer": "整数",
    "number": "数字",
    "boolean": "是/否",
    "array": "列表",
    "object": "对象",
    "null": "空值",
}
# (English, zh-CN) of the keywords whose message only needs the keyword's value.
_SIMPLE_MESSAGES = {
    "minLength": ("must be at least {} characters long", "至少 {} 个字"),
    "maxLength": ("must be at most {} characters long", "最多 {} 个字"),
    "minimum": ("must be at least {}", "不能小于 {}"),
    "maximum": ("must be at most {}", "不能大于 {}"),
    "exclusiveMinimum": ("must be greater than {}", "必须大于 {}"),
    "exclusiveMaximum": ("must be less than {}", "必须小于 {}"),
    "maxItems": ("must have at most {} items", "最多 {} 项"),
    "pattern": ("does not match the expected format {}", "格式不正确({})"),
    "format": ("is not a valid {}", "不是有效的 {}"),
    "multipleOf": ("must be a multiple of {}", "必须是 {} 的倍数"),
    "minProperties": ("must have at least {} entries", "至少填写 {} 项"),
}


def _friendly_message(error: Any) -> Message:
    """A message in English and zh-CN that does not echo (possibly long) submitted values."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    keyword, value = error.validator, error.validator_value
    custom = _custom_message(schema, keyword)
    if custom is not None:
        return custom
    if keyword == "required":
        return Message("this field is required", "此项必填")
    if keyword == "dependentRequired":
        missing = _missing_property(error)
        if missing:
            return Message(f"required when {missing[1]} is given", f"填写 {missing[1]} 时此项必填")
        return Message(str(error.message), str(error.message))
    if keyword == "type":
        names = [str(n) for n in (value if isinstance(value, list) else [value])]
        zh = "或".join(_TYPE_NAMES_ZH.get(n, n) for n in names)
        return Message(f"must be of type {' or '.join(names)}", f"应为{zh}")
    if keyword == "enum":
        allowed = ", ".join(str(v) for v in value)
        return Message("must be one of: " + allowed, "请从给定选项中选择")
    if keyword == "const":
        shown = json.dumps(value, ensure_ascii=False)
        return Message(f"must be {shown}", f"必须为 {shown}")
    if keyword in _SIMPLE_MESSAGES:
        en, zh = _SIMPLE_MESSAGES[keyword]
        return Message(en.format(value), zh.format(value))
    if keyword == "minItems":
        if value == 1:
            return Message("must not be empty", "至少选择一项")
        return Message(f"must have at least {value} items", f"至少 {value} 项")
    if keyword == "uniqueItems":
        return Message("must not contain the same item twice", "不能重复")
    if keyword in {"oneOf", "anyOf"}:
        if not error.context:
            return Message("matches more than one of the allowed alternatives", "只能选择其中一种填写方式")
        inner = _friendly_message(best_match(error.context))
        return inner.prefixed("matches none of the allowed alternatives: ", "不符合任何一种填写方式:")
    if keyword == "not":
        return Message("is not allowed", "不允许这样填写")
    return Message(str(error.message), _custom_keyword_zh(keyword, str(error.message)))


def _custom_keyword_zh(keyword: str, english: str) -> str:
    """zh-CN of our keywords' messages (they name the value, so they are built at check time)."""
    if keyword == "x-user-role":
        return "没有该用户,或其不是所需角色"
    if keyword == "x-unit-code":
        return "没有该编码的在用单位"
    if keyword == "x-attachments":
        if "existing case" in english:
            return "只有已有案件才能附照片"
        if "does not belong" in english:
            return "该照片不属于本案件"
        return "照片类型不符"
    return english


def _problems(error: Any) -> list[_Problem]:
    path = tuple(error.absolute_path)
    weak = error.validator in _WEAK_KEYWORDS
    if error.validator == "additionalProperties" and error.validator_value is False:
        unknown = _unknown_properties(error)
        if unknown:
            return [_Problem((*path, key), Message("unknown field", "未知字段"), False) for key in unknown]
    if error.validator in {"required", "dependentRequired"}:
        missing = _missing_property(error)
        if missing is not None:
            return [_Problem((*path, missing[0]), _friendly_message(error), weak)]
    return [_Problem(path, _friendly_message(error), weak)]


def _collect_errors(validator: Any, data: Any) -> list[dict[str, Any]]:
    """All errors, sorted by field path; within a field, a field's own errors before combinators.

    Where a value has the wrong type, the other errors about that same value are left out: they
    follow from the type (e.g. an ``oneOf`` of ``required`` branches failing for a list).
    """
    raw = list(validator.iter_errors(data))
    wrong_type = {tuple(e.absolute_path) for e in raw if e.validator == "type"}
    problems: list[_Problem] = []
    for error in raw:
        if error.validator == "type" or tuple(error.absolute_path) not in wrong_type:
            problems.extend(_problems(error))
    problems.sort(key=_Problem.sort_key)
    result: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for problem in problems:
        key = (problem.field, problem.message.en)
        if key not in seen:
            seen.add(key)
            result.append(
                {
                    "field": problem.field,
                    "pointer": problem.pointer,
                    "message": problem.message.en,
                    "messages": {"zh-CN": problem.message.zh, "en": problem.message.en},
                }
            )
    return result


# --- checking the schema documents themselves ---------------------------------------------------

_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_SINGLE = (
    "items",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
)
# Sub-schemas that constrain the form object itself (their "required" names must be declared).
_ROOT_APPLICATORS = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas")


def _subschemas(schema: Mapping[str, Any], pointer: str) -> Iterator[tuple[str, Any]]:
    for key in _SUBSCHEMA_MAPS:
        if isinstance(schema.get(key), Mapping):
            for name, sub in schema[key].items():
                yield f"{pointer}/{key}/{name}", sub
    for key in _SUBSCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            for index, sub in enumerate(schema[key]):
                yield f"{pointer}/{key}/{index}", sub
    for key in _SUBSCHEMA_SINGLE:
        if key in schema:
            yield f"{pointer}/{key}", schema[key]


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)


def _error_messages_valid(messages: Any) -> bool:
    if not isinstance(messages, Mapping):
        return False
    for value in messages.values():
        if isinstance(value, Mapping):
            if set(value) != {"zh-CN", "en"} or not all(isinstance(v, str) and v for v in value.values()):
                return False
        elif not isinstance(value, str):
            return False
    return True


def _check_custom_keywords(schema: Any, pointer: str, problems: list[str]) -> None:
    if not isinstance(schema, Mapping):
        return
    where = pointer or "(root)"
    if "x-user-role" in schema and not _is_string_list(schema["x-user-role"]):
        problems.append(f"{where}: x-user-role must be a non-empty list of role names")
    if "x-attachments" in schema:
        spec = schema["x-attachments"]
        if not isinstance(spec, Mapping) or set(spec) != {"kind"} or not _is_string_list(spec["kind"]):
            problems.append(f'{where}: x-attachments must be {{"kind": [<attachment kinds>]}}')
    if "x-unit-code" in schema and schema["x-unit-code"] is not True:
        problems.append(f"{where}: x-unit-code must be true")
    if "x-enum-titles" in schema:
        titles = schema["x-enum-titles"]
        if not _is_string_list(titles):
            problems.append(f"{where}: x-enum-titles must be a non-empty list of strings")
        elif not isinstance(schema.get("enum"), list) or len(schema["enum"]) != len(titles):
            problems.append(f"{where}: x-enum-titles must have one title per enum value")
    if "x-error-messages" in schema and not _error_messages_valid(schema["x-error-messages"]):
        problems.append(
            f'{where}: x-error-messages must map keywords to a message string or {{"zh-CN": …, "en": …}}'
        )
    for sub_pointer, sub in _subschemas(schema, pointer):
        _check_custom_keywords(sub, sub_pointer, problems)


def _check_required_declared(
    schema: Any, declared: Mapping[str, Any], pointer: str, problems: list[str]
) -> None:
    """``required`` names (root and conditional branches) must be declared, or no data could pass."""
    if not isinstance(schema, Mapping):
        return
    required = schema.get("required")
    for name in required if isinstance(required, list) else []:
        if name not in declared:
            where = pointer or "(root)"
            problems.append(f"{where}: required property {name!r} is not declared in properties")
    for key in _ROOT_APPLICATORS:
        value = schema.get(key)
        if isinstance(value, list):
            for index, sub in enumerate(value):
                _check_required_declared(sub, declared, f"{pointer}/{key}/{index}", problems)
        elif isinstance(value, Mapping) and key == "dependentSchemas":
            for name, sub in value.items():
                _check_required_declared(sub, declared, f"{pointer}/{key}/{name}", problems)
        elif isinstance(value, Mapping):
            _check_required_declared(value, declared, f"{pointer}/{key}", problems)


# The meta-schema's "regex" format means ECMA-262 too (jsonschema would ask Python's re).
_META_FORMATS = FormatChecker(formats=[name for name in FormatChecker.checkers if name != "regex"])


@_META_FORMATS.checks("regex", raises=RegressError)
def _is_ecma_regex(instance: object) -> bool:
    if isinstance(instance, str):
        _compile_ecma(instance)
    return True


def validate_schema_document(doc: Any) -> list[str]:
    """Problems with a form schema file (empty list when usable): 2020-12 validity and form rules."""
    if not isinstance(doc, Mapping):
        return ["a form schema must be a JSON object"]
    problems: list[str] = []
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=_META_FORMATS)
    for error in sorted(meta.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "/" + "/".join(str(p) for p in error.absolute_path) if error.absolute_path else "(root)"
        problems.append(f"{where}: {error.message}")
    if doc.get("$schema") != SCHEMA_DIALECT:
        problems.append(f"(root): $schema must be {SCHEMA_DIALECT!r}")
    if doc.get("type") != "object":
        problems.append('(root): a form must have "type": "object"')
    if doc.get("additionalProperties") is not False:
        problems.append('(root): a form must have "additionalProperties": false')
    properties = doc.get("properties")
    if not isinstance(properties, Mapping) or not properties:
        problems.append("(root): a form must declare its fields in properties")
        properties = {}
    for pattern_pointer, pattern in _patterns(doc, ""):
        try:
            _compile_ecma(pattern)
        except RegressError as exc:
            problems.append(f"{pattern_pointer}: invalid regular expression {pattern!r}: {exc}")
    _check_custom_keywords(doc, "", problems)
    _check_required_declared(doc, properties, "", problems)
    return problems


@lru_cache(maxsize=1024)
def _schema_problems(text: str) -> tuple[str, ...]:
    """``validate_schema_document`` of a form file's text, once per process per distinct text: checking
    against the meta-schema costs ~10 ms a form, and every app (every registry) read the same files again.
    The problems depend on the text alone (a tuple: the cached answer cannot be changed)."""
    return tuple(validate_schema_document(json.loads(text)))


def _patterns(schema: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if not isinstance(schema, Mapping):
        return
    if isinstance(schema.get("pattern"), str):
        yield f"{pointer}/pattern", schema["pattern"]
    for sub_pointer, sub in _subschemas(schema, pointer):
        yield from _patterns(sub, sub_pointer)


# --- the registry -------------------------------------------------------------------------------


class FormRegistry:
    """The form files of one folder, cached by name and modification time."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._cache: dict[str, tuple[tuple[int, int], dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def _path(self, name: str) -> Path:
        if not isinstance(name, str) or not FORM_NAME_RE.fullmatch(name):
            raise FormNotFound(str(name), "not a form name (expected e.g. 'triage.schema.json')")
        root = self.folder.resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root):
            raise FormNotFound(name, "resolves outside the forms folder")
        return path

    def _read(self, name: str, path: Path, *, is_form: bool) -> dict[str, Any] | None:
        """The parsed JSON object at ``path`` (None if the file does not exist), cached by mtime."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(str(path))
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            text = path.read_text(encoding="utf-8")
            doc = json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise FormSchemaError(name, [f"cannot read JSON: {exc}"]) from exc
        if not isinstance(doc, dict):
            raise FormSchemaError(name, ["the file must contain a JSON object"])
        if is_form:
            problems = _schema_problems(text)
            if problems:
                raise FormSchemaError(name, list(problems))
        with self._lock:
            self._cache[str(path)] = (stamp, doc)
        return doc

    def _schema(self, name: str) -> dict[str, Any]:
        doc = self._read(name, self._path(name), is_form=True)
        if doc is None:
            raise FormNotFound(name)
        return doc

    def exists(self, name: str) -> bool:
        """Whether ``name`` is an allowed form name with a file in the folder."""
        try:
            return self._path(name).is_file()
        except FormNotFound:
            return False

    def names(self) -> list[str]:
        """The form names in the folder, sorted."""
        found = self.folder.glob("*" + _SCHEMA_SUFFIX)
        return sorted(p.name for p in found if FORM_NAME_RE.fullmatch(p.name))

    def load(self, name: str) -> dict[str, Any]:
        """The schema of form ``name`` (a copy; raises FormNotFound / FormSchemaError)."""
        return copy.deepcopy(self._schema(name))

    def ui_schema(self, name: str) -> dict[str, Any] | None:
        """The UI hints ``<stem>.uischema.json`` next to form ``name``, or None if there are none."""
        path = self._path(name)
        ui_name = name[: -len(_SCHEMA_SUFFIX)] + _UI_SUFFIX
        doc = self._read(ui_name, path.with_name(ui_name), is_form=False)
        return copy.deepcopy(doc) if doc is not None else None

    def validate(self, name: str, data: Any, *, case_id: int | None, refs: FormReferences) -> dict[str, Any]:
        """Validate ``data`` against form ``name`` and return it normalised.

        Top-level ``None`` values count as "not given". Raises FormValidationError listing every
        problem. The result is a copy of ``data`` with every property the form declares present
        (``None`` when not given), so BPMN expressions may reference any form field.
        """
        schema = self._schema(name)
        return self.validate_document(schema, data, case_id=case_id, refs=refs, name=name, cached=True)

    def validate_document(
        self,
        schema: Mapping[str, Any],
        data: Any,
        *,
        case_id: int | None,
        refs: FormReferences,
        name: str | None = None,
        cached: bool = False,
        test_run: bool = False,
    ) -> dict[str, Any]:
        """``validate`` against a schema built at run time (a form completed per task, e.g. an inspection's
        checklist, see ``app.tasks.services.register_form_builder``). ``cached``: reuse the validator while
        ``schema`` is the same object (only for schemas that live as long as the process)."""
        if isinstance(data, Mapping):
            data = {key: value for key, value in data.items() if value is not None}
        validator = (
            _validator_for(schema) if cached else _FormValidator(schema, format_checker=FormatChecker())
        )
        token = _lookup.set(_Lookup(refs, case_id, test_run))
        try:
            errors = _collect_errors(validator, data)
        finally:
            _lookup.reset(token)
        if errors:
            raise FormValidationError(errors, form=name)
        normalised: dict[str, Any] = copy.deepcopy(dict(data))
        for key in schema.get("properties", {}):
            normalised.setdefault(key, None)
        return normalised
