"""Operating the app: request ids and request metrics on every response, ``/healthz``, ``/readyz`` and
``/metrics``, and the engine's figures for admins as JSON (README, Observability)."""

from __future__ import annotations

from flask import Flask


def init_ops(app: Flask) -> None:
    from app.extensions import api, csrf
    from app.http import authenticate_api_request
    from app.ops.api import blp
    from app.ops.requests import instrument_requests
    from app.ops.views import bp

    instrument_requests(app)
    app.register_blueprint(bp)
    if authenticate_api_request not in blp.before_request_funcs.get(None, []):
        blp.before_request(authenticate_api_request)
    api.register_blueprint(blp)
    csrf.exempt(blp)
