"""What people read for the sensor codes: device status, device and alarm types (their labels live with the
types, in both languages), dead-letter reasons, and the register form's fields and their problems."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from app.devices.types import ALARM_TYPES, DEVICE_TYPES, DeviceStatus
from app.web.i18n import current_language

STATUS_LABELS = {
    DeviceStatus.ONLINE: lazy_pgettext("sensors", "Online"),
    DeviceStatus.OFFLINE: lazy_pgettext("sensors", "Offline"),
    DeviceStatus.LOW_BATTERY: lazy_pgettext("sensors", "Low battery"),
    DeviceStatus.TAMPERED: lazy_pgettext("sensors", "Tampered"),
    DeviceStatus.NEVER_SEEN: lazy_pgettext("sensors", "Never reported"),
}

REASON_LABELS = {
    "oversized": _l("Too large"),
    "binary": _l("Not text"),
    "malformed_json": _l("Not valid JSON"),
    "empty": _l("Empty message"),
    "unknown_topic": _l("Unknown topic"),
    "unknown_field": _l("Unknown field"),
    "wrong_type": _l("Value of the wrong type"),
    "out_of_range": _l("Value out of range"),
    "unknown_device": _l("Unregistered device"),
    "device_mismatch": _l("Does not fit the device type"),
    "internal_error": _l("Internal error"),
}

INCIDENT_STATES = {"active": _l("Alarm still on"), "cleared": _l("All alarms cleared")}


def status(code: str) -> str:
    return str(STATUS_LABELS.get(code, code))


def device_type(code: str) -> str:
    kind = DEVICE_TYPES.get(code)
    if kind is None:
        return code
    return kind.label_en if current_language() == "en" else kind.label


def alarm_type(code: str) -> str:
    kind = ALARM_TYPES.get(code)
    if kind is None:
        return code
    return kind.label_en if current_language() == "en" else kind.label


def reason(code: str) -> str:
    return str(REASON_LABELS.get(code, code))


# The register form's fields, and what to do when one is refused: the service's own message (English,
# naming the rule) is kept beside it for the technician.
FIELD_LABELS = {
    "device_id": _l("Device ID"),
    "friendly_name": _l("Name in zigbee2mqtt"),
    "device_type": _l("Device type"),
    "lat": _l("Latitude"),
    "lon": _l("Longitude"),
    "address": _l("Address"),
    "building_code": _l("Building code"),
    "resident_name": _l("Resident"),
    "resident_phone": _l("Resident's phone"),
    "resident_notes": _l("Notes on the resident"),
    "emergency_contacts": _l("Emergency contacts"),
    "contacts": _l("Emergency contacts"),
    "file": _l("CSV file"),
    "row": _l("Row"),
}
FIELD_HINTS = {
    "device_id": _l("1 to 64 letters, digits or _ . : - (e.g. the IEEE address 0x00158d…)."),
    "friendly_name": _l("No + or #, no empty topic level; only the Zigbee coordinator is named bridge."),
    "device_type": _l("Choose one of the listed device types."),
    "lat": _l("Give latitude and longitude together, as decimal degrees."),
    "lon": _l("Give latitude and longitude together, as decimal degrees."),
    "address": _l("At most 300 characters."),
    "resident_name": _l("At most 80 characters."),
    "resident_phone": _l("At most 32 characters."),
    "resident_notes": _l("At most 500 characters."),
    "emergency_contacts": _l("One contact per line: name|phone|relation."),
    "contacts": _l("Contacts as name|phone|relation, separated by ;."),
}
TAKEN = {
    "device_id": _l("A device with this ID is registered already."),
    "friendly_name": _l("Another device has this name."),
}
DUPLICATE_IN_FILE = _l("This value is also on an earlier line of the file.")
NO_BUILDING = _l("No building has this code.")
NOT_A_BUILDING = _l("This code is not a building's (a building code has 21 digits).")


def field_label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))


def problem_text(name: str, problem: object) -> str:
    """The page's words for a refused field; ``problem`` is the service's detail for it (a register form's
    error detail, or an import rejection's reason)."""
    detail = _flatten(problem)
    if name in TAKEN and (detail == "taken" or detail.endswith(": taken")):
        return str(TAKEN[name])
    if name in ("device_id", "friendly_name") and (problem is None or "is also on line" in detail):
        return str(DUPLICATE_IN_FILE)
    if name == "building_code":
        return str(NO_BUILDING if "no building" in detail else NOT_A_BUILDING)
    hint = FIELD_HINTS.get(name)
    return f"{hint} ({detail})" if hint is not None and detail else str(hint or detail)


def _flatten(problem: object) -> str:
    if problem is None:
        return ""
    if isinstance(problem, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in problem.items())
    if isinstance(problem, list | tuple):
        return "; ".join(_flatten(item) for item in problem)
    return str(problem)


CHOOSE_LISTED = _l("Choose one of the listed values.")
EMPTY_FILE = _l("The file has no device rows.")
FILE_TOO_LARGE = _l("The file is too large (at most 5 MB and 20,000 rows).")
BAD_FILE = _l("Not a device CSV file: UTF-8, header first, with the columns of the template.")
NO_FILE = _l("Choose a CSV file.")
