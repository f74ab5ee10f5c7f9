"""The pages' words for what the services refuse. The services answer in the API's English, naming the
field (and, for a grid import, the kind of problem); a page shows beside each field what to do, in the page
language, and keeps the service's own text underneath for the particulars (codes, dates, areas)."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from app.grids.codes import LEVEL_LABELS
from app.holidays.services import Problem
from app.units.models import UNIT_KINDS
from app.web.i18n import current_language

# A grid import's rejected feature, by the service's kind (app.grids.services.Rejection.kind).
REJECTION_WORDS = {
    "invalid_feature": lazy_pgettext(
        "admin_data",
        "Not a usable feature: a GeoJSON Feature needs properties code and name (1-120 characters).",
    ),
    "bad_code": lazy_pgettext(
        "admin_data", "Bad code: a district has 6 digits and each level below adds 3; no segment may be 000."
    ),
    "invalid_geometry": lazy_pgettext(
        "admin_data", "Bad outline: a Polygon or MultiPolygon in WGS-84 degrees that does not cross itself."
    ),
    "duplicate_code": lazy_pgettext(
        "admin_data", "Duplicate code: twice in the file, or already stored with another name or outline."
    ),
    "unknown_parent": lazy_pgettext(
        "admin_data", "Unknown parent: the grid above it is neither in this file nor stored."
    ),
    "outside_parent": lazy_pgettext(
        "admin_data", "Outside its parent: the outline sticks out of the grid above it."
    ),
    "overlap": lazy_pgettext(
        "admin_data", "Overlaps a sibling: grids under the same parent may touch but not overlap."
    ),
}

CATEGORY_FIELD_WORDS = {
    "code": lazy_pgettext(
        "admin_data", "E (event) or P (part), a 2-digit class and an optional 2-digit sub-class, e.g. E0102."
    ),
    "name": lazy_pgettext("admin_data", "Give a name of at most 80 characters."),
    "name_en": lazy_pgettext("admin_data", "At most 120 characters, or leave it empty."),
    "default_severity": _l("Choose one of the listed values."),
    "responsible_level": _l("Choose one of the listed values."),
    "responsible_unit_kind": lazy_pgettext(
        "admin_data", "Needed when a unit is responsible; only for unit, street or district levels."
    ),
    "handle_limit": lazy_pgettext(
        "admin_data", "A time limit such as 4wh (working hours), 20wd (working days) or 24h (clock hours)."
    ),
    "close_limit": lazy_pgettext(
        "admin_data", "A time limit such as 4wh (working hours), 20wd (working days) or 24h (clock hours)."
    ),
    "process_key": lazy_pgettext("admin_data", "Choose a deployed process."),
}

UNIT_FIELD_WORDS = {
    "code": lazy_pgettext(
        "admin_data", "2-40 lowercase letters, digits, '_' or '-', starting with a letter or digit."
    ),
    "name": lazy_pgettext("admin_data", "Give a name of at most 120 characters."),
    "kind": _l("Choose one of the listed values."),
    "phone": lazy_pgettext("admin_data", "At most 32 characters."),
    "grids": lazy_pgettext("admin_data", "Grid codes, one per line, each an existing grid."),
}

HOLIDAY_WORDS = {
    "not_a_date": lazy_pgettext(
        "admin_data", "%(value)s is not a date (YYYY-MM-DD) or a range (YYYY-MM-DD ~ YYYY-MM-DD)."
    ),
    "other_year": lazy_pgettext("admin_data", "%(value)s is not in this year."),
    "twice": lazy_pgettext("admin_data", "%(value)s is listed twice."),
    "in_both": lazy_pgettext("admin_data", "%(value)s is both a holiday and a make-up working day."),
    "not_weekend": lazy_pgettext(
        "admin_data", "%(value)s is a weekday: a make-up working day falls on a Saturday or Sunday."
    ),
    "bad_range": lazy_pgettext("admin_data", "%(value)s: a range runs forward and spans at most 31 days."),
    "bad_year": lazy_pgettext("admin_data", "Give a year from 2004 to 2100."),
    "too_long": lazy_pgettext("admin_data", "At most 200 characters."),
    "not_json": lazy_pgettext("admin_data", "Not a schedule file (JSON keyed by year)."),
    "bad_file": lazy_pgettext("admin_data", "Not a schedule file: %(value)s"),
}


LEVEL_WORDS = {
    "district": lazy_pgettext("admin_data", "District"),
    "street": lazy_pgettext("admin_data", "Street"),
    "community": lazy_pgettext("admin_data", "Community"),
    "grid": lazy_pgettext("admin_data", "Comprehensive grid"),
    "compound": lazy_pgettext("admin_data", "Compound"),
    "building": lazy_pgettext("admin_data", "Building"),
}


def level_label(level: str) -> str:
    """A grid level in the page language (zh-CN as app.grids.codes.LEVEL_LABELS names them)."""
    return str(LEVEL_WORDS.get(level, LEVEL_LABELS.get(level, level)))


def field_errors(details: Any, words: dict[str, Any]) -> dict[str, str]:
    """Each refused field with the page's words and the service's particulars."""
    if not isinstance(details, dict):
        return {"form": str(details)}
    errors: dict[str, str] = {}
    for name, message in details.items():
        key = str(name)
        said = words.get(key)
        errors[key] = f"{said} ({message})" if said is not None else str(message)
    return errors


def holiday_errors(problems: list[Problem]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for problem in problems:
        words = HOLIDAY_WORDS.get(problem.kind)
        text = str(words) % {"value": problem.value} if words is not None else problem.english()
        errors.setdefault(problem.field, []).append(text)
    return errors


RESPONSIBLE_LEVEL_WORDS = {
    "grid": lazy_pgettext("admin_data", "The grid's workers"),
    "community": lazy_pgettext("admin_data", "The community"),
    "street": lazy_pgettext("admin_data", "The street"),
    "district": lazy_pgettext("admin_data", "The district"),
    "unit": lazy_pgettext("admin_data", "A unit"),
}


def responsible_level(level: str) -> str:
    return str(RESPONSIBLE_LEVEL_WORDS.get(level, level))


def unit_kind(kind: str) -> str:
    names = UNIT_KINDS.get(kind)
    if names is None:
        return kind
    return names[1] if current_language() == "en" else names[0]


PLAN_FIELD_WORDS = {
    "code": lazy_pgettext("admin_data", "2-40 lowercase letters, digits or '_', starting with a letter."),
    "name": lazy_pgettext("admin_data", "Give a name of at most 120 characters."),
    "name_en": lazy_pgettext("admin_data", "Give an English name of at most 120 characters."),
    "description": lazy_pgettext("admin_data", "At most 2000 characters."),
    "checklist": lazy_pgettext("admin_data", "1-50 items, one per line, each at most 200 characters."),
    "contact_call_limit": lazy_pgettext(
        "admin_data", "For SOS and fall alarms: clock minutes such as 2m; empty for other plans."
    ),
    "triggers.categories": lazy_pgettext("admin_data", "Category codes such as E0404, one per line."),
    "responders": lazy_pgettext("admin_data", "Give at least one responder."),
}
# A responder row's refusals (``row-<n>`` and ``row-<n>.<field>``), by what follows the row number.
PLAN_ROW_WORDS = {
    "": lazy_pgettext("admin_data", "Choose who responds in this row."),
    ".unit_kind": lazy_pgettext("admin_data", "Choose who responds in this row."),
    ".unit_code": lazy_pgettext("admin_data", "Choose an active unit."),
    ".limit": lazy_pgettext("admin_data", "Clock minutes (15m), hours (0.5h) or working time (1wh, 1wd)."),
    ".label": lazy_pgettext("admin_data", "At most 120 characters, or leave it empty."),
}


def plan_errors(details: dict[str, str]) -> dict[str, str]:
    """The plan form's refusals (rows already numbered as the form's) with the page's words."""
    words: dict[str, Any] = dict(PLAN_FIELD_WORDS)
    for key in details:
        match = re.match(r"^(?:row-\d+|responders\[\d+\])(.*)$", key)
        if match is not None and match.group(1) in PLAN_ROW_WORDS:
            words[key] = PLAN_ROW_WORDS[match.group(1)]
    return field_errors(details, words)


def plan_file_errors(details: Any) -> dict[str, Any]:
    """A refused plans file: each refused plan (by code, or ``#index``), its fields in the page's words."""
    if not isinstance(details, dict):
        return {"file": str(details)}
    return {
        key: plan_errors(problems) if isinstance(problems, dict) else str(problems)
        for key, problems in details.items()
    }
