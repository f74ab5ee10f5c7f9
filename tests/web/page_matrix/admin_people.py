"""The admin console's people half (app/web/admin): its home, the user list (with its filters), the new-user
form, a user's page and the audit log. The console is the admins' alone: every other role gets 403 on every
page of it, and a user that does not exist is a 404 for the admin too.

Not listed: the password reset page (``/password-reset/``), which is public by design (the person redeeming a
code is not signed in), so an anonymous visitor gets 200 there, not the matrix's sign-in redirect; its tests
are in tests/web/test_pages_admin_people.py."""

from __future__ import annotations

from app.auth import accounts
from app.auth.services import create_user
from app.extensions import db
from tests.cases.territory import EAST_GRID
from tests.conftest import PASSWORD
from tests.web.page_matrix import Page, World

ADMINS = {"admin"}
# A user's name as the user list shows it (the link text), so one name is not found inside another.
LEAVER, WORKER, WORKER_WEST = ">leaver<", ">worker<", ">worker_west<"


def seed(world: World) -> None:
    leaver = create_user("leaver", PASSWORD, "grid_worker", "离职网格员")
    admin = accounts.get_user("admin")
    db.session.flush()
    accounts.deactivate(leaver, admin, "离职")
    db.session.commit()


def pages(world: World) -> list[Page]:
    return [
        Page("/admin/", allowed=ADMINS, shows={"admin": ['href="/admin/users"', 'href="/admin/audit"']}),
        Page("/admin/users", allowed=ADMINS, shows={"admin": [WORKER, WORKER_WEST, ">leader_west<", LEAVER]}),
        Page(
            f"/admin/users?grid={EAST_GRID}",
            allowed=ADMINS,
            shows={"admin": [WORKER]},
            hides={"admin": [WORKER_WEST, ">leader_west<", ">resident<"]},
        ),
        Page(
            "/admin/users?state=inactive",
            allowed=ADMINS,
            shows={"admin": [LEAVER]},
            hides={"admin": [WORKER]},
        ),
        Page("/admin/users/new", allowed=ADMINS),
        Page("/admin/users/worker", allowed=ADMINS, shows={"admin": ["worker"]}),
        Page("/admin/users/leaver", allowed=ADMINS, shows={"admin": ["离职网格员", 'id="reactivate"']}),
        Page("/admin/users/nobody", allowed=(), refused={"admin": 404, "*": 403}),
        Page(
            "/admin/audit?action=user.deactivated",
            allowed=ADMINS,
            shows={"admin": ["user.deactivated", "leaver", "离职"]},
            hides={"admin": ["auth.signed_in"]},
        ),
    ]
