"""No 5xx from any query string on any GET route, and redirects that never name the Host."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from helpers import browser
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

# Every query parameter some GET route reads, and a few no route knows.
NAMES = ["from", "to", "format", "days", "fields", "lang", "count", "theme", "period", "limit",
         "path", "title", "site", "watch", "callback", "x"]
SPECIAL = [
    # the calendar's ends and just past them
    "0001-01-01", "0001-01-02", "9999-12-31", "9999-12-30", "0000-00-00", "10000-01-01", "0001-00-01",
    "2026-02-29", "2024-02-29", "2026-13-01", "-001-01-01", "+2026-01-01", " 2026-11-25", "2026-11-25 ",
    "2026-1-5", "20261125", "2026-W48", "2026-11", "0001-01", "9999-12", "10000-01",
    # digits that are digits to str.isdigit() but not to int(), and look-alikes
    "²", "³", "¹⁰", "١٢", "𝟗", "٣٠", "〇", "Ⅻ", "½", "３０", "1_0", "0x1f", "1e3", "1e309",
    # huge, negative, non-numbers
    "9" * 25, "9" * 400, "9" * 5000, "-1", "-0", "0", "00", "+1", " 1", "nan", "NaN", "inf", "-inf",
    "",  "null", "true", "[]", "{}", "%00", "\x00", "\t", "\u202e", "😀",
    # lists and junk for fields, formats and periods
    "total,,online", ",", "total," * 200, "csv", "json", "CSV", "all", "today", "0001-01-01/9999-12-31",
]
VALUE = st.one_of(st.sampled_from(SPECIAL),
                  st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
                  st.integers(-(10**30), 10**30).map(str))
QUERY = st.lists(st.tuples(st.sampled_from(NAMES), VALUE), max_size=5)


def get_routes(app) -> list[str]:
    """Return every GET route of the app with its site filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", "demo")
        routes.append(path)
    return sorted(set(routes))


@pytest.fixture
def c(make_app):
    """A browser on an app with an admin token."""
    return browser(make_app(COUNTER_ADMIN_TOKEN="s3cret-token-of-24-chars!"))


def test_the_routes_are_all_there(c):
    routes = get_routes(c.application)
    for expected in ("/api/v1/sites/demo/daily", "/dashboard/demo", "/embed/demo",
                     "/api/v1/sites/demo/badge.svg"):
        assert expected in routes


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), query=QUERY)
@example(data=None, query=[("to", "0001-01-01")])
@example(data=None, query=[("from", "9999-12-31")])
@example(data=None, query=[("days", "²")])
@example(data=None, query=[("days", "9" * 5000)])
def test_no_query_string_gives_a_5xx(c, data, query):
    routes = get_routes(c.application)
    for path in (routes if data is None else [data.draw(st.sampled_from(routes))]):
        response = c.get(path, query_string=urlencode(query))
        assert response.status_code < 500, (path, query, response.data[:300])


REDIRECTING = ["//dashboard//demo", "//dashboard", "/dashboard//demo", "//api/v1/sites//demo//stats",
               "/api/v1//sites", "//embed//demo", "//widget.js", "/dashboard/demo/", "/api/v1/sites/",
               "//", "/./dashboard", "/dashboard/../dashboard"]


@pytest.mark.parametrize("path", REDIRECTING)
def test_redirects_never_name_the_host(c, path):
    for host in ("evil.example", "evil.example:8443"):
        # Set PATH_INFO as a server would: the test client would read "//x" as a host.
        response = c.get("/", environ_overrides={"PATH_INFO": path, "HTTP_HOST": host})
        location = response.headers.get("Location", "")
        assert "evil" not in location, (path, response.status_code, location)
        if 300 <= response.status_code < 400:
            assert location.startswith("/") and not location.startswith("//"), location
