"""Device types and alarm types, once: labels, which payload family a device speaks, and what an alarm means
for cases (category, severity) and for correlation (which alarms of different devices are one incident)."""

from __future__ import annotations

from dataclasses import dataclass

ZIGBEE2MQTT = "zigbee2mqtt"
GENERIC = "generic"
COORDINATOR = "zigbee_coordinator"
COORDINATOR_NAME = "bridge"  # the friendly name the coordinator is registered under (its topic)


# zigbee2mqtt's own availability timeout for battery devices (which only check in now and then): ours too.
BATTERY_SILENCE_MINUTES = 25 * 60


@dataclass(frozen=True)
class DeviceType:
    code: str
    family: str  # the payload format it speaks: zigbee2mqtt | generic
    label: str
    label_en: str
    # Not heard from this long, the device goes offline (our own silence timeout, with or without
    # zigbee2mqtt's availability feature); None: never by silence (the coordinator has bridge/state).
    silence_minutes: int | None = BATTERY_SILENCE_MINUTES


DEVICE_TYPES: dict[str, DeviceType] = {
    t.code: t
    for t in (
        DeviceType("water_leak_sensor", ZIGBEE2MQTT, "水浸传感器", "Water leak sensor"),
        DeviceType("smoke_detector", ZIGBEE2MQTT, "烟雾报警器", "Smoke detector"),
        # Mains-powered (e.g. Heiman HS1CG): reports at least every few minutes while powered.
        DeviceType("gas_detector", ZIGBEE2MQTT, "燃气报警器", "Gas detector", 60),
        DeviceType("co_detector", ZIGBEE2MQTT, "一氧化碳报警器", "CO detector"),
        DeviceType("door_contact", ZIGBEE2MQTT, "门磁", "Door contact"),
        DeviceType("sos_button", ZIGBEE2MQTT, "紧急按钮", "SOS button"),
        DeviceType("fall_detector", ZIGBEE2MQTT, "跌倒检测器", "Fall detector"),
        DeviceType("tank_level_sensor", ZIGBEE2MQTT, "化粪池液位计", "Septic tank level sensor"),
        DeviceType("manhole_cover_sensor", ZIGBEE2MQTT, "井盖传感器", "Manhole cover sensor"),
        DeviceType("hydrant_monitor", GENERIC, "消防栓监测", "Hydrant monitor", 120),
        DeviceType("elevator_monitor", GENERIC, "电梯监测", "Elevator monitor", 30),
        DeviceType("smartwatch", GENERIC, "智能手表", "Smartwatch", 60),
        DeviceType("ai_camera", GENERIC, "AI 摄像头", "AI camera", 30),
        # The zigbee2mqtt bridge (its topic ``zigbee2mqtt/bridge``): register it with the friendly name
        # ``bridge``; ``bridge/state`` offline is one maintenance incident for it and every device behind it.
        DeviceType(COORDINATOR, ZIGBEE2MQTT, "Zigbee 协调器", "Zigbee coordinator", None),
    )
}


# The generic JSON format's "kind" and the device type that sends it.
GENERIC_KIND_DEVICE_TYPES = {
    "hydrant": "hydrant_monitor",
    "elevator": "elevator_monitor",
    "smartwatch": "smartwatch",
    "ai_camera": "ai_camera",
}


class DeviceStatus:
    ONLINE = "online"
    OFFLINE = "offline"
    LOW_BATTERY = "low_battery"
    TAMPERED = "tampered"
    NEVER_SEEN = "never_seen"  # registered, never reported (从未上报): not known to work
    ALL = (ONLINE, OFFLINE, LOW_BATTERY, TAMPERED, NEVER_SEEN)


def device_status(available: bool, tampered: bool, battery_low: bool, seen: bool = True) -> str:
    """The one status shown for a device: the most pressing of its flags. ``seen``: it has reported."""
    if not available:
        return DeviceStatus.OFFLINE
    if not seen:
        return DeviceStatus.NEVER_SEEN
    if tampered:
        return DeviceStatus.TAMPERED
    if battery_low:
        return DeviceStatus.LOW_BATTERY
    return DeviceStatus.ONLINE


