"""The maps in Chromium: the case map names the compounds and buildings around the case, the resident's
pick names its grid and compound (360 px), and with a GCJ-02 tile server our WGS-84 data is drawn converted
and a picked point comes back in WGS-84. The conversion itself is checked in the browser's JavaScript."""

from __future__ import annotations

import dataclasses
import math

from playwright.sync_api import expect

from app.config import PROJECT_ROOT, MapSettings
from tests.cases.territory import EAST_POINT
from tests.web.conftest import PHONE
from tests.web.seed import case_at_handle, seed_people
from tests.web.test_geo_layer import add_buildings

GCJ02_JS = PROJECT_ROOT / "app" / "web" / "static" / "js" / "gcj02.js"
# eviltransform's published reference points: (WGS-84 lat, lng) -> (GCJ-02 lat, lng)
REFERENCES = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
]
CHENGDU = [(30.6598, 104.0657), (30.7589, 103.9718), (30.5728, 104.0668), (30.8150, 103.8900)]


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def test_gcj02_conversion_in_chromium(browser):
    page = browser.new_page()
    try:
        page.add_script_tag(path=str(GCJ02_JS))
        for wgs, gcj in REFERENCES:
            got = page.evaluate("p => GridcaseGcj02.toGcj(p[0], p[1])", list(wgs))
            assert abs(got["lat"] - gcj[0]) < 1e-9 and abs(got["lng"] - gcj[1]) < 1e-9, (wgs, got)
        for point in CHENGDU:
            there = page.evaluate("p => GridcaseGcj02.toGcj(p[0], p[1])", list(point))
            shift = metres(point, (there["lat"], there["lng"]))
            assert 100 < shift < 1000, shift  # Chengdu's GCJ-02 offset is a few hundred metres
            back = page.evaluate("p => GridcaseGcj02.toWgs(p.lat, p.lng)", there)
            assert metres(point, (back["lat"], back["lng"])) < 1.0  # the round trip, within 1 m
        # outside China nothing moves
        assert page.evaluate("GridcaseGcj02.toGcj(48.8566, 2.3522)") == {"lat": 48.8566, "lng": 2.3522}
    finally:
        page.close()


def zoom(page, selector: str, steps: int) -> None:
    """Click the map's + (steps > 0) or - button, each time until the map has reached the next zoom."""
    button = page.locator(f"{selector} .leaflet-control-zoom-{'in' if steps > 0 else 'out'}")
    for _ in range(abs(steps)):
        level = float(page.locator(selector).get_attribute("data-zoom"))
        button.click()
        expect(page.locator(selector)).to_have_attribute("data-zoom", f"{level + (1 if steps > 0 else -1):g}")


def shown(label) -> None:
    """The map label exists and is displayed (its level's names are on at this zoom)."""
    expect(label).to_have_count(1)
    assert label.is_visible(), label.evaluate(
        "e => [e.className, e.style.cssText, e.closest('.map').className, e.closest('.map').dataset.zoom,"
        " getComputedStyle(e).display, getComputedStyle(e).visibility, e.getBoundingClientRect().toJSON()]"
    )


def tap(page, selector: str, point: tuple[float, float]) -> None:
    """Click the map where it shows ``point`` (WGS-84 lat, lon; the map must show it)."""
    box = page.locator(selector).bounding_box()
    at = page.evaluate(
        "([id, p]) => document.getElementById(id).gridcaseMap.latLngToContainerPoint(p)",
        [selector.lstrip("#"), list(point)],
    )
    assert 0 < at["x"] < box["width"] and 0 < at["y"] < box["height"], at
    page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])


def _seed(live_server):
    with live_server.app.app_context():
        api, auth = seed_people(live_server.app)
        add_buildings()
        return case_at_handle(api, auth)


