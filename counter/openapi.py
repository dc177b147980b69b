"""The OpenAPI 3 description of every /api/v1 call."""

from __future__ import annotations

from functools import lru_cache

from . import widget

INT = {"type": "integer", "minimum": 0}
PEAK = {
    "type": "object",
    "required": ["count", "at"],
    "properties": {"count": INT, "at": {"type": ["string", "null"], "format": "date-time"}},
}
STATS_PROPS = {
    "site": {"type": "string"},
    "total": INT, "today": INT, "yesterday": INT, "this_week": INT, "this_month": INT,
    "last_week": INT, "last_month": INT,
    "online": INT, "pageviews_today": INT, "unique_today": INT, "bots_today": INT,
    "peak_online": {
        "type": "object", "required": ["today", "all_time"],
        "properties": {"today": {"$ref": "#/components/schemas/Peak"},
                       "all_time": {"$ref": "#/components/schemas/Peak"}},
    },
    "date": {"type": "string", "format": "date"},
    "timezone": {"type": "string"},
    "online_window_seconds": INT,
    "as_of": {"type": "string", "format": "date-time"},
    "stale": {"type": "boolean"},
}
ERRORS = {400: "Bad input", 401: "Missing or wrong token", 403: "Forbidden",
          404: "Unknown site", 413: "Body over 4 KiB", 415: "Unsupported media type",
          429: "Over a rate limit", 503: "Store unavailable"}
ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"}
PATH = {"type": "string", "maxLength": 512, "pattern": "^[^\\u0000-\\u001f]*$"}
PAGE = {"type": "object", "required": ["path", "pageviews", "today"],
        "properties": {"path": {"type": "string"}, "pageviews": INT, "today": INT}}


