"""``/healthz`` (the process answers: no dependency is asked), ``/readyz`` (503 naming what is not ready)
and ``/metrics`` (Prometheus text; restricted, see ``metrics_allowed``)."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from app import metrics, runtime
from app.auth.roles import Role
from app.extensions import csrf
from app.http import bearer_token
from app.ops.collector import AppFigures, read_figures
from app.ops.readiness import readiness

bp = Blueprint("ops", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    ready, body = readiness()
    return jsonify(body), 200 if ready else 503


def metrics_allowed() -> bool:
    """From an allowed network (METRICS_ALLOWED_NETWORKS, default this machine), with METRICS_TOKEN as a
    bearer token, or with an admin's API token."""
    observability = runtime.settings().observability
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        address = None
    # Through a reverse proxy on this machine every caller would look like 127.0.0.1: a proxied request
    # is admitted by its network only once the trusted-proxy setting (werkzeug's ProxyFix) has put the
    # client's own address in its place.
    proxied = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    if proxied and "werkzeug.proxy_fix.orig" not in request.environ:
        address = None
    if address is not None and any(
        address in ipaddress.ip_network(network, strict=False)
        for network in observability.metrics_allowed_networks
    ):
        return True
    token = bearer_token()
    if token is None:
        return False
    secret = observability.metrics_token
    if secret and hmac.compare_digest(token.encode(), secret.encode()):  # bytes: any header text compares
        return True
    from app.auth.services import user_from_token

    user = user_from_token(token)
    return user is not None and user.role == Role.ADMIN


@bp.get("/metrics")
def metrics_endpoint() -> Response | tuple[Response, int]:
    if not metrics_allowed():
        return jsonify(
            error="forbidden",
            message="指标仅对允许的网络或管理员开放"
            " (metrics: from METRICS_ALLOWED_NETWORKS, with METRICS_TOKEN or an admin's token)",
            details={},
        ), 403
    figures = CollectorRegistry()
    figures.register(AppFigures(read_figures()))
    body = generate_latest(metrics.scrape_registry()) + generate_latest(figures)
    return Response(body, content_type=CONTENT_TYPE_LATEST)
