"""Launching a plan from the page (启动预案): the form's fields checked by the API's own schema
(``LaunchInput``) and launched by the API's own service (``launch_plan``); each refusal is said in the page's
words next to its field, and a refused launch writes nothing (the request edge rolls back)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_pgettext, pgettext
from marshmallow import ValidationError

from app.auth.models import User
from app.emergency import services as emergencies
from app.emergency.models import Emergency, EmergencyPlan
from app.emergency.schemas import LaunchInput
from app.errors import InvalidInput

FORM_FIELDS = ("title", "description", "lat", "lon", "address")
# The API's messages are English and name its rules; the page says what to do, next to the field.
FIELD_WORDS = {
    "title": lazy_pgettext(
        "command", "Give a title of 2 to 120 characters, or leave it empty for the plan's name."
    ),
    "description": lazy_pgettext("command", "Describe the situation in at most 4000 characters."),
    "location": lazy_pgettext("command", "Click the map to mark where it happens."),
    "address": lazy_pgettext("command", "Give the address in at most 300 characters."),
}


class LaunchRefused(Exception):
    """The form's fields that were refused, each with the page's words for it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


def _words(names: list[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name in names:
        key = "location" if name in ("lat", "lon", "_schema") else name
        errors[key] = str(FIELD_WORDS.get(key, FIELD_WORDS["location"]))
    return errors


def fields_of(form: Mapping[str, str]) -> dict[str, Any]:
    """The filled fields of the form, checked as the API checks a launch."""
    raw: dict[str, Any] = {name: (form.get(name) or "").strip() for name in FORM_FIELDS}
    raw = {name: value for name, value in raw.items() if value}
    if ("lat" in raw) != ("lon" in raw):
        raise LaunchRefused(_words(["lat"]))
    try:
        return dict(LaunchInput().load(raw | {"plan_code": form.get("plan_code", "")}))
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise LaunchRefused(_words(sorted(messages))) from exc


def launch(user: User, plan: EmergencyPlan, form: Mapping[str, str]) -> Emergency:
    fields = fields_of({**form, "plan_code": plan.code})
    try:
        return emergencies.launch_plan(user, fields)
    except InvalidInput as exc:
        if "plan_code" not in exc.details:
            raise
        # none of the plan's responders resolved: name them all, in the page's words
        wanted = "、".join(
            str(r.get("label") or r.get("unit_code") or r.get("unit_kind")) for r in plan.responders
        )
        words = pgettext(
            "command",
            "No responder of this plan is available now (%(reasons)s): check its units in the admin console.",
            reasons=wanted,
        )
        raise LaunchRefused({"plan": words}) from exc
