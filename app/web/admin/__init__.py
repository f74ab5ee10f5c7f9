"""The admin console (系统管理, ``/admin/``, admins only): its home, which links every section (users and
the audit log here; grids, units, categories, emergency plans and holidays in ``app.web.admin_data``), the
users (list, create, edit roles, grids and unit, deactivate, reactivate, one-time password resets) and the
audit log. ``reset_bp`` is the page where a user redeems a reset code (``/password-reset``, no sign-in)."""

from flask import Blueprint

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    # Not /admin/static: the admin-data blueprint shares the /admin prefix.
    static_url_path="/people-static",
)
reset_bp = Blueprint("password_reset", __name__, url_prefix="/password-reset", template_folder="templates")

from app.web.admin import reset as _reset  # noqa: E402, F401  (registers the routes on reset_bp)
from app.web.admin import views as _views  # noqa: E402, F401  (registers the routes on bp)
