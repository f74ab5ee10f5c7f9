"""Sign-in, sign-out and the start page, which sends each role to its home (app/web/nav.py)."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.auth.models import User
from app.auth.roles import ROLE_LABELS, Role
from app.auth.signin import sign_in
from app.extensions import db, login_manager
from app.web.blueprint import bp
from app.web.i18n import current_language
from app.web.nav import home_of, nav_links


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id))
    # A deactivated user's session ends at their next request, like their tokens.
    return user if user is not None and user.active else None


def role_label(role: str) -> str:
    """The role's name in the page's language."""
    labels = ROLE_LABELS.get(Role(role), (role, role))
    return labels[0] if current_language().startswith("zh") else labels[1]


@bp.app_context_processor
def _user_context() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {"nav": [], "role_label": role_label}
    return {"nav": nav_links(current_user.role), "role_label": role_label}


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    home = home_of(current_user.role)
    if home is not None:
        return redirect(home)
    return render_template("index.html")


def _same_site(target: str) -> bool:
    return target.startswith("/") and not target.startswith("//") and "\\" not in target


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    error = None
    if request.method == "POST":
        user = sign_in(
            request.form.get("username", "")[:64],
            request.form.get("password", "")[:200],
            channel="page",
            address=request.remote_addr,
        )
        db.session.commit()  # the sign-in, or the failure count and its audit
        if user is None:
            error = _("Wrong username or password. Repeated failures lock the account for a while.")
        else:
            login_user(user)
            target = request.args.get("next") or ""
            # Only same-site paths: no open redirect.
            return redirect(target if _same_site(target) else url_for("web.index"))
    return render_template("login.html", error=error), 401 if error else 200


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    logout_user()
    return redirect(url_for("web.login"))
