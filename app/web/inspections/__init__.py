"""The inspection pages (专项检查, desktop, ``/inspections/``): campaigns with their progress per grid on a
map and in a table, launching a campaign by choosing places by type and grid on a map, and the place registry
with each place's inspection history, rectification notices and blacklist state. Same services and rules
as ``/api/v1/inspections`` (``app/inspections/``)."""

from flask import Blueprint

bp = Blueprint(
    "inspection_pages",
    __name__,
    url_prefix="/inspections",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from app.web.inspections import views as _views  # noqa: E402, F401  (registers the routes on bp)
