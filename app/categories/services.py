"""The category catalogue: validate, load from the data file (all or nothing), read, and edit (admins).

One set of rules checks every entry, whether it comes from ``catalogue.json`` or from the API, so a
category can never hold a limit the time-limit code cannot parse, a process nobody can start, or a unit
kind no unit has. A problem is an :class:`InvalidInput` naming the code and the field; nothing is written.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, or_, select

from app import runtime
from app.audit.services import Actor, record
from app.categories.models import CATEGORY_KINDS, RESPONSIBLE_LEVELS, Category
from app.clock import now
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.inputs import contains_text
from app.timelimits.calendar import SEVERITIES, CalendarError, TimeLimit
from app.units.models import UNIT_KINDS
from app.workflow.models import ProcessDefinition

CATALOGUE_PATH = Path(__file__).with_name("catalogue.json")
CODE_PATTERN = re.compile(r"^[EP](?!00)\d{2}(?:(?!00)\d{2})?$")
KIND_PREFIXES = {"E": "event", "P": "part"}
MAX_NAME = 80
MAX_NAME_EN = 120
# Which unit kind answers for the street and district levels when the entry names none.
LEVEL_UNIT_KINDS = {"street": "street_office", "district": "district_bureau"}
FIELDS = (
    "code",
    "name",
    "name_en",
    "default_severity",
    "responsible_level",
    "responsible_unit_kind",
    "handle_limit",
    "close_limit",
    "process_key",
    "active",
)
REQUIRED = (
    "code",
    "name",
    "default_severity",
    "responsible_level",
    "handle_limit",
    "close_limit",
    "process_key",
)
_BPMN_NS = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"

Progress = Callable[[int], None]


# -- rules -------------------------------------------------------------------------------------------


def kind_of(code: str) -> str:
    return KIND_PREFIXES[code[0]]


def parent_of(code: str) -> str | None:
    """``E0102`` → ``E01``; a class has no parent."""
    return code[:3] if len(code) == 5 else None


def known_process_keys() -> set[str]:
    """Deployed process keys, and the executable process ids of the diagrams in the bpmn folder (so the
    catalogue can load before the first deployment)."""
    keys = set(db.session.execute(select(ProcessDefinition.key).distinct()).scalars())
    folder = runtime.settings().bpmn_folder
    for path in sorted(folder.glob("*.bpmn")):
        try:
            root = ElementTree.parse(path).getroot()
        except ElementTree.ParseError:
            continue  # deployment reports a broken diagram; here it simply offers no key
        keys.update(p.get("id", "") for p in root.iter(f"{_BPMN_NS}process") if p.get("id"))
    return keys


def _text_problem(value: Any, limit: int, required: bool) -> str | None:
    if value is None:
        return "required" if required else None
    if not isinstance(value, str) or not value.strip():
        return "must be non-blank text"
    if len(value.strip()) > limit:
        return f"at most {limit} characters"
    return None


def _limit_problem(value: Any) -> str | None:
    if value is None or value == "":
        return "required: a time limit such as '4wh' (working hours), '20wd' (working days) or '24h'"
    try:
        TimeLimit.parse(value)
    except CalendarError as exc:
        return str(exc)
    return None


def entry_problems(entry: Mapping[str, Any], process_keys: set[str]) -> dict[str, str]:
    """What is wrong with one entry on its own, by field (empty when nothing is)."""
    problems: dict[str, str] = {}
    unknown = sorted(set(entry) - set(FIELDS) - {"kind"})
    if unknown:
        problems["fields"] = f"unknown field(s) {', '.join(unknown)}; expected {', '.join(FIELDS)}"
    for name in REQUIRED:
        if entry.get(name) is None:
            problems[name] = "required"
    code = entry.get("code")
    if code is not None and (not isinstance(code, str) or not CODE_PATTERN.match(code)):
        problems["code"] = (
            f"{code!r} is not a category code: E (event) or P (part), a 2-digit class and an optional "
            "2-digit sub-class, e.g. E01 or E0102"
        )
    elif isinstance(code, str) and entry.get("kind") is not None and entry["kind"] != kind_of(code):
        problems["kind"] = f"{entry['kind']!r} does not match the code prefix ({kind_of(code)})"
    for name, limit, required in (("name", MAX_NAME, True), ("name_en", MAX_NAME_EN, False)):
        if name not in problems and (problem := _text_problem(entry.get(name), limit, required)):
            problems[name] = problem
    severity = entry.get("default_severity")
    if severity is not None and severity not in SEVERITIES:
        problems["default_severity"] = f"{severity!r}: expected one of {', '.join(SEVERITIES)}"
    level = entry.get("responsible_level")
    if level is not None and level not in RESPONSIBLE_LEVELS:
        problems["responsible_level"] = f"{level!r}: expected one of {', '.join(RESPONSIBLE_LEVELS)}"
    unit_kind = entry.get("responsible_unit_kind")
    if unit_kind is not None and unit_kind not in UNIT_KINDS:
        problems["responsible_unit_kind"] = (
            f"unknown unit kind {unit_kind!r}; expected one of {', '.join(UNIT_KINDS)}"
        )
    elif level == "unit" and unit_kind is None:
        problems["responsible_unit_kind"] = "required when responsible_level is 'unit'"
    elif level in ("grid", "community") and unit_kind is not None:
        problems["responsible_unit_kind"] = f"only for unit, street or district levels, not {level!r}"
    for name in ("handle_limit", "close_limit"):
        if name not in problems and (problem := _limit_problem(entry.get(name))):
            problems[name] = problem
    process_key = entry.get("process_key")
    if process_key is not None and process_key not in process_keys:
        problems["process_key"] = (
            f"unknown process key {process_key!r}: not deployed and not in the bpmn folder "
            f"(known: {', '.join(sorted(process_keys)) or 'none'})"
        )
    active = entry.get("active")
    if active is not None and not isinstance(active, bool):
        problems["active"] = "must be true or false"
    return problems


def _row_values(entry: Mapping[str, Any]) -> dict[str, Any]:
    code = entry["code"]
    return {
        "kind": kind_of(code),
        "parent_code": parent_of(code),
        "name": entry["name"].strip(),
        "name_en": (entry.get("name_en") or "").strip() or None,
        "default_severity": entry["default_severity"],
        "responsible_level": entry["responsible_level"],
        "responsible_unit_kind": entry.get("responsible_unit_kind"),
        "handle_limit": str(TimeLimit.parse(entry["handle_limit"])),
        "close_limit": str(TimeLimit.parse(entry["close_limit"])),
        "process_key": entry["process_key"],
        "active": entry.get("active", True),
    }


def as_entry(category: Category) -> dict[str, Any]:
    """A category as the data file writes it (the inverse of loading)."""
    entry: dict[str, Any] = {"code": category.code, "name": category.name}
    if category.name_en:
        entry["name_en"] = category.name_en
    entry.update(
        default_severity=category.default_severity,
        responsible_level=category.responsible_level,
    )
    if category.responsible_unit_kind:
        entry["responsible_unit_kind"] = category.responsible_unit_kind
    entry.update(
        handle_limit=category.handle_limit,
        close_limit=category.close_limit,
        process_key=category.process_key,
    )
    if not category.active:
        entry["active"] = False
    return entry


# -- import ------------------------------------------------------------------------------------------


@dataclass
class SyncReport:
    total: int
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "created_codes": self.created,
            "updated_codes": self.updated,
        }


def read_catalogue(path: Path) -> list[Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}", {"file": str(exc)}) from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path.name} is not JSON", {"file": f"line {exc.lineno}: {exc.msg}"}) from exc
    entries = document.get("categories") if isinstance(document, dict) else document
    if not isinstance(entries, list) or not entries:
        raise InvalidInput(
            f"{path.name} has no categories", {"categories": "expected a non-empty list under 'categories'"}
        )
    return entries


def validate_entries(entries: list[Any], progress: Progress | None = None) -> dict[str, dict[str, str]]:
    """Every problem of the whole file, keyed by code (or ``#index`` when the code is unusable)."""
    process_keys = known_process_keys()
    problems: dict[str, dict[str, str]] = {}
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems[f"#{index}"] = {"entry": "expected an object"}
        else:
            found = entry_problems(entry, process_keys)
            code = entry.get("code")
            label = code if isinstance(code, str) and "code" not in found else f"#{index}"
            if label in seen:
                found["code"] = f"duplicate: also entry #{seen[label]}"
            seen.setdefault(label, index)
            if found:
                problems.setdefault(label, {}).update(found)
        if progress is not None:
            progress(1)
    codes = set(seen)
    existing = set(db.session.execute(select(Category.code)).scalars())
    for code in codes:
        parent = parent_of(code) if CODE_PATTERN.match(code) else None
        if parent is not None and parent not in codes and parent not in existing:
            problems.setdefault(code, {})["code"] = (
                f"its class {parent} is neither in the file nor in the catalogue"
            )
    return problems


def sync_catalogue(
    path: Path | None = None, *, actor: Actor | None = None, progress: Progress | None = None
) -> SyncReport:
    """Upsert every category of the data file (default ``app/categories/catalogue.json``), or none.

    Categories in the database but not in the file stay as they are (deactivate them through the API).
    """
    source = path or CATALOGUE_PATH
    entries = read_catalogue(source)
    problems = validate_entries(entries, progress)
    if problems:
        first = next(iter(problems))
        raise InvalidInput(
            f"{len(problems)} of {len(entries)} categories rejected (first: {first}: "
            f"{'; '.join(f'{k}: {v}' for k, v in problems[first].items())}); nothing was imported",
            problems,
        )
    report = SyncReport(total=len(entries))
    existing = {c.code: c for c in db.session.execute(select(Category)).scalars()}
    timestamp = now()
    # Classes first, so a sub-class never points at a class written after it.
    for entry in sorted(entries, key=lambda e: (len(e["code"]), e["code"])):
        values = _row_values(entry)
        category = existing.get(entry["code"])
        if category is None:
            db.session.add(Category(code=entry["code"], updated_at=timestamp, **values))
            report.created.append(entry["code"])
        elif any(getattr(category, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(category, name, value)
            category.updated_at = timestamp
            report.updated.append(entry["code"])
        else:
            report.unchanged += 1
    db.session.flush()
    if report.created or report.updated:
        record(
            "categories.imported",
            entity_type="category_catalogue",
            entity_id=source.name,
            actor=actor,
            data=report.as_dict(),
        )
    return report


def export_catalogue() -> dict[str, Any]:
    rows = db.session.execute(select(Category).order_by(Category.code)).scalars()
    return {"categories": [as_entry(c) for c in rows]}


# -- reading -----------------------------------------------------------------------------------------


def get_category(code: str | None, *, active_only: bool = True) -> Category | None:
    """The category ``code`` (active ones only, unless told otherwise), or None."""
    if not code:
        return None
    category = db.session.get(Category, code)
    if category is None or (active_only and not category.active):
        return None
    return category


def require_category(code: str) -> Category:
    category = get_category(code, active_only=False)
    if category is None:
        raise NotFound(f"category {code} does not exist", {"code": code})
    return category


def list_categories(
    kind: str | None = None,
    parent: str | None = None,
    q: str | None = None,
    include_inactive: bool = False,
) -> Select[Any]:
    """Categories by code. ``parent``: a class's sub-classes (``""``: the classes themselves)."""
    query = select(Category)
    if kind:
        query = query.where(Category.kind == kind)
    if parent is not None:
        query = query.where(
            Category.parent_code.is_(None) if parent == "" else Category.parent_code == parent
        )
    if q:
        query = query.where(
            or_(
                contains_text(Category.code, q),
                contains_text(Category.name, q),
                contains_text(Category.name_en, q),
            )
        )
    if not include_inactive:
        query = query.where(Category.active.is_(True))
    return query.order_by(Category.code)


# -- editing (admins, through the API) --------------------------------------------------------------


def _check(entry: Mapping[str, Any]) -> None:
    problems = entry_problems(entry, known_process_keys())
    if problems:
        code = entry.get("code")
        raise InvalidInput(
            f"category {code}: invalid {', '.join(sorted(problems))}",
            problems,
        )


def _audit(action: str, category: Category, actor: Actor, before: dict[str, Any] | None) -> None:
    record(
        action,
        entity_type="category",
        entity_id=category.code,
        actor=actor,
        before=before,
        after=as_entry(category) | {"active": category.active},
    )


def create_category(actor: Actor, entry: Mapping[str, Any]) -> Category:
    _check(entry)
    code = entry["code"]
    if db.session.get(Category, code) is not None:
        raise InvalidInput(f"category {code} already exists", {"code": f"{code} already exists"})
    parent = parent_of(code)
    if parent is not None and db.session.get(Category, parent) is None:
        raise InvalidInput(f"category {code}: class {parent} does not exist", {"code": f"no class {parent}"})
    category = Category(code=code, updated_at=now(), **_row_values(entry))
    db.session.add(category)
    db.session.flush()
    _audit("category.created", category, actor, None)
    return category


def update_category(actor: Actor, code: str, changes: Mapping[str, Any], *, replace: bool) -> Category:
    """PUT (``replace``: every field given) or PATCH (only the fields given)."""
    category = require_category(code)
    if "code" in changes and changes["code"] != code:
        raise InvalidInput("the code of a category cannot change", {"code": f"expected {code}"})
    before = as_entry(category) | {"active": category.active}
    entry = dict(changes) if replace else {**before, **changes}
    entry["code"] = code
    _check(entry)
    values = _row_values(entry)
    if not any(getattr(category, name) != value for name, value in values.items()):
        return category
    for name, value in values.items():
        setattr(category, name, value)
    category.updated_at = now()
    db.session.flush()
    _audit("category.updated", category, actor, before)
    return category


def deactivate_category(actor: Actor, code: str) -> Category:
    """DELETE: a category is never removed (cases keep pointing at it); it stops being offered."""
    category = require_category(code)
    if not category.active:
        return category
    before = as_entry(category) | {"active": True}
    category.active = False
    category.updated_at = now()
    db.session.flush()
    _audit("category.deactivated", category, actor, before)
    return category


def responsibility(category: Category | None) -> tuple[str, str | None]:
    """(level, unit kind) of a category: who handles its cases. No category: the grid's workers."""
    if category is None:
        return "grid", None
    level = category.responsible_level
    if level in ("grid", "community"):
        return level, None
    return level, category.responsible_unit_kind or LEVEL_UNIT_KINDS.get(level)


__all__ = [
    "CATALOGUE_PATH",
    "CATEGORY_KINDS",
    "SyncReport",
    "as_entry",
    "create_category",
    "deactivate_category",
    "export_catalogue",
    "get_category",
    "list_categories",
    "require_category",
    "responsibility",
    "sync_catalogue",
    "update_category",
]
