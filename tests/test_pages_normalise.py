"""The contract's word *page*: a hit's path in normal form."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from counter.pages import MAX_PATH, normalise, period_kind

TABLE = [
    # (sent, page)
    ("/", "/"),
    ("", "/"),
    ("/news/article-1", "/news/article-1"),
    ("news/article-1", "/news/article-1"),              # a leading "/" added
    ("/news/article-1/", "/news/article-1"),            # a trailing "/" dropped
    ("/news/", "/news"),
    ("///", "/"),                                       # "/" itself keeps its slash
    ("//news///article//", "/news/article"),            # repeated "/" collapsed
    ("/a?x=1&y=2", "/a"),                               # query dropped
    ("/a#top", "/a"),                                   # fragment dropped
    ("/a/?x=1#top", "/a"),
    ("/a#frag?not-a-query", "/a"),
    ("?x=1", "/"),
    ("#top", "/"),
    ("/News/Article", "/News/Article"),                 # case kept
    ("/tin-tức/bài-1", "/tin-tức/bài-1"),              # unicode kept
    ("/tin-t%E1%BB%A9c", "/tin-tức"),                  # UTF-8 escapes decoded: one page either way
    ("/tin-t%e1%bb%a9c", "/tin-tức"),
    ("/%7Euser/a%2Db", "/~user/a-b"),                   # unreserved characters decoded
    ("/a%20b", "/a b"),
    ("/a%2Fb", "/a%2Fb"),                               # an escaped "/" is not a separator
    ("/a%2fb", "/a%2Fb"),                               # kept escapes in upper case
    ("/a%3Fb%23c", "/a%3Fb%23c"),                       # escaped "?" and "#" are not query or fragment
    ("/100%25", "/100%25"),                             # an escaped "%" stays escaped
    ("/100%", "/100%"),                                 # a "%" that is no escape stays as sent
    ("/a%zz", "/a%zz"),
    ("/a%0Ab", "/a%0Ab"),                               # control characters stay escaped
    ("/a%FFb", "/a%FFb"),                               # bytes that are not UTF-8 stay escaped
    ("/a%ffb", "/a%FFb"),
    ("/a%E1%BB", "/a%E1%BB"),                           # half a character
    ("/<script>alert(1)</script>", "/<script>alert(1)</script>"),  # kept: escaped where shown
    ("javascript:alert(1)", "/javascript:alert(1)"),   # always a path on the site
    ("/a/./b/../c", "/a/./b/../c"),                     # dot segments as sent (browsers resolve them)
]


@pytest.mark.parametrize(("sent", "page"), TABLE)
def test_normal_form(sent, page):
    assert normalise(sent) == page


@pytest.mark.parametrize(("sent", "page"), [
    ("/" + "a" * 600, "/" + "a" * 511),                # cut to 512 characters
    ("a" * 512, "/" + "a" * 511),                      # the added "/" counts too
    ("/" + "a" * 509 + "%E1%BB%A9", "/" + "a" * 509 + "ứ"),  # decoded first, then measured
    ("/" + "a" * 509 + "%2Fb", "/" + "a" * 509),       # a cut never leaves half an escape ("%2")
    ("/" + "a" * 510 + "/bcd", "/" + "a" * 510),       # nor a trailing "/"
    ("/" + "ư" * 600, "/" + "ư" * 511),                # characters, not bytes
])
def test_at_most_512_characters(sent, page):
    assert normalise(sent) == page
    assert len(normalise(sent)) <= MAX_PATH


@given(st.text(max_size=600))
def test_normal_form_is_a_fixed_point(text):
    page = normalise(text)
    assert page.startswith("/") and len(page) <= MAX_PATH
    assert "?" not in page and "#" not in page and "//" not in page
    assert page == "/" or not page.endswith("/")
    assert normalise(page) == page


@given(st.lists(st.sampled_from(["/", "a", "%", "2", "F", "E1", "%E1%BB%A9", "%2f", "ư", "?", "#"]),
                max_size=200))
def test_escape_heavy_paths_are_fixed_points_too(parts):
    page = normalise("".join(parts))
    assert normalise(page) == page and len(page) <= MAX_PATH


TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(("period", "kind"), [
    ("all", ("all", None)),
    ("today", ("day", TODAY)),
    ("2026-11", ("month", date(2026, 11, 1))),
    ("2025-02", ("month", date(2025, 2, 1))),
    ("2026-11-25", ("day", TODAY)),
    ("2026-10-22", ("day", date(2026, 10, 22))),      # 34 days ago: kept
    ("2026-10-21", ("gone", date(2026, 10, 21))),     # 35 days ago: not kept
    ("2026-11-26", ("gone", date(2026, 11, 26))),     # tomorrow: nothing yet
])
def test_periods(period, kind):
    assert period_kind(period, TODAY) == kind


@pytest.mark.parametrize("period", ["", "ALL", "yesterday", "2026", "2026-13", "2026-00", "2026-1",
                                    "2026-02-30", "2026-11-25T00:00", "26-11-25", " all"])
def test_bad_periods(period):
    with pytest.raises(ValueError):
        period_kind(period, TODAY)
