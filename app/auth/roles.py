"""The roles, once. Keys are what the data and the diagrams use; labels are what people read."""

from enum import StrEnum


class Role(StrEnum):
    RESIDENT = "resident"
    GRID_WORKER = "grid_worker"
    DISPATCHER = "dispatcher"
    DEPARTMENT_HANDLER = "department_handler"
    SUPERVISOR = "supervisor"
    DESIGNER = "designer"
    ADMIN = "admin"


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.RESIDENT: ("居民", "Resident"),
    Role.GRID_WORKER: ("网格员", "Grid worker"),
    Role.DISPATCHER: ("指挥中心调度员", "Dispatcher"),
    Role.DEPARTMENT_HANDLER: ("部门处置人员", "Department handler"),
    Role.SUPERVISOR: ("督办员", "Supervisor"),
    Role.DESIGNER: ("流程设计员", "Process designer"),
    Role.ADMIN: ("系统管理员", "Administrator"),
}

ALL_ROLES: frozenset[str] = frozenset(r.value for r in Role)
# Who may file a report (a case) through the API.
REPORTERS = frozenset({Role.RESIDENT, Role.GRID_WORKER, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
# Who sees every case (until grid scopes narrow this down).
SEE_ALL_CASES = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
# Who may hand a task to someone else.
REASSIGNERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
DESIGNERS = frozenset({Role.DESIGNER, Role.ADMIN})
