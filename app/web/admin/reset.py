"""The page where a person sets a new password with the one-time code an admin gave them: by its link
(``/password-reset/?code=…``) or by typing the code (``/password-reset/``). The code rides in the query
string or the form, never in the path, which the access log records. No sign-in; sign-in's rate limit counts
the attempts. An unknown, used, voided or expired code gets one answer, whatever the reason."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.auth import resets
from app.errors import InvalidInput
from app.extensions import db
from app.web.admin import reset_bp
from app.web.errors import register_page_errors

register_page_errors(reset_bp)
NO_STORE = {"Cache-Control": "no-store"}


@reset_bp.route("/", methods=["GET", "POST"])
def form() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    if request.method == "GET":
        code = request.args.get("code", "")[:100]
        linked = bool(code)
        found = resets.valid_reset(code) if linked else None
        if linked and found is None:
            errors["code"] = _(
                "This reset link is invalid, used or expired: ask an administrator for a new one."
            )
        # Whose password it sets: the holder of the link may reset it anyway, so naming it tells nothing more.
        username = found.user.username if found is not None else None
        return _page(code, linked, errors, username), (404 if errors else 200), NO_STORE
    code = request.form.get("code", "")[:100]
    linked = request.form.get("linked") == "1"
    password = request.form.get("password", "")[:400]
    if password != request.form.get("password_again", "")[:400]:
        errors["password_again"] = _("The two passwords differ.")
        return _page(code, linked, errors), 422, NO_STORE
    try:
        user = resets.use_reset(code, password)
    except InvalidInput as exc:
        db.session.rollback()
        if "code" in exc.details:
            errors["code"] = _(
                "This reset code is invalid, used or expired: ask an administrator for a new one."
            )
        else:
            errors["password"] = "；".join(exc.details.get("password", [exc.message]))
        return _page(code, linked, errors), 422, NO_STORE
    db.session.commit()
    flash(_("Your new password is set, %(name)s: sign in with it.", name=user.display_name), "success")
    return redirect(url_for("web.login"))


def _page(code: str, linked: bool, errors: dict[str, str], username: str | None = None) -> str:
    return render_template(
        "admin/password_reset.html", code=code, linked=linked, errors=errors, username=username
    )
