"""Gaps a device's own zigbee2mqtt messages reveal (``last_seen`` and ``elapsed``)."""

from __future__ import annotations

import json
from typing import Any

from connectors.gaps import SequenceWatch

T0 = 1_796_000_000_000  # epoch milliseconds


def _payload(last_seen: Any, elapsed: Any = None, **fields: Any) -> bytes:
    data = {"water_leak": False, "last_seen": last_seen, **fields}
    if elapsed is not None:
        data["elapsed"] = elapsed
    return json.dumps(data).encode()


def test_a_message_whose_elapsed_points_past_the_last_one_received_is_a_gap() -> None:
    watch = SequenceWatch()
    topic = "zigbee2mqtt/3栋/1201/厨房水浸"
    assert watch.observe(topic, _payload(T0, 60_000)) is None  # the first one: nothing to compare
    assert watch.observe(topic, _payload(T0 + 60_000, 60_000)) is None  # its predecessor is the one we have
    assert watch.observe(topic, _payload(T0 + 62_000, 2_000)) is None
    gap = watch.observe(topic, _payload(T0 + 182_000, 60_000))  # its predecessor (T0+122 s) never came
    assert gap is not None
    assert gap["friendly_name"] == "3栋/1201/厨房水浸" and gap["elapsed_ms"] == 60_000
    assert gap["previous_received_last_seen"].startswith("2026-") and "not received" in gap["reason"]
    assert watch.observe(topic, _payload(T0 + 242_000, 60_000)) is None  # caught up


def test_iso_timestamps_redeliveries_and_messages_without_elapsed() -> None:
    watch = SequenceWatch()
    topic = "zigbee2mqtt/door"
    assert watch.observe(topic, _payload("2026-12-05T10:00:00+08:00", 1000)) is None
    assert watch.observe(topic, _payload("2026-12-05T10:00:00+08:00", 1000)) is None  # a redelivery
    assert watch.observe(topic, _payload("2026-12-05T09:59:00+08:00", 1000)) is None  # older: ignored
    assert watch.observe(topic, _payload("2026-12-05T02:10:00Z", 60_000)) is not None  # 9 minutes missing
    assert watch.observe(topic, _payload("2026-12-05T02:30:00Z")) is None  # no elapsed: not looked at
    assert watch.observe(topic, _payload("2026-12-05T10:40:00", 5_000)) is None  # no offset: not comparable
    assert watch.observe("zigbee2mqtt/door/availability", b'{"state":"online","elapsed":5}') is None
    assert watch.observe("gridcase/devices/x", _payload(T0, 5)) is None
    assert watch.observe(topic, b'{"elapsed": true, "last_seen": true}') is None
    assert watch.observe(topic, b'not json "elapsed"') is None
