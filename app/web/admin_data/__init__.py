"""The admin console's data half (``/admin/...``, admins only): the grid tree with GeoJSON import (progress
and the rejection report) and export, units and the grids they serve, the category catalogue, the emergency
plan library and the holiday schedule file. Every change goes through the services the API and the CLI use,
with their validation; the console's home ``/admin/`` is the people half's (``app.web.admin``)."""

from flask import Blueprint

bp = Blueprint(
    "admin_data",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/data-static",
)

from app.web.admin_data import (  # noqa: E402, F401  (registers the routes on bp)
    categories,
    grids,
    holidays,
    plans,
    units,
)
