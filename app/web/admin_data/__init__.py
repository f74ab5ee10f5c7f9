"""The admin console's data half (``/admin/...``, admins only): the grid tree with GeoJSON import (progress
and the rejection report) and export, units and the grids they serve, the category catalogue, the emergency
plan library and the holiday schedule file. Every change goes through the services the API and the CLI use,
with their validation; the console's home ``/admin/`` is the people half's (``app.web.admin``)."""

from typing import Any

from flask import Blueprint

from app.web.errors import register_page_errors

bp = Blueprint(
    "admin_data",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/data-static",
)

register_page_errors(bp)


@bp.context_processor
def _words() -> dict[str, Any]:
    return {"ad_words": words, "ad_level": words.responsible_level, "ad_unit_kind": words.unit_kind}


from app.web.admin_data import (  # noqa: E402, F401  (registers the routes on bp)
    categories,
    grids,
    holidays,
    plans,
    units,
    words,
)
