"""The ``web`` blueprint: sign-in, the shared layout's helpers, language, security headers, vendor files,
the grid worker pages (/m/) and the resident pages (/r/). Each concern is a module next to this one; importing
them here registers their routes on ``bp``."""

from __future__ import annotations

from app.web import (  # noqa: F401  (registers routes)
    auth,
    form_preview,
    geo,
    i18n,
    incident_notice,
    resident,
    security,
    start,
    vendor,
    worker,
    worker_app,
)
from app.web.blueprint import bp
from app.web.errors import register_page_errors

register_page_errors(bp)

__all__ = ["bp"]
