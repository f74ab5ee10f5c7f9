"""The dispatcher's workbench (调度工作台, desktop, ``/dispatch/``): the triage and dispatch queue with its
filters and "next task", each report with its photos, map, channel and possible duplicates, and triage and
dispatch done from the same page through the task services the API uses."""

from flask import Blueprint

bp = Blueprint(
    "workbench",
    __name__,
    url_prefix="/dispatch",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from app.web.workbench import views as _views  # noqa: E402, F401  (registers the routes on bp)
