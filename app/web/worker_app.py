"""The grid worker's pages as an installable app (PWA): the web app manifest and the service worker.

The service worker's script is served at ``/m/sw.js`` so its scope covers the worker pages (``/m/``) and
nothing else; it is never cached by the HTTP cache (a new version must reach the phones at their next visit).
The manifest names the app and its icons in the user's language; the icons' URLs come from ``url_for``."""

from __future__ import annotations

from flask import Response, jsonify, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.web.blueprint import bp
from app.web.i18n import html_lang

THEME_COLOR = "#1c6dd0"  # the favicon's blue


@bp.route("/m/sw.js")
def worker_service_worker() -> ResponseReturnValue:
    response: Response = send_from_directory(bp.static_folder or "", "js/worker_sw.js", max_age=0)
    response.mimetype = "text/javascript"
    response.cache_control.no_cache = True
    response.headers["Service-Worker-Allowed"] = url_for("web.worker_inbox")
    return response


@bp.route("/m/manifest.webmanifest")
def worker_manifest() -> ResponseReturnValue:
    icons = [
        {
            "src": url_for("web.static", filename=f"icons/app-{size}.png"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": "any maskable",
        }
        for size in (192, 512)
    ]
    icons.append(
        {"src": url_for("web.static", filename="icons/favicon.svg"), "sizes": "any", "type": "image/svg+xml"}
    )
    response = jsonify(
        name=_("Grid worker app"),
        short_name=_("Grid app"),
        description=_("Tasks of the grid, with photos, also where the network is weak."),
        start_url=url_for("web.worker_inbox"),
        scope=url_for("web.worker_inbox"),
        display="standalone",
        orientation="portrait",
        background_color="#ffffff",
        theme_color=THEME_COLOR,
        lang=html_lang(),
        icons=icons,
    )
    response.mimetype = "application/manifest+json"
    return response
