"""Filing a dispute on a resident's behalf from the page: the form's fields turned into the API's input
(``DisputeFileInput``: the same rules, the same service), and each refusal put beside its field in the page
language. Field names on the page: ``dispute_type``, ``description``, ``grid_code``, ``address``, the
place marked on the map (``lat``, ``lon``: the grid is found from it when none is chosen), and
``parties-<i>-<name|phone|address|grid_code|role>`` for the party rows (a row with no name, phone or
address is left out)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from app.errors import InvalidInput
from app.mediation.schemas import DisputeFileInput

PARTY_ROWS = 3
PARTY_FIELDS = ("name", "phone", "address", "grid_code", "role")
# The role a row starts with: the applicant, the other side, then anyone else.
ROW_ROLES = ("applicant", "respondent", "third_party")
_SERVICE_FIELD = re.compile(r"^parties\[(\d+)\]\.(\w+)$")

FIELD_WORDS = {
    "dispute_type": _l("Choose the kind of dispute."),
    "description": _l("Describe what happened in 5 to 4,000 characters."),
    "grid_code": _l("Choose a grid from the list."),
    "lat": _l("Mark the place on the map again."),
    "lon": _l("Mark the place on the map again."),
    "address": _l("At most 300 characters."),
    "parties": _l("Give at least one party: the applicant's name."),
    "name": _l("Give the party's name (at most 80 characters)."),
    "phone": _l(
        "Give a mainland mobile number (11 digits) or a landline with its area code, e.g. 028-12345678."
    ),
    "role": _l("Choose the party's role in the dispute."),
}


class FormRefused(InvalidInput):
    """The form broke the API's input rules: ``details`` names the page's fields, in the page language."""


def party_field(row: int, name: str) -> str:
    return f"parties-{row}-{name}"


def _given(form: Mapping[str, str], name: str) -> str | None:
    value = (form.get(name) or "").strip()
    return value or None


def raw_fields(form: Mapping[str, str]) -> dict[str, Any]:
    """The API's input from the page's form: empty fields left out, as a client of the API would."""
    fields: dict[str, Any] = {
        name: value
        for name in ("dispute_type", "description", "grid_code", "address", "lat", "lon")
        if (value := _given(form, name)) is not None
    }
    parties = []
    for row in range(PARTY_ROWS):
        party = {
            name: value
            for name in PARTY_FIELDS
            if (value := _given(form, party_field(row, name))) is not None
        }
        if any(name in party for name in ("name", "phone", "address")):
            parties.append((row, party))
    fields["parties"] = [party for _, party in parties]
    fields["_rows"] = [row for row, _ in parties]  # which page row each party came from
    return fields


def _word(field: str, fallback: str) -> str:
    return str(FIELD_WORDS.get(field, fallback))


def load(form: Mapping[str, str]) -> tuple[dict[str, Any], list[int]]:
    """The validated input and the page row of each party, or ``FormRefused`` naming the page's fields."""
    fields = raw_fields(form)
    rows = fields.pop("_rows")
    try:
        return DisputeFileInput().load(fields), rows
    except ValidationError as exc:
        raise FormRefused("invalid dispute", page_errors(exc.normalized_messages(), rows)) from exc


def _first(messages: Any) -> str:
    if isinstance(messages, list) and messages:
        return str(messages[0])
    return str(messages)


def page_errors(messages: Mapping[str, Any], rows: list[int]) -> dict[str, str]:
    """marshmallow's nested messages as ``{page field: words}``."""
    errors: dict[str, str] = {}
    for field, found in messages.items():
        if field == "parties" and isinstance(found, Mapping):
            for index, party_messages in found.items():
                row = rows[int(index)] if int(index) < len(rows) else 0
                for name, text in party_messages.items():
                    errors[party_field(row, name)] = _word(name, _first(text))
        else:
            errors[field] = _word(field, _first(found))
    return errors


def service_errors(exc: InvalidInput, rows: list[int]) -> dict[str, str]:
    """The service's refusals (``grid_code``, ``parties[i].grid_code``) named as the page's fields."""
    errors: dict[str, str] = {}
    for field, text in (exc.details or {}).items():
        match = _SERVICE_FIELD.match(str(field))
        if match:
            index, name = int(match.group(1)), match.group(2)
            errors[party_field(rows[index] if index < len(rows) else 0, name)] = _word(name, str(text))
        else:
            errors[str(field)] = _word(str(field), str(text))
    return errors
