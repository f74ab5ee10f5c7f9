"""The sensor pages (/sensors/): the devices API's roles (admins, dispatchers and supervisors read; admins
and dispatchers also register, import and read the dead letters), and the cases' grid scope applied to the
devices. The command centre's people hold the district of the shared territory; a device in a second
district is the admin's alone (its page answers them 404, like a device that does not exist)."""

from __future__ import annotations

from app.devices.services import register_device, validate_device_fields
from app.extensions import db
from app.grids.services import import_geojson
from connectors.ingest import ingest
from tests.cases.territory import EAST_OPEN_POINT, WEST_POINT
from tests.grids.shapes import box_feature, collection
from tests.web.page_matrix import Page, World, with_roles

READERS = with_roles("admin", "dispatcher", "supervisor")
WRITERS = with_roles("admin", "dispatcher")
OTHER_DISTRICT, OTHER_BOX, OTHER_POINT = "510115", (103.80, 30.60, 103.85, 30.65), (30.62, 103.82)
EAST, WEST, OTHER = "east-leak", "west-smoke", "wenjiang-leak"
NAMES = {EAST: "东区/1栋/厨房水浸", WEST: "西区/2栋/烟感", OTHER: "温江/9栋/厨房水浸"}


def _register(device_id: str, device_type: str, point: tuple[float, float]) -> None:
    fields = {"device_id": device_id, "device_type": device_type, "friendly_name": NAMES[device_id]}
    register_device(validate_device_fields(fields | {"lat": point[0], "lon": point[1]}))


def seed(world: World) -> None:
    import_geojson(collection(box_feature(OTHER_DISTRICT, "温江区", OTHER_BOX)))
    _register(EAST, "water_leak_sensor", EAST_OPEN_POINT)
    _register(WEST, "smoke_detector", WEST_POINT)
    _register(OTHER, "water_leak_sensor", OTHER_POINT)
    db.session.commit()
    (case_key,) = ingest(f"zigbee2mqtt/{NAMES[EAST]}", b'{"water_leak": true}', False).case_keys
    ingest(f"zigbee2mqtt/{NAMES[WEST]}", b'{"smoke": fals', False)  # dead letters
    ingest(f"zigbee2mqtt/{NAMES[OTHER]}", b'{"water_leak": maybe}', False)
    world.refs["case_key"] = case_key


def pages(world: World) -> list[Page]:
    command_centre = ("dispatcher", "supervisor")
    return [
        Page(
            "/sensors/",
            allowed=READERS,
            shows={"dispatcher": [NAMES[EAST], NAMES[WEST]], "admin": [NAMES[OTHER]]},
            hides={who: [NAMES[OTHER]] for who in command_centre},
        ),
        Page(
            "/sensors/map.json",
            allowed=READERS,
            shows={"supervisor": [EAST, WEST], "admin": [OTHER]},
            hides={who: [OTHER] for who in command_centre},
        ),
        Page(f"/sensors/devices/{EAST}", allowed=READERS, shows={"dispatcher": [world.refs["case_key"]]}),
        Page(
            f"/sensors/devices/{OTHER}",
            allowed={"admin"},
            refused={"dispatcher": 404, "supervisor": 404, "*": 403},
        ),
        Page(
            "/sensors/alarms",
            allowed=READERS,
            shows={who: [world.refs["case_key"], NAMES[EAST]] for who in READERS},
        ),
        Page(
            "/sensors/dead-letters",
            allowed=WRITERS,
            shows={"dispatcher": [NAMES[WEST]], "admin": [NAMES[WEST], NAMES[OTHER]]},
            hides={"dispatcher": [NAMES[OTHER]]},
        ),
        Page(
            f"/sensors/dead-letters?device={OTHER}", allowed={"admin"}, refused={"dispatcher": 404, "*": 403}
        ),
        Page("/sensors/register", allowed=WRITERS),
        Page("/sensors/import", allowed=WRITERS),
    ]
