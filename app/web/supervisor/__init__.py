"""Supervisor pages: case list, case page (timeline, highlighted diagram, photos) and the dashboard."""

from flask import Blueprint

bp = Blueprint(
    "supervisor",
    __name__,
    url_prefix="/supervise",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from app.web.supervisor import views as _views  # noqa: E402, F401  (registers the routes on bp)
