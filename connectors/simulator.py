"""``flask connectors simulate SCENARIO.json``: realistic sensor streams from a scenario file.

A scenario (JSON; see ``connectors/scenarios/demo.json``) names its devices and a timeline::

    {"name": "…",
     "devices": [{"id": "leak-1201", "name": "锦绣花园/3栋/1201/厨房水浸", "type": "water_leak_sensor",
                  "lat": 30.79, "lon": 103.93, "resident_name": "王大爷", …}],
     "timeline": [{"at": 0, "event": "telemetry", "device": "leak-1201", "count": 5, "every": 2},
                  {"at": 12, "event": "alarm", "device": "leak-1201", "alarm": "water_leak", "repeat": 3},
                  {"at": 30, "event": "fire", "devices": ["smoke-1", "smoke-2"], "every": 1}]}

Device entries take the registry's fields (``app.devices.schemas.DeviceInput``; ``id`` / ``name`` / ``type``
stand for ``device_id`` / ``friendly_name`` / ``device_type``); devices that are not registered yet are
registered first (idempotent: a device already registered with the same type is left alone). zigbee2mqtt
devices publish on ``zigbee2mqtt/<name>``; generic ones on ``gridcase/devices/<id>`` with an explicit payload.

Events (``at``: seconds from the start, scenario time; ``--speed`` divides it):

- ``telemetry``: normal state (no alarm), ``count`` times every ``every`` seconds, jittered by the seed;
- ``alarm``: the alarm ``alarm`` (default: the device's first alarm) raised, then ``repeat`` - 1 repeats;
- ``clear``: the alarm ended; ``duplicate``: the device's last message again, ``count`` times;
- ``flap``: ``toggles`` alternating raise / clear messages every ``every`` seconds (starting with a raise);
- ``offline`` / ``online``: a retained availability message, as zigbee2mqtt sends them;
- ``false_sos``: an SOS button pressed by mistake (``action: emergency`` then zigbee2mqtt's reset ``""``);
- ``fire``: smoke on each of ``devices`` ``every`` seconds apart, each repeated ``repeat`` times;
- ``publish``: ``payload`` as given (any device family; ``retain`` optional).

Each device first announces itself online with a retained availability message (zigbee2mqtt does that on
start). ``--broker mqtt://…`` publishes with paho-mqtt (QoS 1); ``--embedded`` hands each message to
``connectors.ingest.ingest`` in this process (no broker), so cases appear in a running ``make run``.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.devices.types import DEVICE_TYPES, GENERIC, ZIGBEE2MQTT

ZIGBEE_BASE = "zigbee2mqtt"
GENERIC_BASE = "gridcase/devices"
EVENTS = (
    "telemetry",
    "alarm",
    "clear",
    "duplicate",
    "flap",
    "offline",
    "online",
    "false_sos",
    "fire",
    "publish",
)
DEVICE_KEYS = {"id": "device_id", "name": "friendly_name", "type": "device_type"}

# zigbee2mqtt payloads per alarm: (raised, cleared). None: an event with no clear message.
ALARM_PAYLOADS: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "water_leak": ({"water_leak": True}, {"water_leak": False}),
    "smoke": ({"smoke": True, "smoke_density": 38}, {"smoke": False, "smoke_density": 0}),
    "gas": ({"gas": True, "gas_density": 420}, {"gas": False, "gas_density": 0}),
    "carbon_monoxide": ({"carbon_monoxide": True}, {"carbon_monoxide": False}),
    "sos": ({"action": "emergency"}, {"action": ""}),
    "fall": ({"fall_status": "fall_alarm"}, {"fall_status": "normal"}),
    "tank_high": ({"liquid_state": "high"}, {"liquid_state": "normal"}),
    "vibration": ({"vibration": True}, {"vibration": False}),
    "tilt": ({"action": "tilt"}, None),
    "contact_open": ({"contact": False}, {"contact": True}),
    "tamper": ({"tamper": True}, {"tamper": False}),
    "battery_low": ({"battery_low": True}, {"battery_low": False}),
}
# Per zigbee2mqtt device type: its alarms (the first is the default) and its quiet state.
DEVICE_ALARMS: dict[str, tuple[str, ...]] = {
    "water_leak_sensor": ("water_leak", "tamper", "battery_low"),
    "smoke_detector": ("smoke", "battery_low"),
    "gas_detector": ("gas",),
    "co_detector": ("carbon_monoxide",),
    "door_contact": ("contact_open", "tamper"),
    "sos_button": ("sos",),
    "fall_detector": ("fall",),
    "tank_level_sensor": ("tank_high",),
    "manhole_cover_sensor": ("tilt", "vibration"),
}
QUIET_STATE: dict[str, dict[str, Any]] = {
    "water_leak_sensor": {"water_leak": False, "tamper": False, "battery_low": False},
    "smoke_detector": {"smoke": False, "smoke_density": 0, "battery_low": False},
    "gas_detector": {"gas": False, "gas_density": 0},
    "co_detector": {"carbon_monoxide": False},
    "door_contact": {"contact": True, "tamper": False},
    "sos_button": {},
    "fall_detector": {"fall_status": "normal"},
    "tank_level_sensor": {"liquid_state": "normal"},
    "manhole_cover_sensor": {"vibration": False},
}


class ScenarioError(ValueError):
    """A bad scenario file; the message names the entry (``timeline[3] (alarm)``: …)."""


@dataclass(frozen=True)
class SimDevice:
    key: str  # the scenario's id
    fields: dict[str, Any]  # registry fields (DeviceInput)

    @property
    def device_type(self) -> str:
        return str(self.fields["device_type"])

    @property
    def family(self) -> str:
        return DEVICE_TYPES[self.device_type].family

    @property
    def state_topic(self) -> str:
        if self.family == GENERIC:
            return f"{GENERIC_BASE}/{self.fields['device_id']}"
        return f"{ZIGBEE_BASE}/{self.fields.get('friendly_name') or self.fields['device_id']}"


@dataclass(frozen=True)
class SimMessage:
    """One message the simulator publishes (to MQTT or straight to ingestion), at its scenario time."""

    at: float  # scenario seconds
    topic: str
    payload: bytes
    retain: bool
    label: str  # what it is, for the progress output


@dataclass
class Scenario:
    name: str
    devices: dict[str, SimDevice]
    timeline: list[dict[str, Any]]
    expect: dict[str, int] = field(default_factory=dict)

    def messages(self, seed: int = 0) -> list[SimMessage]:
        """Every message of the run, in publishing order (the same for one seed)."""
        drafts = [
            Draft(0.0, d, "availability", {"state": "online"}, f"{d.key} online")
            for d in self.devices.values()
            if d.family == ZIGBEE2MQTT
        ]
        for index, entry in enumerate(self.timeline):
            drafts.extend(_expand(self, index, entry))
        drafts.sort(key=lambda d: d.at)  # stable: same-time messages keep their order
        return _render(drafts, random.Random(seed))


# -- loading and checking -----------------------------------------------------------------------------


def load_scenario(path: Path) -> Scenario:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    return parse_scenario(raw)


def parse_scenario(raw: Any) -> Scenario:
    from app.devices.services import validate_device_fields
    from app.errors import InvalidInput

    if not isinstance(raw, dict):
        raise ScenarioError("the scenario must be a JSON object with devices and timeline")
    devices: dict[str, SimDevice] = {}
    raw_devices = raw.get("devices")
    if not isinstance(raw_devices, list) or not raw_devices:
        raise ScenarioError("devices: a non-empty list is required")
    for index, entry in enumerate(raw_devices):
        where = f"devices[{index}]"
        if not isinstance(entry, dict):
            raise ScenarioError(f"{where}: must be an object")
        renamed = {DEVICE_KEYS.get(str(k), str(k)): v for k, v in entry.items()}
        where = f"devices[{index}] ({renamed.get('device_id')!r})"
        try:
            fields = validate_device_fields(renamed)
        except InvalidInput as exc:
            raise ScenarioError(f"{where}: {exc.details}") from exc
        key = str(fields["device_id"])
        if key in devices:
            raise ScenarioError(f"{where}: duplicate device id")
        devices[key] = SimDevice(key, fields)
    timeline = raw.get("timeline")
    if not isinstance(timeline, list):
        raise ScenarioError("timeline: a list is required")
    scenario = Scenario(str(raw.get("name") or "scenario"), devices, timeline, dict(raw.get("expect") or {}))
    for index, entry in enumerate(timeline):
        _check_entry(scenario, index, entry)
    return scenario


def _check_entry(scenario: Scenario, index: int, entry: Any) -> None:
    if not isinstance(entry, dict):
        raise ScenarioError(f"timeline[{index}]: must be an object")
    event = entry.get("event")
    where = f"timeline[{index}] ({event})"
    if event not in EVENTS:
        raise ScenarioError(f"timeline[{index}]: unknown event {event!r}; one of {', '.join(EVENTS)}")
    at = entry.get("at", 0)
    if not isinstance(at, int | float) or isinstance(at, bool) or at < 0:
        raise ScenarioError(f"{where}: at must be a number of seconds >= 0, got {at!r}")
    for name in ("count", "repeat", "toggles"):
        value = entry.get(name, 1)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100_000:
            raise ScenarioError(f"{where}: {name} must be an integer 1-100000, got {value!r}")
    every = entry.get("every", 1)
    if not isinstance(every, int | float) or isinstance(every, bool) or every < 0:
        raise ScenarioError(f"{where}: every must be a number of seconds >= 0, got {every!r}")
    names = entry.get("devices") if event == "fire" else [entry.get("device")]
    if not isinstance(names, list) or not names:
        raise ScenarioError(f"{where}: devices must be a non-empty list of device ids")
    for name in names:
        device = scenario.devices.get(name) if isinstance(name, str) else None
        if device is None:
            raise ScenarioError(f"{where}: unknown device {name!r}; declare it under devices")
        if event == "publish":
            if not isinstance(entry.get("payload"), dict | str):
                raise ScenarioError(f"{where}: payload must be a JSON object or a string")
            continue
        if device.family != ZIGBEE2MQTT:
            raise ScenarioError(f"{where}: {device.key} is a generic device: use event publish")
        if event in ("alarm", "clear", "flap"):
            alarm = entry.get("alarm", DEVICE_ALARMS[device.device_type][0])
            if alarm not in DEVICE_ALARMS[device.device_type]:
                allowed = ", ".join(DEVICE_ALARMS[device.device_type])
                raise ScenarioError(f"{where}: a {device.device_type} raises {allowed}, not {alarm!r}")
            if event != "alarm" and ALARM_PAYLOADS[alarm][1] is None:
                raise ScenarioError(f"{where}: {alarm} is an event and has no clear")
        if event == "false_sos" and device.device_type != "sos_button":
            raise ScenarioError(
                f"{where}: false_sos needs an sos_button, {device.key} is {device.device_type}"
            )
        if event == "fire" and device.device_type != "smoke_detector":
            raise ScenarioError(f"{where}: fire needs smoke detectors, {device.key} is {device.device_type}")


# -- expanding events into messages --------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A message before rendering: ``kind`` telemetry (the device's current state), state (``patch`` changes
    the state), event (``patch`` sent once, e.g. an action), duplicate (the last message again),
    availability, raw (``patch`` as given)."""

    at: float
    device: SimDevice
    kind: str
    patch: Any
    label: str
    retain: bool = False