def _ref(name: str) -> dict:
    """Point at a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    """Describe a JSON response."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    """Point at the error responses a call can give."""
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


SITE_PARAM = {"name": "site", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"}}
ADMIN = [{"bearer": []}]
# Public sites need nothing; a private site (public = false) needs the admin token, either way.
READER = [{}, {"bearer": []}, {"basic": []}]
PRIVATE = "For a private site (public = false in the sites file) the admin token is needed."


# A comma-separated list of the block's fields, spaces and empty items allowed, as the service
# splits it; `page` too, but only with `path`, which a pattern cannot say, so it is left out here
# and named in the description.
FIELD = "(" + "|".join(f for f in widget.FIELDS if f != "page") + ")"
FIELDS = rf"^[\s,]*{FIELD}\s*(,[\s,]*{FIELD}\s*)*[\s,]*$"


@lru_cache(maxsize=1)
def spec() -> dict:
    """Return the OpenAPI document."""
    body = {"type": "object", "properties": {
        "visitor": ID,
        "path": PATH,
        "hit": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
    }}
    # sendBeacon sends the same JSON object as text/plain, which needs no CORS preflight.
    beacon = {"application/json": {"schema": body}, "text/plain": {"schema": body}}
    day = {"type": "string", "format": "date"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Visit counter", "version": "1.0.0",
                 "description": "Counts visits, page views and online visitors of public portals."},
        "paths": {
            "/api/v1/sites": {"get": {
                "operationId": "listSites", "summary": "Every site with its live numbers",
                "description": "Private sites are listed only to a holder of the admin token.",
                "security": READER,
                "responses": {"200": _json(_ref("Sites"), "The sites"), **_errors(429, 503)},
            }},
            "/api/v1/sites/{site}/hits": {"post": {
                "operationId": "recordHit", "summary": "Record a page view",
                "parameters": [SITE_PARAM],
                "requestBody": {"required": False, "content": beacon},
                "responses": {"200": _json(_ref("HitResult"), "Recorded (or a bot, or a repeat)"),
                              **_errors(400, 403, 404, 413, 415, 429, 503)},
            }},
            "/api/v1/sites/{site}/heartbeat": {"post": {
                "operationId": "heartbeat", "summary": "Keep a visitor online",
                "parameters": [SITE_PARAM],
                "requestBody": {"required": False, "content": beacon},
                "responses": {"200": _json(_ref("HeartbeatResult"), "The stats, and the page's with a path"),
                              **_errors(400, 403, 404, 413, 415, 429, 503)},
            }},
            "/api/v1/sites/{site}/stats": {"get": {
                "operationId": "getStats", "summary": "The stats object; never counts",
                "parameters": [SITE_PARAM],
                "responses": {"200": _json(_ref("Stats"), "The stats"),
                              "304": {"description": "Not modified (If-None-Match)"},
                              **_errors(400, 404, 503)},
            }},
            "/api/v1/sites/{site}/daily": {"get": {
                "operationId": "getDaily", "summary": "Daily history, JSON or CSV",
                "parameters": [
                    SITE_PARAM,
                    {"name": "from", "in": "query", "schema": day},
                    {"name": "to", "in": "query", "schema": day},
                    {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}},
                ],
                "responses": {"200": {"description": "One row per day", "content": {
                    "application/json": {"schema": _ref("Daily")},
                    "text/csv": {"schema": {"type": "string"}},
                }}, **_errors(400, 401, 404, 429, 503)},
                "description": PRIVATE, "security": READER,
            }},
            "/api/v1/sites/{site}/online": {"get": {
                "operationId": "getOnline", "summary": "Online now and page views per minute",
                "parameters": [SITE_PARAM],
                "description": PRIVATE, "security": READER,
                "responses": {"200": _json(_ref("Online"), "Live numbers"),
                              **_errors(400, 401, 404, 429, 503)},
            }},
            "/api/v1/sites/{site}/pages": {"get": {
                "operationId": "getPages", "summary": "The most viewed pages of a period, JSON or CSV",
                "parameters": [
                    SITE_PARAM,
                    {"name": "period", "in": "query", "description": "all (default), today, YYYY-MM or "
                     "YYYY-MM-DD; days are kept for 35 days, older ones list no pages",
                     "schema": {"type": "string",
                                "pattern": "^(all|today|[0-9]{4}-[0-9]{2}|[0-9]{4}-[0-9]{2}-[0-9]{2})$"}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}},
                    {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}},
                ],
                "responses": {"200": {"description": "Most viewed first, ties in path order", "content": {
                    "application/json": {"schema": _ref("Pages")},
                    "text/csv": {"schema": {"type": "string"}},
                }}, **_errors(400, 404, 503)},
            }},
            "/api/v1/sites/{site}/pages/views": {"get": {
                "operationId": "getPageViews", "summary": "One page's views, all-time and today",
                "parameters": [SITE_PARAM, {"name": "path", "in": "query", "required": True,
                                            "schema": dict(PATH, minLength=1)}],
                "responses": {"200": _json(_ref("PageViews"), "The page's numbers (zeros if never seen)"),
                              **_errors(400, 404, 503)},
            }},
            "/api/v1/sites/{site}/badge.svg": {"get": {
                "operationId": "getBadge", "summary": "The counts as an SVG; counts only with count=1",
                "parameters": [
                    SITE_PARAM,
                    {"name": "fields", "in": "query", "schema": {"type": "string", "pattern": FIELDS},
                     "description": "some of total, online, today, yesterday, this_week, this_month, "
                                    "last_week, last_month; and page (one page's views) when path is given"},
                    {"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["vi", "en"]}},
                    {"name": "theme", "in": "query",
                     "schema": {"type": "string", "enum": ["light", "dark", "auto"]}},
                    {"name": "title", "in": "query",
                     "schema": {"type": "string", "maxLength": 100, "pattern": "^[^\\u0000-\\u001f]*$"},
                     "description": "replaces the title; empty: no title"},
                    {"name": "count", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}},
                    {"name": "path", "in": "query", "schema": PATH,
                     "description": "one page: the badge shows its views (the field page)"},
                ],
                # Errors are pictures too, so that an <img> shows what is wrong.
                "responses": {str(status): {"description": what,
                                            "content": {"image/svg+xml": {"schema": {"type": "string"}}}}
                              for status, what in ((200, "The badge"),
                                                   (400, "A picture saying which option is wrong"),
                                                   (404, "A picture saying the site is unknown"),
                                                   (503, "The badge with dashes: the store is unavailable"))},
            }},
            "/api/v1/sites/{site}/total": {"put": {
                "operationId": "setTotal", "summary": "Set the all-time total (admin)",
                "parameters": [SITE_PARAM], "security": ADMIN,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["total"], "properties": {"total": INT}}}}},
                "responses": {"200": _json(_ref("Stats"), "The stats after the change"),
                              **_errors(400, 401, 403, 404, 413, 415, 429, 503)},
            }},
            "/api/v1/sites/{site}/daily/{date}": {"put": {
                "operationId": "setDay", "summary": "Set one past day (admin); total unchanged",
                "parameters": [SITE_PARAM, {"name": "date", "in": "path", "required": True, "schema": day}],
                "security": ADMIN,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "minProperties": 1, "additionalProperties": False,
                    "properties": {"visits": INT, "pageviews": INT}}}}},
                "responses": {"200": _json(_ref("Day"), "The day after the change"),
                              **_errors(400, 401, 403, 404, 413, 415, 429, 503)},
            }},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "basic": {"type": "http", "scheme": "basic",
                                          "description": "any user name; the admin token as password"}},
            "responses": {f"E{s}": _json(_ref("Error"), text) for s, text in ERRORS.items()},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Peak": PEAK,
                "Stats": {"type": "object", "required": list(STATS_PROPS), "properties": STATS_PROPS},
                "HitResult": {"allOf": [_ref("Stats"), {
                    "type": "object", "required": ["counted", "new_visit"],
                    "properties": {"counted": {"type": "boolean"}, "new_visit": {"type": "boolean"},
                                   "page": PAGE}}]},
                "HeartbeatResult": {"allOf": [_ref("Stats"),
                                              {"type": "object", "properties": {"page": PAGE}}]},
                "Pages": {"type": "object", "required": ["site", "period", "pages", "other"], "properties": {
                    "site": {"type": "string"}, "period": {"type": "string"},
                    "pages": {"type": "array", "items": {
                        "type": "object", "required": ["path", "pageviews"],
                        "properties": {"path": {"type": "string"}, "pageviews": INT}}},
                    "other": INT}},
                "PageViews": {"type": "object", "required": ["site", "path", "pageviews", "today"],
                              "properties": {"site": {"type": "string"}, "path": {"type": "string"},
                                             "pageviews": INT, "today": INT}},
                "Day": {"type": "object",
                        "required": ["date", "visits", "pageviews", "unique_visitors", "peak_online"],
                        "properties": {"date": day, "visits": INT, "pageviews": INT,
                                       "unique_visitors": INT, "peak_online": INT}},
                "Daily": {"type": "object", "required": ["site", "timezone", "days"], "properties": {
                    "site": {"type": "string"}, "timezone": {"type": "string"},
                    "days": {"type": "array", "items": _ref("Day")}}},
                "Online": {"type": "object",
                           "required": ["site", "online", "window_seconds", "as_of", "peak_today",
                                        "last_hour"],
                           "properties": {
                               "site": {"type": "string"}, "online": INT, "window_seconds": INT,
                               "as_of": {"type": "string", "format": "date-time"},
                               "peak_today": PEAK,
                               "last_hour": {"type": "array", "minItems": 60, "maxItems": 60, "items": {
                                   "type": "object", "required": ["minute", "pageviews"],
                                   "properties": {"minute": {"type": "string", "format": "date-time"},
                                                  "pageviews": INT}}}}},
                "Sites": {"type": "object", "required": ["sites"], "properties": {"sites": {
                    "type": "array", "items": {
                        "type": "object", "required": ["site", "name", "total", "today", "online"],
                        "properties": {"site": {"type": "string"}, "name": {"type": "string"},
                                       "total": INT, "today": INT, "online": INT}}}}},
            },
        },
    }
