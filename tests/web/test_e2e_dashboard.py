"""In headless Chromium: the one-screen dashboard draws the grid polygons, a marker per open case coloured by
severity, the counts, KPIs, overdue list and the ECharts charts, and refreshes itself."""

from __future__ import annotations

from app.extensions import db
from tests.cases.territory import WEST_POINT
from tests.helpers import complete, report, walk_to
from tests.web.supervisor_seed import make_overdue, make_red, seed_people


def test_dashboard_renders_the_map_and_the_charts(live_server, page_as, screenshot):
    with live_server.app.app_context():
        client, auth = seed_people(live_server.app)
        closed = report(client, auth, title="井盖缺失", category_code="P0101", severity="orange")["key"]
        walk_to(client, auth, closed, "review")
        complete(client, auth, "supervisor", closed, "review", {"review_decision": "approve"})
        report(client, auth, title="垃圾满溢", severity="yellow", lat=30.7589, lon=103.9718)
        west = report(
            client, auth, title="西区道路破损", severity="orange", lat=WEST_POINT[0], lon=WEST_POINT[1]
        )
        make_red(west["key"])
        report(client, auth, title="路灯不亮", severity="blue", lat=30.72, lon=103.97)
        overdue = report(client, auth, title="占道经营", severity="orange", lat=30.78, lon=103.98)["key"]
        make_overdue(live_server.app, client, auth, overdue)
        report(client, auth, title="无定位的上报", lat=None, lon=None, address=None)
        db.session.commit()

    page = page_as("supervisor")
    page.goto(f"{live_server.url}/supervise/dashboard?refresh=2")
    page.wait_for_selector("#dashboard[data-refresh-count='1']")

    # the map: the community and its two grids, one marker per open located case, coloured by severity
    assert page.locator("#dashboard").get_attribute("data-grids") == "3"
    assert page.locator("#dash-map path.grid-polygon").count() == 3
    markers = page.locator("#dash-map path.case-marker")
    assert markers.count() == 4
    for severity, count in {"red": 1, "orange": 1, "yellow": 1, "blue": 1}.items():
        assert page.locator(f"#dash-map path.case-marker.severity-{severity}").count() == count
    assert page.locator("#dash-map path.case-marker.severity-red").get_attribute("fill") == "#c62828"
    assert page.locator("#dash-map path.case-marker.is-overdue").count() == 1

    # counts, KPIs, the overdue list
    assert page.locator("#tile-open").inner_text() == "5"
    assert page.locator("#tile-overdue").inner_text() == "1"
    assert page.locator("#dash-kpis [data-kpi='received']").inner_text() == "6"
    assert page.locator("#dash-kpis [data-kpi='closed']").inner_text() == "1"
    assert page.locator(f"#dash-overdue tr[data-case-key='{overdue}']").count() == 1

    # the charts: ECharts drew on canvas, with the data points the endpoint gave
    for chart in ("status", "category", "trend"):
        assert page.locator(f"#chart-{chart} canvas").count() >= 1, chart
    assert int(page.locator("#chart-status").get_attribute("data-points")) >= 3
    assert page.locator("#chart-trend").get_attribute("data-points") == "14"

    # it refreshes itself
    page.wait_for_selector("#dashboard[data-refresh-count='2']", timeout=10_000)
    assert sum(url.endswith("/supervise/dashboard/data.json") for url in page.requests_seen) >= 2

    # a marker leads to its case
    screenshot(page, "dashboard")
    page.locator("#dash-map path.case-marker.severity-red").click()
    page.wait_for_url("**/supervise/cases/GC-*")