def _expand(scenario: Scenario, index: int, entry: dict[str, Any]) -> Iterator[Draft]:
    event: str = entry["event"]
    at0, every = float(entry.get("at", 0)), float(entry.get("every", 1))
    names = entry["devices"] if event == "fire" else [entry["device"]]
    device = scenario.devices[names[0]]
    alarm = entry.get("alarm") or (DEVICE_ALARMS.get(device.device_type) or ("",))[0]
    raised, cleared = ALARM_PAYLOADS.get(alarm, ({}, None))
    kind = "event" if "action" in raised else "state"
    if event == "telemetry":
        for n in range(entry.get("count", 1)):
            yield Draft(at0 + n * every, device, "telemetry", {}, f"{device.key} telemetry")
    elif event == "alarm":
        for n in range(entry.get("repeat", 1)):
            word = "raised" if n == 0 else "repeat"
            yield Draft(at0 + n * every, device, kind, raised, f"{device.key} {alarm} {word}")
    elif event == "clear":
        yield Draft(at0, device, kind, cleared or {}, f"{device.key} {alarm} clear")
    elif event == "duplicate":
        for n in range(entry.get("count", 1)):
            yield Draft(at0 + n * every, device, "duplicate", {}, f"{device.key} duplicate")
    elif event == "flap":
        for n in range(entry.get("toggles", 1)):
            patch = raised if n % 2 == 0 else cleared or {}
            yield Draft(at0 + n * every, device, kind, patch, f"{device.key} {alarm} flap {n + 1}")
    elif event in ("offline", "online"):
        yield Draft(at0, device, "availability", {"state": event}, f"{device.key} {event}", retain=True)
    elif event == "false_sos":
        yield Draft(at0, device, "event", {"action": "emergency"}, f"{device.key} SOS pressed")
        yield Draft(at0 + every, device, "event", {"action": ""}, f"{device.key} SOS reset")
    elif event == "fire":
        for n, name in enumerate(names):
            detector = scenario.devices[name]
            for r in range(entry.get("repeat", 1)):
                word = "smoke" if r == 0 else "smoke repeat"
                yield Draft(
                    at0 + n * every + r * every / 2, detector, "state", {"smoke": True}, f"{name} {word}"
                )
    elif event == "publish":
        yield Draft(at0, device, "raw", entry["payload"], f"{device.key} publish", bool(entry.get("retain")))


