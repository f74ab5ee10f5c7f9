"""A task's JSON Schema turned into the field list the task page renders (``static/js/task_form.js``).

Why our own renderer and not json-editor: json-editor drops optional properties missing from its start
value, shows root ``allOf``/``oneOf`` as a "root" switcher with a hidden copy of the form, and speaks
English. Our forms use a small part of JSON Schema (flat or one level of objects, enums, arrays of scalars,
required-only conditionals), so the server describes each field here once, in the user's language, and
the page draws every one of them. The server keeps validating the real schema (``app.workflow.forms``);
the page's checks repeat the simple keywords with the same messages so most mistakes never leave it.

Labels: the schema's ``title``/``description``/``x-enum-titles`` are zh-CN; the UI schema may give other
languages per field under ``"ui:locales": {"en": {"title", "description", "enum_titles"}}`` (the form's
own title under the root ``"ui:locales"``; nested fields under ``"ui:fields"``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select

from app.auth.models import User
from app.categories.models import Category
from app.extensions import db
from app.units.models import Unit
from app.workflow.forms import Message

_CHECKED_KEYWORDS = (
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
)
_WIDGETS_FROM_UI = {"textarea", "radio", "select", "hidden", "date", "datetime", "updown"}


# Other cases offered by a ``case_picker`` field (a duplicate's original): ``[{"value": key, "label": ...}]``,
# asked only when the form has such a field.
CaseChoices = Callable[[], list[dict[str, str]]]


class FormView:
    """Builds the page's description of one form for one language (``"zh_CN"`` or ``"en"``)."""

    def __init__(
        self,
        schema: Mapping[str, Any],
        ui_schema: Mapping[str, Any] | None,
        language: str,
        case_choices: CaseChoices | None = None,
    ) -> None:
        self.schema = schema
        self.ui = ui_schema or {}
        self.english = language == "en"
        self.case_choices = case_choices
        self._users: dict[tuple[str, ...], list[dict[str, str]]] = {}
        self._units: list[dict[str, str]] | None = None
        self._categories: list[dict[str, str]] | None = None

    # -- labels --------------------------------------------------------------------------------

    def _localised(self, schema: Mapping[str, Any], ui: Mapping[str, Any], key: str) -> Any:
        if self.english:
            value = ((ui.get("ui:locales") or {}).get("en") or {}).get(key)
            if value:
                return value
        return schema.get({"enum_titles": "x-enum-titles"}.get(key, key))

    def title(self) -> str:
        return str(self._localised(self.schema, self.ui, "title") or "")

    def description(self) -> str:
        return str(self._localised(self.schema, self.ui, "description") or "")

    def message(self, message: Message) -> str:
        return message.en if self.english else message.zh

    # -- choices of the pickers ------------------------------------------------------------------

    def _user_choices(self, roles: list[str]) -> list[dict[str, str]]:
        key = tuple(sorted(roles))
        if key not in self._users:
            rows = db.session.execute(
                select(User.username, User.display_name)
                .where(User.role.in_(key), User.active.is_(True))
                .order_by(User.display_name, User.username)
            ).all()
            self._users[key] = [
                {"value": u, "label": f"{name} · {u}" if name and name != u else u} for u, name in rows
            ]
        return self._users[key]

    def _unit_choices(self) -> list[dict[str, str]]:
        if self._units is None:
            rows = db.session.execute(
                select(Unit.code, Unit.name).where(Unit.active.is_(True)).order_by(Unit.code)
            ).all()
            self._units = [{"value": code, "label": f"{name} · {code}"} for code, name in rows]
        return self._units

    def _category_choices(self) -> list[dict[str, str]]:
        if self._categories is None:
            rows = db.session.execute(
                select(Category.code, Category.name, Category.name_en).order_by(Category.code)
            ).all()
            self._categories = [
                {"value": code, "label": f"{code} {(name_en if self.english and name_en else name)}"}
                for code, name, name_en in rows
            ]
        return self._categories

    # -- fields --------------------------------------------------------------------------------

    def _resolve(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """``$ref`` to ``#/$defs/...`` merged with the referring schema's own keywords (title wins)."""
        result = dict(schema)
        ref = result.pop("$ref", None)
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = self.schema.get("$defs", {}).get(ref.split("/")[-1], {})
            result = {**self._resolve(target), **result}
        return result

    def _messages(self, schema: Mapping[str, Any]) -> dict[str, str]:
        custom = schema.get("x-error-messages") or {}
        out: dict[str, str] = {}
        for keyword, value in custom.items():
            if isinstance(value, str):
                out[keyword] = value
            elif isinstance(value, Mapping):
                out[keyword] = str(value.get("en" if self.english else "zh-CN") or value.get("en"))
        return out

    def field(
        self, name: str, schema: Mapping[str, Any], ui: Mapping[str, Any], path: list[str], required: bool
    ) -> dict[str, Any]:
        schema = self._resolve(schema)
        ui = ui or {}
        widget = ui.get("ui:widget")
        kind = schema.get("type")
        field: dict[str, Any] = {
            "name": name,
            "path": [*path, name],
            "label": str(self._localised(schema, ui, "title") or name),
            "description": str(self._localised(schema, ui, "description") or ""),
            "required": required,
            "type": kind,
            "checks": {k: schema[k] for k in _CHECKED_KEYWORDS if k in schema},
            "messages": self._messages(schema),
            "placeholder": ui.get("ui:placeholder", ""),
            "rows": (ui.get("ui:options") or {}).get("rows"),
            "readonly": bool(schema.get("readOnly")),
            "default": schema.get("default"),
        }
        if "enum" in schema:
            titles = self._localised(schema, ui, "enum_titles") or []
            field["options"] = [
                {"value": value, "label": str(titles[i]) if i < len(titles) else str(value)}
                for i, value in enumerate(schema["enum"])
            ]
            field["widget"] = "radio" if widget == "radio" else "select"
        elif (schema.get("options") or {}).get("hidden") or widget == "hidden":
            field["widget"] = "hidden"
        elif schema.get("x-user-role"):
            field["widget"] = "select"
            field["options"] = self._user_choices(list(schema["x-user-role"]))
        elif schema.get("x-unit-code") is True:
            field["widget"] = "select"
            field["options"] = self._unit_choices()
        elif widget == "category_picker":
            field["widget"] = "select"
            field["options"] = self._category_choices()
        elif kind == "array" and widget == "inspection_photos":
            # an inspection's photos belong to its campaign item (app/web/inspection_photos.py)
            field["widget"] = "photos"
            field["kinds"] = ["inspection"]
            field["upload_kind"] = "inspection"
        elif kind == "array" and isinstance(schema.get("x-attachments"), Mapping):
            kinds = list(schema["x-attachments"].get("kind") or ["other"])
            field["widget"] = "photos"
            field["kinds"] = kinds
            field["upload_kind"] = (ui.get("ui:options") or {}).get("upload_kind") or kinds[0]
        elif kind == "array":
            field["widget"] = "list"
            field["item"] = self.field("", schema.get("items") or {}, ui.get("ui:items") or {}, [], False)
        elif kind == "object":
            field["widget"] = "object"
            field.update(self.object_parts(schema, ui, [*path, name]))
        elif schema.get("format") == "date-time" or widget == "datetime":
            field["widget"] = "datetime"
        elif schema.get("format") == "date" or widget == "date":
            field["widget"] = "date"
        elif kind in ("integer", "number"):
            field["widget"] = "number"
        elif widget == "textarea":
            field["widget"] = "textarea"
        else:
            field["widget"] = "text"
            if widget == "case_picker":  # free entry stays: the original may be older than the offers
                field["suggestions"] = self.case_choices() if self.case_choices else []
        return field

    def object_parts(
        self, schema: Mapping[str, Any], ui: Mapping[str, Any], path: list[str]
    ) -> dict[str, Any]:
        """The fields of an object (in ``ui:order``), its conditional rules, and for a map of entries
        (``additionalProperties`` with a schema and no properties) the schema of one entry."""
        properties: Mapping[str, Any] = schema.get("properties") or {}
        nested_ui = (ui.get("ui:fields") or ui) if path else ui
        order = [n for n in (nested_ui.get("ui:order") or []) if n in properties]
        order += [n for n in properties if n not in order]
        required = set(schema.get("required") or [])
        parts: dict[str, Any] = {
            "fields": [
                self.field(n, properties[n], nested_ui.get(n) or {}, path, n in required) for n in order
            ],
            "rules": self.rules(schema),
        }
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping) and not properties:
            parts["entry"] = self.field("", extra, nested_ui, [], True)
        return parts

    # -- conditionals ----------------------------------------------------------------------------

    def rules(self, schema: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The object's conditions on which fields are required, for the page to show and check:
        ``when`` (``if`` of consts, its fields revealed only then), ``one_of``/``any_of`` (groups of
        required fields), ``not_all`` (never all of these) and ``depends`` (``dependentRequired``)."""
        found: list[dict[str, Any]] = []
        self._rules_of(schema, found)
        for entry in schema.get("allOf") or []:
            if isinstance(entry, Mapping):
                self._rules_of(entry, found)
        return found

    def _rules_of(self, schema: Mapping[str, Any], found: list[dict[str, Any]]) -> None:
        messages = self._messages(schema)
        condition = schema.get("if")
        then = schema.get("then")
        if isinstance(condition, Mapping) and isinstance(then, Mapping):
            consts = {
                name: prop["const"]
                for name, prop in (condition.get("properties") or {}).items()
                if isinstance(prop, Mapping) and "const" in prop
            }
            if consts:
                found.append({"kind": "when", "if": consts, "require": list(then.get("required") or [])})
        for keyword, kind in (("oneOf", "one_of"), ("anyOf", "any_of")):
            branches = schema.get(keyword)
            if isinstance(branches, list):
                groups = [list(b.get("required") or []) for b in branches if isinstance(b, Mapping)]
                found.append({"kind": kind, "groups": groups, "message": messages.get(keyword, "")})
        negated = schema.get("not")
        if isinstance(negated, Mapping) and negated.get("required"):
            found.append(
                {"kind": "not_all", "fields": list(negated["required"]), "message": messages.get("not", "")}
            )
        for owner, needed in (schema.get("dependentRequired") or {}).items():
            found.append({"kind": "depends", "field": owner, "require": list(needed)})

    # -- the whole form --------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return self.object_parts(self.schema, self.ui, [])


def client_messages(english: bool) -> dict[str, str]:
    """The page's own check messages, worded as the server's (``app.workflow.forms``)."""
    pairs = {
        "required": ("this field is required", "此项必填"),
        "minLength": ("must be at least {} characters long", "至少 {} 个字"),
        "maxLength": ("must be at most {} characters long", "最多 {} 个字"),
        "pattern": ("does not match the expected format {}", "格式不正确({})"),
        "minimum": ("must be at least {}", "不能小于 {}"),
        "maximum": ("must be at most {}", "不能大于 {}"),
        "minItems": ("must have at least {} items", "至少 {} 项"),
        "minItems1": ("must not be empty", "至少选择一项"),
        "maxItems": ("must have at most {} items", "最多 {} 项"),
        "uniqueItems": ("must not contain the same item twice", "不能重复"),
        "minProperties": ("must have at least {} entries", "至少填写 {} 项"),
        "integer": ("must be of type integer", "应为整数"),
        "number": ("must be of type number", "应为数字"),
        "one_of": ("give exactly one of these", "只能且必须填写其中一项"),
        "any_of": ("give at least one of these", "请至少填写其中一项"),
        "not_all": ("give at most one of these", "最多填写其中一项"),
        "depends": ("required when {} is given", "填写 {} 时此项必填"),
        "failed": ("Please correct the marked fields.", "请修改标出的内容。"),
        "add": ("Add", "添加"),
        "remove": ("Remove", "删除"),
        "choose": ("— choose —", "— 请选择 —"),
        "entry_key": ("Item key", "项目编号"),
        "add_photo": ("Take or choose photos", "拍照或选择照片"),
        "suggestions": ("Recent cases, same category and nearest first:", "近期案件(同类、就近优先):"),
    }
    return {key: en if english else zh for key, (en, zh) in pairs.items()}
