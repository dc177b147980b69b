"""The contract's JSON errors, and handlers that turn everything into one.

Every exception that reaches a view's caller is mapped here, and only here.
"""

from __future__ import annotations

import logging

from flask import Flask, has_request_context, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from .service import BadRange, RateLimited
from .store import StoreUnavailable

log = logging.getLogger(__name__)

# Codes for the errors that werkzeug raises by itself.
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """An answer of the contract's error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        """Keep the status, snake_case code, sentence and extra headers."""
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def page_route() -> bool:
    """Tell whether the request is for a page a person opens: `/` or a dashboard."""
    path = request.path
    return path == "/" or path == "/dashboard" or path.startswith("/dashboard/")


def error_response(status: int, code: str, message: str, headers: dict | None = None):
    """Build the error response: JSON, or a small HTML page for a browser on a page route."""
    on_page = has_request_context() and page_route()
    # A browser asks for text/html first; a program (curl, `*/*`, JSON) keeps the contract's JSON.
    if on_page and request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        from .dashboard import page  # here: dashboard imports this module

        response = page(render_template("error_page.html", status=status, code=code, message=message), status)
    else:
        response = jsonify(error={"code": code, "message": message})
        response.status_code = status
    response.headers.update(headers or {})
    if on_page:
        response.vary.add("Accept")  # one URL, two bodies: a cache must keep them apart
    return response


def init_app(app: Flask) -> None:
    """Register the handlers, so that no path answers HTML or a stack trace."""

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(exc: StoreUnavailable):
        if not exc.logged:  # a connection failure is logged by the transport, once per outage
            log.warning("store unavailable: %s", exc)
        return error_response(503, "store_unavailable",
                              "The counter store is not answering; try again shortly.",
                              {"Retry-After": "1"})

    @app.errorhandler(RateLimited)
    def rate_limited(exc: RateLimited):
        """Tell a client over a limit when to come back."""
        what = "new visits" if exc.new_visits else "requests"
        return error_response(429, "rate_limited", f"Too many {what} from this address; try again later.",
                              {"Retry-After": str(exc.retry_after)})

    @app.errorhandler(BadRange)
    def bad_range(exc: BadRange):
        """Refuse a daily range the service will not read."""
        return error_response(400, exc.code, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        code = HTTP_CODES.get(status, "http_error")
        headers = {"Allow": exc.get_response().headers["Allow"]} if status == 405 else None
        return error_response(status, code, exc.description or exc.name, headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error")
        return error_response(500, "internal_error", "Something went wrong on our side.")
