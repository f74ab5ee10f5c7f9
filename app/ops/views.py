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
    if address is not None and any(
        address in ipaddress.ip_network(network, strict=False)
        for network in observability.metrics_allowed_networks
    ):
        return True
    token = bearer_token()
    if token is None:
        return False
    if observability.metrics_token and hmac.compare_digest(token, observability.metrics_token):
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
