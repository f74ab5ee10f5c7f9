"""Mediation pages (矛盾纠纷调解, desktop, ``/mediation/``): the dispute list with its filters, the
dispute page (parties masked by role exactly as the API masks them, sessions, documents, follow-up, and
the process's current task completed in place), and filing a dispute on behalf of a resident. Every read
and change goes through ``app.mediation.services`` and ``app.tasks.services``, the API's own services."""

from flask import Blueprint

bp = Blueprint(
    "mediation",
    __name__,
    url_prefix="/mediation",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from app.web.mediation import views as _views  # noqa: E402, F401  (registers the routes on bp)
