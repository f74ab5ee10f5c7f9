"""Operating the app: request ids and request metrics on every response, ``/healthz``, ``/readyz`` and
``/metrics`` (README, Observability)."""

from __future__ import annotations

from flask import Flask


def init_ops(app: Flask) -> None:
    from app.ops.requests import instrument_requests
    from app.ops.views import bp

    instrument_requests(app)
    app.register_blueprint(bp)
