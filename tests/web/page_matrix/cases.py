"""The case pages: the worker's inbox and task page, the resident's pages, the dispatcher's workbench, the
supervision list, case page and dashboard, and the designer's and operator's pages."""

from __future__ import annotations

from app.extensions import db
from tests.cases.territory import WEST_POINT
from tests.helpers import open_task, report, walk_to
from tests.web.page_matrix import EVERYONE, Page, World, with_roles

EAST_TITLE, WEST_TITLE = "东门井盖缺失", "西区路灯不亮"
SUPERVISING = with_roles(
    "supervisor",
    "dispatcher",
    "community_staff",
    "street_coordinator",
    "district_coordinator",
    "grid_leader",
    "admin",
)
TASK_HOLDERS = EVERYONE - with_roles("resident", "designer")
DESIGNING = with_roles("designer", "admin")


def seed(world: World) -> None:
    client, auth = world.client, world.auth
    east = report(client, auth, "resident", title=EAST_TITLE)["key"]
    walk_to(client, auth, east, "handle", handler="worker")
    west = report(client, auth, "resident2", title=WEST_TITLE, lat=WEST_POINT[0], lon=WEST_POINT[1])["key"]
    db.session.commit()
    world.refs.update(
        east=east,
        west=west,
        handle_task=open_task(east, "handle").id,
        triage_task=open_task(west, "triage").id,
    )


def pages(world: World) -> list[Page]:
    east, west = world.refs["east"], world.refs["west"]
    return [
        Page(
            "/m/",
            allowed=TASK_HOLDERS,
            shows={"worker": [EAST_TITLE]},
            hides={"worker": [WEST_TITLE], "worker_west": [EAST_TITLE], "leader_west": [EAST_TITLE]},
        ),
        # The holder and the district's supervision; other task holders: not theirs; the rest: no inbox.
        Page(
            f"/m/tasks/{world.refs['handle_task']}",
            allowed={"worker", "supervisor", "admin"},
            refused={"resident": 403, "resident2": 403, "designer": 403, "*": 404},
        ),
        # Everyone's own reports (staff report too).
        Page(
            "/r/",
            allowed=EVERYONE,
            shows={"resident": [EAST_TITLE], "resident2": [WEST_TITLE]},
            hides={
                "resident": [WEST_TITLE],
                "resident2": [EAST_TITLE],
                "supervisor": [EAST_TITLE, WEST_TITLE],
            },
        ),
        Page(f"/r/cases/{east}/receipt", allowed={"resident"}, refused=404),
        Page(
            "/dispatch/",
            allowed=with_roles("dispatcher"),
            shows={"dispatcher": [WEST_TITLE]},
        ),
        Page(
            "/supervise/cases",
            allowed=SUPERVISING,
            shows={"supervisor": [east, west], "leader_west": [west], "community": [east, west]},
            hides={"leader_west": [east]},
        ),
        Page(
            f"/supervise/cases/{east}",
            allowed=SUPERVISING - {"leader_west"},
            refused={"leader_west": 404, "*": 403},
        ),
        Page(f"/supervise/cases/{west}", allowed=SUPERVISING),
        Page("/supervise/dashboard", allowed=SUPERVISING),
        Page("/design/processes", allowed=DESIGNING),
        Page("/design/forms", allowed=DESIGNING),
        Page("/operate/instances", allowed=DESIGNING),
    ]
