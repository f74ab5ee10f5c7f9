"""What the workbench shows for its codes: stages, channels, sorts, time-limit units, unit kinds."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.units.models import UNIT_KINDS
from app.web.i18n import current_language

STAGES = {"triage": _l("To accept"), "dispatch": _l("To dispatch")}
CHANNELS = {
    "resident": _l("Resident report"),
    "grid_worker": _l("Grid worker patrol"),
    "hotline": _l("12345 hotline"),
    "sensor": _l("Sensor"),
    "camera": _l("Video camera"),
    "web": _l("Web"),
}
SORTS = {"severity": _l("Most urgent first"), "age": _l("Oldest first")}
LIMIT_UNITS = {
    "working_hours": _l("working hours"),
    "working_days": _l("working days"),
    "hours": _l("hours (round the clock)"),
}


def channel(code: str | None) -> str:
    return str(CHANNELS.get(code or "", code or ""))


def stage(code: str) -> str:
    return str(STAGES.get(code, code))


def unit_kind(kind: str | None) -> str:
    names = UNIT_KINDS.get(kind or "")
    if names is None:
        return kind or ""
    return names[1] if current_language() == "en" else names[0]


def limit_unit(unit: str) -> str:
    return str(LIMIT_UNITS.get(unit, unit))


def proposal_reason(reason: str) -> str:
    """The engine writes its reason as "中文 / English": the part of the page's language."""
    zh, sep, en = reason.partition(" / ")
    if not sep:
        return reason
    return en if current_language() == "en" else zh
