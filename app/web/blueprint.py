"""The ``web`` blueprint object, alone, so the page modules next to it can register on it without cycles."""

from __future__ import annotations

from flask import Blueprint

# Our own JS and CSS: app/web/static/, served at /static/<file> (url_for("web.static", filename=...)).
bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)
