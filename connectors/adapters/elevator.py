"""Elevator monitor (电梯): ``{"kind": "elevator", "fault_code": "E35", "trapped": false, "floor": 7}``.

A non-empty ``fault_code`` (letters, digits, '-' or '_', up to 16) raises ``elevator_fault``; ``""`` clears
it. ``trapped`` raises / clears ``elevator_entrapment`` (people inside a stopped car: red). ``floor``,
``door_open`` and ``running`` are telemetry.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.adapters.base import Check, DeadLetterReason, Reading, boolean, number, text

KIND = "elevator"
FAULT_CODE = re.compile(r"^[A-Za-z0-9_-]{0,16}$")


def _fault_code(name: str, value: Any) -> str:
    code: str = text(16)(name, value)
    if not FAULT_CODE.match(code):
        raise DeadLetterReason("out_of_range", f"{name} must be letters, digits, '-' or '_', got {value!r}")
    return code


FIELDS: dict[str, Check] = {
    "fault_code": _fault_code,
    "trapped": boolean,
    "floor": number(-10, 300, integer=True),
    "door_open": boolean,
    "running": boolean,
}
REQUIRED: tuple[str, ...] = ()


def readings(fields: dict[str, Any]) -> list[Reading]:
    found = []
    if "fault_code" in fields:
        code = fields["fault_code"]
        found.append(Reading("elevator_fault", bool(code), {"fault_code": code} if code else {}))
    if "trapped" in fields:
        found.append(Reading("elevator_entrapment", fields["trapped"], _where(fields)))
    return found


def _where(fields: dict[str, Any]) -> dict[str, Any]:
    return {"floor": fields["floor"]} if "floor" in fields else {}
