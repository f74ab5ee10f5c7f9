"""Imports between the packages of ``app/`` and ``connectors/`` point down the order declared here.

Read from the source (ast), lazy imports inside functions included: a package may import its own modules
and any package of a lower layer, never one of its own layer or above. A new package must be placed here.
Imports under ``if TYPE_CHECKING:`` are left out: they name types for mypy and are never executed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. "app" is the package's own __init__ (the app factory); "models" is app/models.py, which
# gathers every model for Alembic.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("timelimits",),  # calendar arithmetic, pure Python (config reads its working hours and holidays)
    ("config",),
    ("extensions",),
    ("runtime",),  # the app's settings, clock and registries, typed: it imports what it holds only for types
    # inputs: rules every edge shares (bounded ints, …); logs and metrics: what every process writes;
    # geodesy: distances on the Earth
    ("errors", "clock", "db_setup", "inputs", "logs", "metrics", "geodesy"),
    ("audit",),
    ("auth",),  # users, roles, tokens: everything above knows who acts
    ("http", "imports", "counters", "compression"),  # the HTTP edge's helpers, file imports, named counters
    ("ratelimits", "idempotency"),  # the HTTP edge's guards: rate limits, Idempotency-Key replays
    ("jobs",),  # the job outbox and queues (its admin endpoints use the HTTP edge's helpers)
    # the territory; the process engine (the only importer of SpiffWorkflow); the holiday schedule file
    ("grids", "workflow", "holidays"),
    ("units",),  # units serve grids
    ("categories",),  # a category names the unit kind and the process that handle it
    ("cases",),
    ("tasks", "processes", "kpi"),  # people's work on cases, process definitions, KPIs over cases
    ("devices", "inspections", "mediation"),  # domains that open cases (mediation reports its own KPIs)
    ("emergency", "connectors"),  # plans name device types; connectors feed devices
    ("web", "demo", "worker", "ops"),  # ops: request ids and metrics, /healthz, /readyz, /metrics
    ("city",),  # seed-city: the demo's people, plans and walker at a district's scale, plus bulk loading
    ("cli", "models"),
    ("app",),
)

# (importing module, imported package): the imports that go up or sideways, each with its reason.
ALLOWED: dict[tuple[str, str], str] = {
    # auth/api.py is the HTTP edge of the auth package: it uses the shared helpers of app/http.py, which
    # themselves read the requesting user through auth.services.
    ("app.auth.api", "http"): "auth's endpoints live at the HTTP edge",
    # POST /api/v1/users checks the unit a new user names; units sit above users, so the check is made at
    # the edge (units.services.require_unit) rather than inside auth.services.create_user.
    ("app.auth.api", "units"): "creating a user through the API checks the unit it names",
}

RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package(module: str) -> str | None:
    """The layer name of a module of app/ or connectors/ (None for any other library)."""
    parts = module.split(".")
    if parts[0] == "connectors":
        return "connectors"
    if parts[0] != "app":
        return None
    return parts[1] if len(parts) > 1 else "app"


def _imported_modules(path: Path, module: str) -> set[str]:
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    type_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for child in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target == "app":  # "from app import cli" names a module of app, not the app factory
                found.update(f"app.{alias.name}" for alias in node.names)
            else:
                found.add(target)
    return found


def _imports() -> list[tuple[str, str, str]]:
    """(importing module, its layer name, imported layer name) for every import between two packages."""
    edges = []
    for top in ("app", "connectors"):
        for path in sorted((ROOT / top).rglob("*.py")):
            module = _module_name(path)
            source = _package(module)
            assert source is not None
            for target in _imported_modules(path, module):
                imported = _package(target)
                if imported is not None and imported != source:
                    edges.append((module, source, imported))
    return edges


def test_every_package_has_a_layer():
    names = {p.stem for p in (ROOT / "app").iterdir() if p.suffix == ".py" or any(p.glob("*.py"))}
    names = {"app" if name == "__init__" else name for name in names} | {"connectors"}
    assert sorted(names - set(RANK)) == []
    assert sorted(set(RANK) - names) == []


def test_imports_point_down():
    upward = sorted(
        f"{module} imports {imported} ({source} is not above {imported})"
        for module, source, imported in _imports()
        if RANK[imported] >= RANK[source] and (module, imported) not in ALLOWED
    )
    assert upward == []


def test_every_exception_is_still_needed():
    used = {(module, imported) for module, _, imported in _imports()}
    assert sorted(set(ALLOWED) - used) == []
