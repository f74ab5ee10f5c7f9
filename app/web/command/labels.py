"""What the command centre shows for its codes: emergency statuses, how it started, responder states,
escalation levels and unit kinds. Every msgid has the context "command" (catalogues merge into one table)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_pgettext, pgettext

from app.units.models import UNIT_KINDS
from app.web.i18n import current_language
from app.web.labels import time_limit_text

STATUSES = {
    "active": lazy_pgettext("command", "Responding"),
    "controlled": lazy_pgettext("command", "Under control"),
    "closed": lazy_pgettext("command", "Ended"),
    "reviewed": lazy_pgettext("command", "Reviewed"),
}
TRIGGERS = {
    "plan": lazy_pgettext("command", "Plan launched"),
    "report": lazy_pgettext("command", "Red report"),
    "alarm": lazy_pgettext("command", "Critical alarm"),
}
# The board's three states of a responder (app.web.command.board.responder_state).
STATES = {
    "reported": lazy_pgettext("command", "Reported in"),
    "pending": lazy_pgettext("command", "Pending"),
    "overdue": lazy_pgettext("command", "Overdue"),
    "missed": lazy_pgettext("command", "Not reported: with the supervisor"),
}
LEVELS = {
    "community": lazy_pgettext("command", "Community"),
    "street": lazy_pgettext("command", "Street"),
    "district": lazy_pgettext("command", "District"),
    "supervisor": lazy_pgettext("command", "Supervisor"),
}
STEP_STATES = {
    "waiting": lazy_pgettext("command", "Not yet"),
    "open": lazy_pgettext("command", "To do"),
    "claimed": lazy_pgettext("command", "Being done"),
    "done": lazy_pgettext("command", "Done"),
}


def _lookup(table: dict[str, Any], key: str | None) -> str:
    return "" if key is None else str(table.get(key, key))


def status(key: str | None) -> str:
    return _lookup(STATUSES, key)


def trigger(key: str | None) -> str:
    return _lookup(TRIGGERS, key)


def state(key: str | None) -> str:
    return _lookup(STATES, key)


def level(key: str | None) -> str:
    return _lookup(LEVELS, key)


def step_state(key: str | None) -> str:
    return _lookup(STEP_STATES, key)


def unit_kind(kind: str | None) -> str:
    names = UNIT_KINDS.get(kind or "")
    if names is None:
        return kind or ""
    return names[1] if current_language() == "en" else names[0]


def limit(text: str | None) -> str:
    """A report-in limit in words: clock minutes ("10m" → "10 分钟"), else as the other time limits."""
    if text and text.endswith("m") and text[:-1].replace(".", "", 1).isdigit():
        return pgettext("command", "%(n)s min", n=text[:-1])
    return time_limit_text(text)
