"""Hydrant pressure monitor (消防栓): ``{"kind": "hydrant", "pressure_kpa": 96.5}``.

Below ``LOW_PRESSURE_KPA`` (0.14 MPa, the outlet minimum of GB 50974) raises ``hydrant_low_pressure``;
at or above it clears the alarm.
"""

from __future__ import annotations

from typing import Any

from connectors.adapters.base import Check, Reading, number

KIND = "hydrant"
LOW_PRESSURE_KPA = 140.0
FIELDS: dict[str, Check] = {"pressure_kpa": number(0, 3000)}
REQUIRED = ("pressure_kpa",)


def readings(fields: dict[str, Any]) -> list[Reading]:
    pressure = fields["pressure_kpa"]
    return [Reading("hydrant_low_pressure", pressure < LOW_PRESSURE_KPA, {"pressure_kpa": pressure})]
