"""Smartwatch of a protected person (智能手表):
``{"kind": "smartwatch", "heart_rate": 38, "geofence": "exit", "lat": 30.75, "lon": 103.97, "sos": false}``.

``heart_rate`` outside ``HEART_RATE_NORMAL`` raises ``heart_rate_abnormal`` (inside clears it); beyond
0-300 bpm is a broken reading (dead letter). ``geofence`` "exit" raises ``geofence_exit``, "inside" clears
it; ``sos`` raises / clears ``sos``. ``lat`` / ``lon`` (where the wearer is) go with the readings.
"""

from __future__ import annotations

from typing import Any

from connectors.adapters.base import Check, Reading, boolean, number, one_of

KIND = "smartwatch"
HEART_RATE_NORMAL = (40, 150)  # bpm
FIELDS: dict[str, Check] = {
    "heart_rate": number(0, 300, integer=True),
    "geofence": one_of("inside", "exit"),
    "sos": boolean,
    "lat": number(-90, 90),
    "lon": number(-180, 180),
}
REQUIRED: tuple[str, ...] = ()


def readings(fields: dict[str, Any]) -> list[Reading]:
    where: dict[str, Any] = {k: fields[k] for k in ("lat", "lon") if k in fields}
    found = []
    if "heart_rate" in fields:
        rate = fields["heart_rate"]
        low, high = HEART_RATE_NORMAL
        found.append(Reading("heart_rate_abnormal", not low <= rate <= high, {"heart_rate": rate, **where}))
    if "geofence" in fields:
        found.append(Reading("geofence_exit", fields["geofence"] == "exit", where))
    if "sos" in fields:
        found.append(Reading("sos", fields["sos"], where))
    return found
