"""The roles, once. Keys are what the data and the diagrams use; labels are what people read."""

from enum import StrEnum


class Role(StrEnum):
    RESIDENT = "resident"
    GRID_WORKER = "grid_worker"
    GRID_LEADER = "grid_leader"
    COMMUNITY_STAFF = "community_staff"
    STREET_COORDINATOR = "street_coordinator"
    DISTRICT_COORDINATOR = "district_coordinator"
    DISPATCHER = "dispatcher"
    DEPARTMENT_HANDLER = "department_handler"
    SUPERVISOR = "supervisor"
    DESIGNER = "designer"
    MEDIATOR = "mediator"
    ADMIN = "admin"


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.RESIDENT: ("居民", "Resident"),
    Role.GRID_WORKER: ("网格员", "Grid worker"),
    Role.GRID_LEADER: ("网格长", "Grid leader"),
    Role.COMMUNITY_STAFF: ("社区工作人员", "Community staff"),
    Role.STREET_COORDINATOR: ("街道协调员", "Street coordinator"),
    Role.DISTRICT_COORDINATOR: ("区级协调员", "District coordinator"),
    Role.DISPATCHER: ("指挥中心调度员", "Dispatcher"),
    Role.DEPARTMENT_HANDLER: ("部门处置人员", "Department handler"),
    Role.SUPERVISOR: ("督办员", "Supervisor"),
    Role.DESIGNER: ("流程设计员", "Process designer"),
    Role.MEDIATOR: ("调解员", "Mediator"),
    Role.ADMIN: ("系统管理员", "Administrator"),
}

ALL_ROLES: frozenset[str] = frozenset(r.value for r in Role)
# Who may file a report (a case) through the API.
REPORTERS = frozenset({Role.RESIDENT, Role.GRID_WORKER, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
# Who may hand a task to someone else.
REASSIGNERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
DESIGNERS = frozenset({Role.DESIGNER, Role.ADMIN})
# Staff: everyone who works cases. They see a photo's evidence (EXIF place, time, camera); residents do not.
STAFF_ROLES = ALL_ROLES - {Role.RESIDENT.value}