def _render(drafts: list[Draft], rng: random.Random) -> list[SimMessage]:
    """Full payloads in time order: zigbee2mqtt reports a device's whole state each time, so telemetry
    after an alarm still says the alarm is on, until a clear."""
    state: dict[str, dict[str, Any]] = {}
    battery: dict[str, int] = {}
    last: dict[str, bytes] = {}
    out: list[SimMessage] = []
    for draft in drafts:
        key, topic = draft.device.key, draft.device.state_topic
        if draft.kind == "availability":
            out.append(SimMessage(draft.at, f"{topic}/availability", _encode(draft.patch), True, draft.label))
            continue
        if draft.kind == "raw":
            out.append(SimMessage(draft.at, topic, _encode(draft.patch), draft.retain, draft.label))
            continue
        if draft.kind == "duplicate" and key in last:
            out.append(SimMessage(draft.at, topic, last[key], False, draft.label))
            continue
        current = state.setdefault(key, dict(QUIET_STATE.get(draft.device.device_type, {})))
        if draft.kind == "state":
            current.update(draft.patch)
            if current.get("smoke") is True:
                current["smoke_density"] = rng.randint(30, 90)
            elif "smoke" in current:
                current["smoke_density"] = 0
        battery.setdefault(key, rng.randint(55, 100))
        payload = {**current, "battery": battery[key], "linkquality": rng.randint(40, 200)}
        if draft.kind == "event":
            payload.update(draft.patch)
        raw = _encode(payload)
        last[key] = raw
        out.append(SimMessage(draft.at, topic, raw, False, draft.label))
    return out


