"""Bad input: a JSON error with a 4xx, and not one key created in Redis."""

from __future__ import annotations

import io

import pytest

from tests.helpers import ADMIN

HITS = "/api/v1/sites/demo/hits"
JSON = "application/json"

# (method, url, body, content type, headers, status, code)
CASES = [
    ("POST", "/api/v1/sites/nosuch/hits", "{}", JSON, {}, 404, "unknown_site"),
    ("POST", "/api/v1/sites/{demo}/hits", "{}", JSON, {}, 400, "invalid_site"),
    ("POST", "/api/v1/sites/de*mo/hits", "{}", JSON, {}, 400, "invalid_site"),
    ("POST", "/api/v1/sites/Demo/hits", "{}", JSON, {}, 400, "invalid_site"),
    ("POST", "/api/v1/sites/-demo/hits", "{}", JSON, {}, 400, "invalid_site"),
    ("POST", "/api/v1/sites/" + "a" * 64 + "/hits", "{}", JSON, {}, 400, "invalid_site"),
    ("GET", "/api/v1/sites/nosuch/stats", None, None, {}, 404, "unknown_site"),
    ("GET", "/api/v1/sites/%7Bdemo%7D/daily", None, None, {}, 400, "invalid_site"),
    ("POST", HITS, "{not json", JSON, {}, 400, "invalid_json"),
    ("POST", HITS, "[1, 2]", JSON, {}, 400, "invalid_json"),
    ("POST", HITS, '"visitor"', JSON, {}, 400, "invalid_json"),
    ("POST", HITS, '{"visitor": "aaaaaaaaaaaaaaaa", "visitor": "bbbbbbbbbbbbbbbb"}', JSON, {}, 400,
     "invalid_json"),
    ("POST", HITS, b'{"visitor": "\xff\xfe"}', JSON, {}, 400, "invalid_json"),
    ("POST", HITS, "[" * 2000 + "]" * 2000, JSON, {}, 400, "invalid_json"),
    ("POST", HITS, '{"visitor": 1234567890123456}', JSON, {}, 400, "invalid_visitor"),
    ("POST", HITS, '{"visitor": "short"}', JSON, {}, 400, "invalid_visitor"),
    ("POST", HITS, '{"visitor": "' + "a" * 65 + '"}', JSON, {}, 400, "invalid_visitor"),
    ("POST", HITS, '{"visitor": "aaaaaaaa bbbbbbbbbb"}', JSON, {}, 400, "invalid_visitor"),
    ("POST", HITS, '{"visitor": "aaaaaaaaaaaaaaaa\\n"}', JSON, {}, 400, "invalid_visitor"),
    ("POST", HITS, '{"visitor": "аааааааааааааааа"}', JSON, {}, 400, "invalid_visitor"),
    ("POST", HITS, '{"visitor": ["aaaaaaaaaaaaaaaa"]}', JSON, {}, 400, "invalid_visitor"),
    ("POST", HITS, '{"path": "/' + "p" * 512 + '"}', JSON, {}, 400, "invalid_path"),
    ("POST", HITS, '{"path": 7}', JSON, {}, 400, "invalid_path"),
    ("POST", HITS, '{"path": "/a\\r\\nSet-Cookie: x"}', JSON, {}, 400, "invalid_path"),
    ("POST", HITS, '{"path": "/a\\u0000b"}', JSON, {}, 400, "invalid_path"),
    ("POST", HITS, '{"hit": "short"}', JSON, {}, 400, "invalid_hit"),
    ("POST", HITS, '{"hit": 12345678}', JSON, {}, 400, "invalid_hit"),
    ("POST", HITS, '{"hit": "' + "h" * 65 + '"}', JSON, {}, 400, "invalid_hit"),
    ("POST", HITS, '{"hit": "<script>x</script>"}', JSON, {}, 400, "invalid_hit"),
    ("POST", HITS, '{"path": "' + "x" * 5000 + '"}', JSON, {}, 413, "payload_too_large"),
    ("POST", HITS, "visitor=aaaaaaaaaaaaaaaa", "application/x-www-form-urlencoded", {}, 415,
     "unsupported_media_type"),
    ("POST", HITS, "<hit/>", "application/xml", {}, 415, "unsupported_media_type"),
    ("POST", "/api/v1/sites/demo/heartbeat", '{"visitor": "x"}', JSON, {}, 400, "invalid_visitor"),
    ("GET", "/api/v1/sites/demo/daily?from=2026-13-01", None, None, {}, 400, "invalid_date"),
    ("GET", "/api/v1/sites/demo/daily?from=20261101", None, None, {}, 400, "invalid_date"),
    ("GET", "/api/v1/sites/demo/daily?to=yesterday", None, None, {}, 400, "invalid_date"),
    ("GET", "/api/v1/sites/demo/daily?from=2026-11-25&to=2026-11-01", None, None, {}, 400,
     "invalid_range"),
    ("GET", "/api/v1/sites/demo/daily?from=2016-10-08&to=2026-11-25", None, None, {}, 400,
     "range_too_large"),
    ("GET", "/api/v1/sites/demo/daily?format=xml", None, None, {}, 400, "invalid_format"),
    ("PUT", "/api/v1/sites/demo/total", '{"total": -1}', JSON, ADMIN, 400, "invalid_total"),
    ("PUT", "/api/v1/sites/demo/total", '{"total": 1.5}', JSON, ADMIN, 400, "invalid_total"),
    ("PUT", "/api/v1/sites/demo/total", '{"total": "100"}', JSON, ADMIN, 400, "invalid_total"),
    ("PUT", "/api/v1/sites/demo/total", '{"total": true}', JSON, ADMIN, 400, "invalid_total"),
    ("PUT", "/api/v1/sites/demo/total", '{"total": 1e400}', JSON, ADMIN, 400, "invalid_total"),
    ("PUT", "/api/v1/sites/demo/total", '{"total": 99999999999999999999}', JSON, ADMIN, 400,
     "invalid_total"),
    ("PUT", "/api/v1/sites/demo/total", "{}", JSON, ADMIN, 400, "invalid_total"),
    ("PUT", "/api/v1/sites/demo/total", "", JSON, ADMIN, 400, "invalid_json"),
    ("PUT", "/api/v1/sites/demo/total", '{"total": 5}', JSON, {}, 401, "unauthorized"),
    ("PUT", "/api/v1/sites/nosuch/total", '{"total": 5}', JSON, ADMIN, 404, "unknown_site"),
    ("PUT", "/api/v1/sites/demo/daily/2026-02-30", '{"visits": 5}', JSON, ADMIN, 400, "invalid_date"),
    ("PUT", "/api/v1/sites/demo/daily/2026-11-26", '{"visits": 5}', JSON, ADMIN, 400, "invalid_date"),
    ("PUT", "/api/v1/sites/demo/daily/2026-11-20", '{"visits": -5}', JSON, ADMIN, 400, "invalid_visits"),
    ("PUT", "/api/v1/sites/demo/daily/2026-11-20", '{"pageviews": "5"}', JSON, ADMIN, 400,
     "invalid_pageviews"),
    ("PUT", "/api/v1/sites/demo/daily/2026-11-20", '{"visits": 5, "total": 9}', JSON, ADMIN, 400,
     "invalid_body"),
    ("PUT", "/api/v1/sites/demo/daily/2026-11-20", "{}", JSON, ADMIN, 400, "invalid_body"),
    ("GET", "/api/v1/nowhere", None, None, {}, 404, "not_found"),
    ("GET", "/api/v1/sites/demo/hits", None, None, {}, 405, "method_not_allowed"),
    ("DELETE", "/api/v1/sites/demo/stats", None, None, {}, 405, "method_not_allowed"),
    ("POST", "/api/v1/sites/demo/stats", "{}", JSON, {}, 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("method", "url", "body", "ctype", "headers", "status", "code"), CASES,
                         ids=[f"{c[0]} {c[1][:40]} {str(c[2])[:30]}" for c in CASES])
def test_bad_input_is_refused_without_a_trace(client, redis, method, url, body, ctype, headers,
                                              status, code):
    before = redis.dbsize()
    response = client.open(url, method=method, data=body, content_type=ctype, headers=headers)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert redis.dbsize() == before


def test_chunked_body_over_the_limit_is_refused(client, redis):
    response = client.post(HITS, input_stream=io.BytesIO(b" " * 5000), content_type=JSON,
                           headers={"Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413
    assert redis.dbsize() == 0


def test_unknown_fields_and_a_jsonp_callback_are_ignored(client):
    response = client.post(HITS + "?callback=alert(1)", json={"visitor": "a" * 16, "extra": {"x": 1}})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert b"alert" not in response.data


def test_method_not_allowed_names_the_allowed_methods(client):
    response = client.delete("/api/v1/sites/demo/stats")
    assert "GET" in response.headers["Allow"]