def test_case_map_names_compounds_and_buildings_and_the_pick_names_its_place(
    live_server, page_as, screenshot
):
    _key, task_id = _seed(live_server)

    resident = page_as("resident", viewport=PHONE)
    resident.goto(f"{live_server.url}/r/report")
    # the territory layer opens on the resident's district: the grids' names
    shown(resident.locator("#pick-map .map-label-grid", has_text="第2网格"))
    resident.click("#use-location")  # the phone is at EAST_POINT, in 锦绣花园's 1栋
    expect(resident.locator("#location-text")).to_have_text("已定位：望丛社区 第2网格 · 锦绣花园 · 1栋")
    shown(resident.locator("#pick-map .map-label-compound", has_text="锦绣花园"))
    assert resident.locator("#lat").input_value() == f"{EAST_POINT[0]:.6f}"
    assert resident.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(resident, "maps_resident_pick")
    # a tap in the east grid east of the compound: the grid only
    zoom(resident, "#pick-map", -3)
    tap(resident, "#pick-map", (30.7589, 103.985))
    expect(resident.locator("#location-text")).to_have_text("已定位：望丛社区 第2网格")

    worker = page_as("worker", viewport=PHONE)
    worker.goto(f"{live_server.url}/m/tasks/{task_id}")
    case_map = worker.locator("#case-map")
    # around the pin: the compound's and the buildings' names ...
    shown(case_map.locator(".map-label-compound", has_text="锦绣花园"))
    shown(case_map.locator(".map-label-building", has_text="1栋"))
    screenshot(worker, "maps_case_map")
    # ... and from farther away the compounds' names only
    zoom(worker, "#case-map", -2)
    shown(case_map.locator(".map-label-compound", has_text="锦绣花园"))
    assert case_map.locator(".map-label-building", has_text="1栋").is_hidden()
    # the case map asks for the few tiles it shows, each once
    layer_requests = [url for url in worker.requests_seen if "/geo/layer/" in url and "?case=" in url]
    assert 1 <= len(layer_requests) <= 8 and len(set(layer_requests)) == len(layer_requests), layer_requests


def test_a_gcj02_tile_server_draws_converted_and_picks_come_back_wgs84(live_server, page_as, screenshot):
    _seed(live_server)
    tiles = f"{live_server.url}/static/icons/favicon.svg?s={{s}}&z={{z}}&x={{x}}&y={{y}}"  # our own host
    settings = live_server.app.extensions["gridcase.settings"]
    live_server.app.extensions["gridcase.settings"] = dataclasses.replace(
        settings, maps=MapSettings(tile_url=tiles, tile_attribution="测试底图", tile_crs="gcj02")
    )

    page = page_as("resident", viewport=PHONE)
    page.goto(f"{live_server.url}/r/report")
    page.click("#use-location")
    expect(page.locator("#location-text")).to_have_text("已定位：望丛社区 第2网格 · 锦绣花园 · 1栋")
    assert page.locator("#lat").input_value() == f"{EAST_POINT[0]:.6f}"  # stored as the phone gave it
    expect(page.locator("#pick-map .leaflet-tile-loaded").first).to_be_attached()
    assert any("favicon.svg?s=" in url for url in page.requests_seen)  # the tiles came from the setting
    assert "测试底图" in page.locator("#pick-map .leaflet-control-attribution").inner_text()

    # the pin and the building it stands in (1栋) are drawn with the same conversion
    pin = page.locator("#pick-map .leaflet-marker-pane path").bounding_box()
    centre = (pin["x"] + pin["width"] / 2, pin["y"] + pin["height"] / 2)
    expect(page.locator("#pick-map path.territory-building").first).to_be_attached()
    boxes = [path.bounding_box() for path in page.locator("#pick-map path.territory-building").all()]
    assert any(
        b["x"] < centre[0] < b["x"] + b["width"] and b["y"] < centre[1] < b["y"] + b["height"] for b in boxes
    ), (centre, boxes)
    # ... on the GCJ-02 tiles: the map's own coordinates under the pin are a few hundred metres off WGS-84
    box = page.locator("#pick-map").bounding_box()
    drawn = page.evaluate(
        "p => document.getElementById('pick-map').gridcaseMap.containerPointToLatLng(p)",
        [centre[0] - box["x"], centre[1] - box["y"]],
    )
    assert 100 < metres((drawn["lat"], drawn["lng"]), EAST_POINT) < 1000, drawn
    screenshot(page, "maps_gcj02_pick")

    # a tap on the pin picks the same WGS-84 point back (within the ~2 m of a pixel), not the GCJ-02 one
    page.mouse.click(*centre)
    picked = (float(page.locator("#lat").input_value()), float(page.locator("#lon").input_value()))
    assert metres(picked, EAST_POINT) < 5, picked
