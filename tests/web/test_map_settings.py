"""The map tile server setting (MAP_TILE_URL, _ATTRIBUTION, _CRS, _SUBDOMAINS): checked at start-up, handed to
the page maps, and its host allowed in the CSP's img-src only when it is set."""

from __future__ import annotations

import html
import re

import pytest

from app.config import ConfigError, MapSettings
from tests.web.pages import sign_in
from tests.web.seed import case_at_handle, seed_people

TIANDITU = "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=vec&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY"
AMAP = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"


def _csp(response) -> dict[str, list[str]]:
    policy = {}
    for part in response.headers["Content-Security-Policy"].split("; "):
        directive, *sources = part.split(" ")
        policy[directive] = sources
    return policy


@pytest.mark.parametrize(
    ("url", "source"),
    [
        (TIANDITU, "https://*.tianditu.gov.cn"),
        (AMAP, "https://*.is.autonavi.com"),
        ("https://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org"),
        ("http://10.0.0.5:8080/osm/{z}/{x}/{y}.png", "http://10.0.0.5:8080"),
    ],
)
def test_the_tile_host_becomes_one_csp_source(url, source):
    assert MapSettings(tile_url=url).tile_source() == source
    assert MapSettings().tile_source() is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"tile_crs": "bd09"}, "MAP_TILE_CRS"),
        ({"tile_url": "https://tiles.example.org/{z}/{x}.png"}, "{y}"),
        ({"tile_url": "ftp://tiles.example.org/{z}/{x}/{y}.png"}, "http(s)://"),
        ({"tile_url": "https://a.{s}.example.org/{z}/{x}/{y}.png"}, "first label"),
        ({"tile_url": "https://tiles.example.org;script-src/{z}/{x}/{y}.png"}, "first label"),
    ],
)
def test_a_setting_the_pages_cannot_use_stops_the_start(values, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        MapSettings(**values)


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MAP_TILE_URL", AMAP)
    monkeypatch.setenv("MAP_TILE_ATTRIBUTION", "© 高德地图")
    monkeypatch.setenv("MAP_TILE_CRS", "GCJ02")
    monkeypatch.setenv("MAP_TILE_SUBDOMAINS", "1234")
    assert MapSettings.from_env() == MapSettings(
        tile_url=AMAP, tile_attribution="© 高德地图", tile_crs="gcj02", tile_subdomains="1234"
    )
    for name in ("MAP_TILE_URL", "MAP_TILE_ATTRIBUTION", "MAP_TILE_CRS", "MAP_TILE_SUBDOMAINS"):
        monkeypatch.delenv(name)
    assert MapSettings.from_env() == MapSettings()


def _map_pages(app, client) -> tuple[object, str, str]:
    with app.app_context():
        api, auth = seed_people(app)
        _key, task_id = case_at_handle(api, auth)
    sign_in(client, "resident")
    report = client.get("/r/report")
    sign_in(client, "worker")
    task = client.get(f"/m/tasks/{task_id}").get_data(as_text=True)
    return report, html.unescape(report.get_data(as_text=True)), html.unescape(task)


def test_without_a_tile_server_the_pages_name_no_other_host(client, app):
    response, report, task = _map_pages(app, client)
    assert _csp(response)["img-src"] == ["'self'", "data:", "blob:"]
    for page in (report, task):
        assert 'data-layer-url="/geo/layer/0/0/0.json"' in page
        assert "data-tile-url" not in page and "gcj02.js" not in page
    assert 'data-bounds="[103.9, 30.7, 104.0, 30.8]"' in report.replace("'", '"')  # where the pick opens
    assert 'data-place-url="/geo/place.json"' in report
    assert "data-layer-case=\"GC-" in task


def test_a_gcj02_tile_server_is_allowed_and_converted_for(make_app):
    amap = MapSettings(tile_url=AMAP, tile_attribution="© 高德地图", tile_crs="gcj02", tile_subdomains="1234")
    app = make_app("sqlite", maps=amap)
    response, report, task = _map_pages(app, app.test_client())
    policy = _csp(response)
    assert policy["img-src"] == ["'self'", "data:", "blob:", "https://*.is.autonavi.com"]
    assert policy["script-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]  # pictures only
    for page in (report, task):
        assert f'data-tile-url="{AMAP}"' in page and 'data-tile-attribution="© 高德地图"' in page
        assert 'data-tile-crs="gcj02"' in page and 'data-tile-subdomains="1234"' in page
        # the conversion is loaded before the map script
        assert page.index("js/gcj02.js") < page.index("js/map.js")


def test_a_wgs84_tile_server_needs_no_conversion(make_app):
    app = make_app("sqlite", maps=MapSettings(tile_url=TIANDITU, tile_subdomains="01234567"))
    response, report, _task = _map_pages(app, app.test_client())
    assert _csp(response)["img-src"][-1] == "https://*.tianditu.gov.cn"
    assert 'data-tile-crs="wgs84"' in report and "gcj02.js" not in report
