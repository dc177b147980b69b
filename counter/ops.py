"""What operators and machines ask: liveness, readiness, the API description."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from .errors import error_response
from .openapi import spec
from .store import StoreUnavailable

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Answer while the process runs."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Answer 200 only when Redis answers."""
    try:
        current_app.extensions["counter"].store.ping()
    except StoreUnavailable:
        return error_response(503, "store_unavailable", "The counter store is not answering.")
    return jsonify(status="ready")


@bp.get("/openapi.json")
def openapi():
    """Describe every /api/v1 call."""
    return jsonify(spec())