# Category codes follow the shared convention (kind letter + GB/T 30428.2 class [+ sub-class]):
# E04 突发事件 (emergencies), E01 市容环境, E0102 暴露垃圾, E05 街面秩序, P01 公用设施.
EMERGENCY = "E04"
CITY_APPEARANCE = "E01"
EXPOSED_GARBAGE = "E0102"
STREET_ORDER = "E05"
PUBLIC_FACILITY = "P01"

MAINTENANCE = "maintenance"  # the alarm type of a device episode that needs maintenance (one case)


@dataclass(frozen=True)
class AlarmType:
    code: str
    label: str
    label_en: str
    severity: str  # red | orange | yellow | blue: the severity of the case it opens
    # The category of the case an incident of this type opens; None: recorded on the device, no case
    # (tamper and low battery feed the device status; maintenance cases are decided elsewhere).
    category_code: str | None
    # Alarms of the same group from different devices in one building within the correlation window are
    # one incident (a fire sets off many smoke detectors). None: personal alarms (SOS, fall, a watch) are
    # never merged with anyone else's.
    group: str | None
    # An event, not a state (a button press, a fall, a camera detection; devices seldom send a clear): a
    # trigger after the previous one's case closed, or after the quiet time, is a new alarm and a new case.
    momentary: bool = False


ALARM_TYPES: dict[str, AlarmType] = {
    a.code: a
    for a in (
        AlarmType("water_leak", "漏水", "Water leak", "orange", EMERGENCY, "water"),
        AlarmType("smoke", "烟雾报警", "Smoke", "red", EMERGENCY, "fire"),
        AlarmType("gas", "燃气泄漏", "Gas leak", "red", EMERGENCY, "gas"),
        AlarmType("carbon_monoxide", "一氧化碳超标", "Carbon monoxide", "red", EMERGENCY, "gas"),
        AlarmType("sos", "紧急呼叫", "SOS", "red", EMERGENCY, None, momentary=True),
        AlarmType("fall", "跌倒", "Fall", "red", EMERGENCY, None, momentary=True),
        AlarmType("tank_high", "化粪池液位过高", "Septic tank high", "orange", CITY_APPEARANCE, None),
        AlarmType("vibration", "井盖异动", "Manhole cover vibration", "yellow", PUBLIC_FACILITY, None),
        AlarmType(
            "tilt", "井盖倾斜", "Manhole cover tilted", "orange", PUBLIC_FACILITY, None, momentary=True
        ),
        AlarmType("contact_open", "门磁打开", "Door open", "blue", None, None),
        AlarmType("tamper", "设备被拆", "Tampered", "blue", None, None),
        AlarmType("battery_low", "电量低", "Battery low", "blue", None, None),
        # Raised by app.devices.maintenance (not by payloads): offline or battery-low beyond the limit.
        AlarmType(MAINTENANCE, "设备需维护", "Device needs maintenance", "yellow", PUBLIC_FACILITY, None),
        AlarmType(
            "hydrant_low_pressure", "消防栓水压不足", "Hydrant low pressure", "yellow", PUBLIC_FACILITY, None
        ),
        AlarmType("elevator_fault", "电梯故障", "Elevator fault", "orange", PUBLIC_FACILITY, None),
        AlarmType("elevator_entrapment", "电梯困人", "Elevator entrapment", "red", EMERGENCY, None),
        AlarmType("heart_rate_abnormal", "心率异常", "Abnormal heart rate", "red", EMERGENCY, None),
        AlarmType("geofence_exit", "离开安全区域", "Left the geofence", "orange", EMERGENCY, None),
        AlarmType("camera_fire", "AI 识别明火", "Camera: fire", "red", EMERGENCY, "fire", True),
        AlarmType("camera_smoke", "AI 识别烟雾", "Camera: smoke", "red", EMERGENCY, "fire", True),
        AlarmType(
            "camera_garbage_overflow",
            "AI 识别垃圾满溢",
            "Camera: garbage",
            "yellow",
            EXPOSED_GARBAGE,
            None,
            True,
        ),
        AlarmType(
            "camera_illegal_parking",
            "AI 识别违停",
            "Camera: illegal parking",
            "blue",
            STREET_ORDER,
            None,
            True,
        ),
        AlarmType(
            "camera_water_logging", "AI 识别积水", "Camera: water logging", "orange", EMERGENCY, "water", True
        ),
    )
}

MOMENTARY_ALARM_TYPES = frozenset(code for code, alarm_type in ALARM_TYPES.items() if alarm_type.momentary)
