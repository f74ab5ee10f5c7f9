"""What every adapter returns (a ``ParsedMessage`` of normalized ``Reading``s) or raises
(``DeadLetterReason``), and the checks they share. Adapters are pure: bytes in, readings out, no database,
no clock."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class DeadLetterReason(Exception):
    """Why a message cannot be used. ``code`` is one of REASON_CODES; ``reason`` says what is wrong, where."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


REASON_CODES = (
    "oversized",  # more bytes than SENSOR_MAX_PAYLOAD_BYTES
    "binary",  # not UTF-8 text
    "malformed_json",  # text, but not JSON (or not a JSON object)
    "empty",  # no payload at all
    "unknown_topic",  # no adapter reads this topic
    "unknown_field",  # a field the device family does not have
    "wrong_type",  # a known field with a value of the wrong type
    "out_of_range",  # a number outside its range, or a value outside its set
    "unknown_device",  # no registered device by that name or id
    "device_mismatch",  # the payload's kind does not fit the registered device type
    "internal_error",  # the message broke something of ours; kept so nothing is lost
)


@dataclass(frozen=True)
class Reading:
    """One alarm state seen in a message: ``active`` True raises (or repeats) the alarm, False clears it.
    ``snapshot``: an image the device sent with it (AI cameras); ``values`` only say its hash and size, and
    ingestion keeps the bytes for the case if the reading opens an alarm."""

    alarm_type: str
    active: bool
    values: Mapping[str, Any] = field(default_factory=dict)
    snapshot: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ParsedMessage:
    family: str  # zigbee2mqtt | generic
    device_ref: str  # a friendly name (zigbee2mqtt) or a device id (generic)
    by_friendly_name: bool
    readings: tuple[Reading, ...] = ()
    telemetry: Mapping[str, Any] = field(default_factory=dict)  # everything else worth keeping
    available: bool | None = None  # availability messages: online / offline
    kind: str | None = None  # generic payloads: hydrant | elevator | smartwatch | ai_camera
    network_event: str | None = None  # zigbee2mqtt bridge/event: device_joined | device_leave | …


def decode_json_object(payload: bytes, max_bytes: int) -> dict[str, Any]:
    """The payload as a JSON object, or the reason it is not one."""
    if len(payload) > max_bytes:
        raise DeadLetterReason("oversized", f"payload has {len(payload)} bytes; the limit is {max_bytes}")
    if not payload:
        raise DeadLetterReason("empty", "payload is empty")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeadLetterReason("binary", f"payload is not UTF-8 text (byte {exc.start})") from exc
    if "\x00" in text:
        raise DeadLetterReason("binary", "payload contains NUL bytes")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise DeadLetterReason("malformed_json", f"payload is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DeadLetterReason("malformed_json", f"payload must be a JSON object, got {type(data).__name__}")
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# -- field checks: each returns the value or raises DeadLetterReason naming the field --------------------

Check = Callable[[str, Any], Any]


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise DeadLetterReason("wrong_type", f"{name} must be true or false, got {value!r}")
    return value


def number(low: float, high: float, integer: bool = False) -> Check:
    def check(name: str, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DeadLetterReason("wrong_type", f"{name} must be a number, got {value!r}")
        if integer and not float(value).is_integer():
            raise DeadLetterReason("wrong_type", f"{name} must be a whole number, got {value!r}")
        if not math.isfinite(value) or not low <= value <= high:
            raise DeadLetterReason(
                "out_of_range", f"{name} must be between {low:g} and {high:g}, got {value!r}"
            )
        return value

    return check


def one_of(*choices: str) -> Check:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise DeadLetterReason("wrong_type", f"{name} must be a string, got {value!r}")
        if value not in choices:
            raise DeadLetterReason("out_of_range", f"{name} must be one of {list(choices)}, got {value!r}")
        return value

    return check


def text(max_length: int) -> Check:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise DeadLetterReason("wrong_type", f"{name} must be a string, got {value!r}")
        if len(value) > max_length:
            raise DeadLetterReason(
                "out_of_range", f"{name} has {len(value)} characters; at most {max_length}"
            )
        return value

    return check


def anything(_name: str, value: Any) -> Any:
    return value


def check_fields(
    data: Mapping[str, Any], schema: Mapping[str, Check], where: str, tolerant: bool = False
) -> dict[str, Any]:
    """Every field valid; ``null`` means "not reported". A field the schema does not know is an
    ``unknown_field``, or, ``tolerant``, kept as it came (a value we do not use: never a dead letter)."""
    unknown = sorted(set(data) - set(schema))
    if unknown and not tolerant:
        raise DeadLetterReason("unknown_field", f"{where} has unknown field(s): {', '.join(unknown)}")
    return {
        name: schema[name](name, value) if name in schema else value
        for name, value in data.items()
        if value is not None
    }
