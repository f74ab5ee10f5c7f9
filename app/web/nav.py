"""Where each role starts and which links its navigation shows: one table, read by the layout and ``/``.

Paths (not endpoints) because the three page blueprints grow in parallel; a link whose page does not exist
yet simply 404s. The supervisor and designer engineers may adjust their own rows."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from app.auth.roles import Role

R = Role
# Roles that hold tasks (inbox /m/): everyone but residents and designers.
TASK_ROLES = frozenset(set(Role) - {R.RESIDENT, R.DESIGNER})
# Roles of the supervision pages (app/web/supervisor/access.py SUPERVISE_ROLES): the KPI readers, and grid
# leaders for their own grids.
SUPERVISION_ROLES = frozenset(
    {
        R.SUPERVISOR,
        R.DISPATCHER,
        R.COMMUNITY_STAFF,
        R.STREET_COORDINATOR,
        R.DISTRICT_COORDINATOR,
        R.GRID_LEADER,
        R.ADMIN,
    }
)
DESIGN_ROLES = frozenset({R.DESIGNER, R.ADMIN})
RESIDENT_ROLES = frozenset({R.RESIDENT})
# Who may file a report through the pages: residents, and grid workers reporting what they find on patrol.
REPORT_ROLES = frozenset({R.RESIDENT, R.GRID_WORKER})
# The roles that mediate (the mediation pages: app/web/mediation): mediators, intake (community staff and the
# command centre), the parties' grid staff, and supervisors.
MEDIATION_ROLES = frozenset(
    {R.MEDIATOR, R.COMMUNITY_STAFF, R.DISPATCHER, R.GRID_WORKER, R.GRID_LEADER, R.SUPERVISOR, R.ADMIN}
)


@dataclass(frozen=True)
class NavLink:
    path: str
    label: object  # a lazy gettext string: translated when rendered
    roles: frozenset[Role]


NAV_LINKS: tuple[NavLink, ...] = (
    NavLink("/r/report", _l("Report a problem"), REPORT_ROLES),
    NavLink("/r/", _l("My reports"), RESIDENT_ROLES),
    NavLink("/r/track", _l("Track a case"), RESIDENT_ROLES),
    NavLink("/m/", _l("Tasks"), TASK_ROLES),
    NavLink("/dispatch/", _l("Dispatch workbench"), frozenset({R.DISPATCHER})),
    NavLink("/supervise/dashboard", _l("Dashboard"), SUPERVISION_ROLES),
    NavLink("/supervise/cases", _l("Cases"), SUPERVISION_ROLES),
    NavLink("/design/processes", _l("Processes"), DESIGN_ROLES),
    NavLink("/operate/instances", _l("Instances"), DESIGN_ROLES),
    NavLink("/api/v1/docs", _l("API"), frozenset({R.ADMIN, R.DESIGNER})),
    NavLink("/inspections/", _l("Inspections"), frozenset({R.DEPARTMENT_HANDLER, R.SUPERVISOR, R.ADMIN})),
    NavLink("/sensors/", lazy_pgettext("nav", "Sensors"), frozenset({R.ADMIN, R.DISPATCHER, R.SUPERVISOR})),
    NavLink("/admin/", _l("Admin console"), frozenset({R.ADMIN})),
    NavLink("/mediation/", _l("Disputes"), MEDIATION_ROLES),
    NavLink("/command/", lazy_pgettext("command", "Command centre"), SUPERVISION_ROLES),  # command/access.py
)

HOMES: dict[Role, str] = {
    R.RESIDENT: "/r/",
    R.DESIGNER: "/design/processes",
    R.SUPERVISOR: "/supervise/dashboard",
    R.DISPATCHER: "/dispatch/",
}
TASK_HOME = "/m/"


def nav_links(role: str) -> list[NavLink]:
    return [link for link in NAV_LINKS if role in link.roles]


def home_of(role: str) -> str | None:
    """The start page of a role; None for the admin, whose start page lists everything."""
    if role == R.ADMIN:
        return None
    return HOMES.get(Role(role), TASK_HOME)
