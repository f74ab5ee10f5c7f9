"""Security headers on every response: a strict Content-Security-Policy and the usual companions.

Only our own origin may provide scripts, styles, fonts, images (plus ``data:``/``blob:`` for photo previews
and the camera), connections and frames; no inline <script>, no inline event handlers, no framing by others.

The map tile server (``MAP_TILE_URL``) is added to ``img-src`` when, and only when, the setting names one:
without it no page may load anything from another host.

Three documented exceptions, all per response:
- ``allow_inline_style_attributes(reason)``: a view whose library writes ``style="…"`` attributes into the
  markup (e.g. SVG renderers) adds ``style-src-attr 'unsafe-inline'`` for that page only (never scripts).
- ``allow_inline_style_elements(reason)``: a view whose library injects <style> elements (dmn-js's
  CodeMirror editors) adds ``'unsafe-inline'`` to ``style-src`` for that page only (never scripts).
- the API documentation page (flask-smorest's Swagger UI template) carries one inline <script>: it is
  allowed by its SHA-256 hash, computed from the body, and Swagger UI's injected styles by 'unsafe-inline'
  for styles on that page only.
"""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Response, current_app, g, request

from app import runtime
from app.web.blueprint import bp

BASE_POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "media-src": ["'self'", "blob:"],
    "worker-src": ["'self'", "blob:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
API_DOCS_PATH = "/api/v1/docs"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def allow_inline_style_attributes(reason: str) -> None:
    """Call in a view whose page needs ``style="…"`` attributes in markup; ``reason`` documents why."""
    g.csp_style_attributes_reason = reason


def allow_inline_style_elements(reason: str) -> None:
    """Call in a view whose page gets <style> elements injected by a library; ``reason`` documents why."""
    g.csp_style_elements_reason = reason


def content_security_policy(response: Response) -> str:
    policy = {directive: list(sources) for directive, sources in BASE_POLICY.items()}
    tile_source = runtime.settings().maps.tile_source()
    if tile_source:
        policy["img-src"].append(tile_source)
    if getattr(g, "csp_style_attributes_reason", None):
        policy["style-src-attr"] = ["'unsafe-inline'"]
    if getattr(g, "csp_style_elements_reason", None):
        policy["style-src"].append("'unsafe-inline'")
    if request.path == API_DOCS_PATH and response.mimetype == "text/html" and not response.direct_passthrough:
        body = response.get_data()
        for script in _INLINE_SCRIPT.findall(body):
            digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
            policy["script-src"].append(f"'sha256-{digest}'")
        policy["style-src"].append("'unsafe-inline'")
    return "; ".join(f"{directive} {' '.join(sources)}" for directive, sources in policy.items())


@bp.before_app_request
def _fresh_csrf_token() -> None:
    # Flask-WTF caches the session's token on ``g``, which lives as long as the app context; one app context
    # can span several requests (tests, CLI), so each request reads its own session's token.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


@bp.after_app_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy(response)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    # The phone pages use the camera (file input) and the location; nothing else may.
    response.headers["Permissions-Policy"] = "geolocation=(self), camera=(self), microphone=()"
    hsts_seconds = runtime.settings().security.hsts_seconds
    if hsts_seconds and request.is_secure:  # browsers ignore HSTS over plain HTTP; say it over TLS only
        response.headers["Strict-Transport-Security"] = f"max-age={hsts_seconds}; includeSubDomains"
    return response