def _encode(payload: Any) -> bytes:
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- registering and running ---------------------------------------------------------------------------


def register_devices(scenario: Scenario) -> list[str]:
    """Register the scenario's devices that are not registered yet (in the caller's app context), commit,
    and return their ids. A device id taken by a device of another type is a ScenarioError."""
    from sqlalchemy import select

    from app.devices.models import Device
    from app.devices.services import register_device
    from app.errors import InvalidInput
    from app.extensions import db

    created: list[str] = []
    for device in scenario.devices.values():
        existing = db.session.execute(
            select(Device).where(Device.device_id == device.fields["device_id"])
        ).scalar_one_or_none()
        if existing is not None:
            if existing.device_type != device.device_type:
                raise ScenarioError(
                    f"device {device.key!r} is registered as {existing.device_type}, "
                    f"the scenario says {device.device_type}"
                )
            continue
        try:
            register_device(device.fields, with_token=False)
        except InvalidInput as exc:
            raise ScenarioError(f"device {device.key!r}: {exc.message} {exc.details}") from exc
        created.append(device.key)
    db.session.commit()
    return created


@dataclass
class RunReport:
    published: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # embedded mode: ingest outcomes
    case_keys: list[str] = field(default_factory=list)  # embedded mode: cases opened


Progress = Callable[[SimMessage, int, int, Any], None]  # message, n, total, ingest result (embedded) or None


def _pace(messages: list[SimMessage], speed: float) -> Iterator[tuple[int, SimMessage]]:
    """Yield each message when its scenario time comes (``speed`` times faster; 0: no waiting)."""
    started = time.monotonic()
    for n, message in enumerate(messages, start=1):
        if speed > 0:
            delay = started + message.at / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        yield n, message


def run_embedded(messages: list[SimMessage], speed: float, progress: Progress | None = None) -> RunReport:
    """Feed each message to ``ingest`` in this process (needs an app context), as the listener would."""
    from connectors.ingest import ingest

    report = RunReport()
    for n, message in _pace(messages, speed):
        result = ingest(message.topic, message.payload, retained=False, source="mqtt")
        report.published += 1
        report.outcomes[result.outcome] = report.outcomes.get(result.outcome, 0) + 1
        report.case_keys.extend(result.case_keys)
        if progress is not None:
            progress(message, n, len(messages), result)
    return report


def run_broker(
    messages: list[SimMessage],
    broker_url: str,
    speed: float,
    progress: Progress | None = None,
    timeout: float = 30.0,
) -> RunReport:
    """Publish each message at QoS 1 (retained when the message says so) and wait for the broker's acks."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from connectors.mqtt import BrokerAddress

    address = BrokerAddress.parse(broker_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gridcase-sim-{uuid.uuid4().hex[:8]}")
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set()
    client.max_queued_messages_set(0)
    try:
        client.connect(address.host, address.port, keepalive=30)
    except OSError as exc:
        raise ConnectionError(f"cannot reach the broker {address.host}:{address.port}: {exc}") from exc
    client.loop_start()
    report = RunReport()
    pending: list[Any] = []
    try:
        for n, message in _pace(messages, speed):
            info = client.publish(message.topic, message.payload, qos=1, retain=message.retain)
            pending.append(info)
            report.published += 1
            if progress is not None:
                progress(message, n, len(messages), None)
        deadline = time.monotonic() + timeout
        for info in pending:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            if not info.is_published():
                raise TimeoutError(f"the broker did not acknowledge every message within {timeout}s")
    finally:
        client.disconnect()
        client.loop_stop()
    return report
