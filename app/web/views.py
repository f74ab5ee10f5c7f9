"""Pages. For now: sign-in and a start page; the full web app grows on the same services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, send_from_directory, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.auth.models import User
from app.auth.roles import ROLE_LABELS, Role
from app.auth.services import authenticate
from app.config import PROJECT_ROOT
from app.errors import NotAuthenticated
from app.extensions import db, login_manager

bp = Blueprint("web", __name__, template_folder="templates")
NODE_MODULES = PROJECT_ROOT / "node_modules"
# Browser packages served from node_modules (installed by npm at set-up, never from a CDN).
VENDOR_PACKAGES = {"swagger-ui-dist"}


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@bp.route("/")
@login_required
def index() -> Any:
    label = ROLE_LABELS.get(Role(current_user.role), (current_user.role, current_user.role))
    return render_template("index.html", role_label=label)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        try:
            user = authenticate(request.form.get("username", ""), request.form.get("password", ""))
        except NotAuthenticated:
            error = "用户名或密码错误 Wrong username or password"
        else:
            login_user(user)
            target = request.args.get("next") or ""
            # Only same-site paths: no open redirect.
            return redirect(
                target if target.startswith("/") and not target.startswith("//") else url_for("web.index")
            )
    return render_template("login.html", error=error), 401 if error else 200


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    logout_user()
    return redirect(url_for("web.login"))


@bp.route("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str) -> Any:
    if package not in VENDOR_PACKAGES:
        abort(404)
    folder: Path = NODE_MODULES / package
    if not folder.is_dir():
        abort(404, description=f"{package} is not installed: run 'make run' (it runs npm install)")
    return send_from_directory(folder, filename, max_age=86400)
