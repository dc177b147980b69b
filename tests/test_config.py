"""Configuration from the environment: defaults, files and clear refusals."""

from __future__ import annotations

import pytest

from counter.config import ConfigError, ConfigErrors, RedisTarget, Site, from_env, parse_redis_url


def test_defaults():
    cfg = from_env({})
    assert list(cfg["SITES"]) == ["demo"]
    assert cfg["SITES"]["demo"].timezone == "Asia/Ho_Chi_Minh"
    assert (cfg["ONLINE_WINDOW"], cfg["VISIT_TIMEOUT"]) == (300, 1800)
    assert (cfg["RATE_LIMIT"], cfg["NEW_VISIT_LIMIT"], cfg["TRUSTED_PROXIES"]) == (120, 100, 0)
    assert cfg["ADMIN_TOKEN"] is None and cfg["REDIS_URL"] is None and cfg["KEY_PREFIX"] == "vc"
    assert cfg["BIND"] == "127.0.0.1:8000"
    assert cfg["STATS_CACHE_MS"] == 500
    assert cfg["MAX_PATHS"] == 10000


def test_an_empty_setting_means_its_default():
    cfg = from_env({"COUNTER_TIMEZONE": " ", "COUNTER_RATE_LIMIT": "", "COUNTER_ONLINE_WINDOW": "",
                    "COUNTER_KEY_PREFIX": ""})
    assert cfg["SITES"]["demo"].timezone == "Asia/Ho_Chi_Minh"
    assert (cfg["RATE_LIMIT"], cfg["ONLINE_WINDOW"], cfg["KEY_PREFIX"]) == (120, 300, "vc")


def test_sites_file_gives_names_origins_zones_and_languages(tmp_path):
    path = tmp_path / "sites.toml"
    path.write_text(
        '[ninhbinh]\nname = "Cổng thông tin Ninh Bình"\norigins = ["https://ninhbinh.gov.vn/"]\n'
        '[nyc]\ntimezone = "America/New_York"\nlang = "en"\n'
    )
    cfg = from_env({"COUNTER_SITES_FILE": str(path), "COUNTER_SITES": "extra"})
    sites = cfg["SITES"]
    assert list(sites) == ["ninhbinh", "nyc", "extra"]
    assert sites["ninhbinh"].name == "Cổng thông tin Ninh Bình"
    assert sites["ninhbinh"].origins == ("https://ninhbinh.gov.vn",)
    assert sites["ninhbinh"].timezone == "Asia/Ho_Chi_Minh"
    assert (sites["nyc"].timezone, sites["nyc"].lang) == ("America/New_York", "en")


@pytest.mark.parametrize(("env", "names"), [
    ({"COUNTER_TIMEZONE": "Mars/Olympus"}, "COUNTER_TIMEZONE"),
    ({"COUNTER_ONLINE_WINDOW": "five"}, "COUNTER_ONLINE_WINDOW"),
    ({"COUNTER_STATS_CACHE_MS": "5001"}, "COUNTER_STATS_CACHE_MS"),
    ({"COUNTER_VISIT_TIMEOUT": "0"}, "COUNTER_VISIT_TIMEOUT"),
    ({"COUNTER_VISIT_TIMEOUT": "99999999999999999999"}, "COUNTER_VISIT_TIMEOUT"),
    ({"COUNTER_ONLINE_WINDOW": "31622401"}, "COUNTER_ONLINE_WINDOW"),
    ({"COUNTER_RATE_LIMIT": "-1"}, "COUNTER_RATE_LIMIT"),
    ({"COUNTER_MAX_PATHS": "0"}, "COUNTER_MAX_PATHS"),
    ({"COUNTER_MAX_PATHS": "1000001"}, "COUNTER_MAX_PATHS"),
    ({"COUNTER_MAX_PATHS": "many"}, "COUNTER_MAX_PATHS"),
    ({"COUNTER_NEW_VISIT_LIMIT": "1.5"}, "COUNTER_NEW_VISIT_LIMIT"),
    ({"COUNTER_TRUSTED_PROXIES": "x"}, "COUNTER_TRUSTED_PROXIES"),
    ({"COUNTER_CONNECTIONS": "0"}, "COUNTER_CONNECTIONS"),
    ({"COUNTER_CONNECTIONS": "-1"}, "COUNTER_CONNECTIONS"),
    ({"COUNTER_CONNECTIONS": "many"}, "COUNTER_CONNECTIONS"),
    ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY"),
    ({"WEB_CONCURRENCY": "-2"}, "WEB_CONCURRENCY"),
    ({"COUNTER_BIND": "127.0.0.1:99999"}, "COUNTER_BIND"),
    ({"COUNTER_BIND": "127.0.0.1:http"}, "COUNTER_BIND"),
    ({"COUNTER_BIND": "::1"}, "COUNTER_BIND"),
    ({"COUNTER_BIND": "2001:db8::1:8000"}, "COUNTER_BIND"),
    ({"COUNTER_SITES": "good,Bad"}, "COUNTER_SITES"),
    ({"COUNTER_SITES": "{demo}"}, "COUNTER_SITES"),
    ({"COUNTER_SITES": ""}, "COUNTER_SITES"),
    ({"COUNTER_KEY_PREFIX": "a b"}, "COUNTER_KEY_PREFIX"),
    ({"REDIS_URL": "http://localhost"}, "REDIS_URL"),
    ({"COUNTER_SITES_FILE": "/nonexistent/sites.toml"}, "COUNTER_SITES_FILE"),
])
def test_bad_settings_name_the_variable(env, names):
    with pytest.raises(ConfigError, match=names):
        from_env(env)


def test_bad_sites_file_names_the_variable(tmp_path):
    path = tmp_path / "sites.toml"
    for text in ("[a\n", '[x]\ntimezone = "Nowhere/Land"\n', '[x]\nlang = "fr"\n',
                 '[x]\norigins = "https://a"\n', '["Bad Id"]\nname = "x"\n'):
        path.write_text(text)
        with pytest.raises(ConfigError, match="COUNTER_SITES_FILE"):
            from_env({"COUNTER_SITES_FILE": str(path)})


def test_a_sites_file_without_sites_is_refused_rather_than_serving_demo(tmp_path):
    path = tmp_path / "sites.toml"
    path.write_text("# the sites come later\n")
    with pytest.raises(ConfigError, match=f"COUNTER_SITES_FILE: no site in {path}"):
        from_env({"COUNTER_SITES_FILE": str(path)})
    assert list(from_env({"COUNTER_SITES_FILE": str(path), "COUNTER_SITES": "hue"})["SITES"]) == ["hue"]


def problems_of_sites_file(tmp_path, text: str, **env: str) -> list[str]:
    """Return the problems named when the settings hold a sites file of `text`."""
    path = tmp_path / "sites.toml"
    path.write_text(text)
    with pytest.raises(ConfigErrors) as caught:
        from_env({"COUNTER_SITES_FILE": str(path), **env})
    return caught.value.problems


def test_unknown_site_keys_are_named_with_every_other_bad_setting(tmp_path):
    # A typo such as `orgins` would otherwise leave the site open to any page.
    problems = problems_of_sites_file(tmp_path, '[ninhbinh]\norgins = ["https://ninhbinh.gov.vn"]\n'
                                      '[hue]\ntimezon = "Asia/Ho_Chi_Minh"\nlang = "fr"\n'
                                      '[good]\nname = "Good"\npublic = false\n', COUNTER_RATE_LIMIT="lots")
    assert len(problems) == 4, problems
    assert all(p.startswith("COUNTER_SITES_FILE: ") for p in problems[:3])
    assert "[ninhbinh] unknown key 'orgins' (did you mean 'origins'?)" in problems[0]
    assert "[hue] unknown key 'timezon' (did you mean 'timezone'?)" in problems[1]
    assert "[hue] lang must be one of" in problems[2]
    assert problems[3].startswith("COUNTER_RATE_LIMIT")
    assert "bad settings" not in "; ".join(problems)  # one list, not nested messages


def test_origins_are_kept_as_browsers_send_them(tmp_path):
    path = tmp_path / "sites.toml"
    path.write_text('[a]\norigins = ["HTTPS://Portal.Gov.VN:443/", "http://localhost:8080", '
                    '"https://bộ.vn", "http://[::1]:80"]\n')
    site = from_env({"COUNTER_SITES_FILE": str(path)})["SITES"]["a"]
    assert site.origins == ("https://portal.gov.vn", "http://localhost:8080", "https://xn--b-8xm.vn",
                            "http://[::1]")
    assert site.allows("https://portal.gov.vn") and site.allows("https://xn--b-8xm.vn")
    assert not site.allows("http://portal.gov.vn")


def test_what_is_not_an_origin_is_named_with_every_other_problem_of_the_table(tmp_path):
    # An origin no browser sends would refuse every write of the site's pages.
    problems = problems_of_sites_file(
        tmp_path, '[a]\norigins = ["a.gov.vn", "https://a.gov.vn/tin-tuc", "ftp://a.gov.vn", "*", '
        '"https://a.gov.vn:99999", "https://user@a.gov.vn", "https://a.gov.vn"]\n'
        'lang = "fr"\ntimezone = "Nowhere/Land"\npublic = "no"\n')
    refused = ["a.gov.vn", "https://a.gov.vn/tin-tuc", "ftp://a.gov.vn", "*", "https://a.gov.vn:99999",
               "https://user@a.gov.vn"]
    assert [p.split("origins: ")[1].split(" is not")[0] for p in problems[:6]] == [repr(o) for o in refused]
    assert "e.g. \"https://ninhbinh.gov.vn\"" in problems[0]
    assert "lang must be" in problems[6] and "public must be" in problems[7]
    assert "unknown time zone" in problems[8] and len(problems) == 9


def test_site_public_is_a_boolean(tmp_path):
    path = tmp_path / "sites.toml"
    path.write_text('[a]\npublic = false\n[b]\npublic = true\n')
    assert list(from_env({"COUNTER_SITES_FILE": str(path)})["SITES"]) == ["a", "b"]
    path.write_text('[a]\npublic = "no"\n')
    with pytest.raises(ConfigError, match=r"COUNTER_SITES_FILE: \[a\] public must be true or false"):
        from_env({"COUNTER_SITES_FILE": str(path)})


def test_every_bad_variable_is_named_in_one_message():
    env = {"COUNTER_TIMEZONE": "Hanoi", "COUNTER_RATE_LIMIT": "lots", "COUNTER_SITES": "Bad",
           "COUNTER_KEY_PREFIX": "a b", "REDIS_URL": "http://x", "COUNTER_ADMIN_TOKEN": "short-secret",
           "COUNTER_METRICS_TOKEN": "tiny", "COUNTER_STATS_CACHE_MS": "9999", "COUNTER_MAX_PATHS": "0"}
    with pytest.raises(ConfigErrors) as caught:
        from_env(env)
    message = str(caught.value)
    assert "\n" not in message
    for name in ("COUNTER_TIMEZONE", "COUNTER_RATE_LIMIT", "COUNTER_SITES", "COUNTER_KEY_PREFIX",
                 "REDIS_URL", "COUNTER_ADMIN_TOKEN", "COUNTER_METRICS_TOKEN", "COUNTER_STATS_CACHE_MS",
                 "COUNTER_MAX_PATHS"):
        assert name in message
    assert len(caught.value.problems) == 9
    # A refused token is never repeated in the message.
    assert "short-secret" not in message and "tiny" not in message


@pytest.mark.parametrize("name", ["COUNTER_ADMIN_TOKEN", "COUNTER_METRICS_TOKEN"])
def test_tokens_need_24_characters(name):
    with pytest.raises(ConfigError, match=f"{name} must be at least 24 characters, not 23"):
        from_env({name: "x" * 23})
    assert from_env({name: "x" * 24})[name.removeprefix("COUNTER_")] == "x" * 24
    assert from_env({name: ""})[name.removeprefix("COUNTER_")] is None


@pytest.mark.parametrize("url", [
    "redis+sentinel://127.0.0.1:26379",
    "redis+sentinel://127.0.0.1:26379/",
    "redis+sentinel://a:26379,b:x/counter",
    "redis+sentinel://a:26379/counter/zero",
    "redis+cluster://a:70000",
    "redis+cluster://a:7000/3",
    "redis://localhost:port/0",
    "redis://localhost:99999/0",
    "redis://localhost/db",
    "redis:/localhost",
    "unix://",
])
def test_a_bad_redis_url_is_refused_at_start_up(url):
    with pytest.raises(ConfigError, match="REDIS_URL"):
        from_env({"REDIS_URL": url})


@pytest.mark.parametrize(("url", "target"), [
    ("redis://:pw@h:6380/2", RedisTarget("redis://:pw@h:6380/2", "redis")),
    ("unix:///run/redis.sock?db=1", RedisTarget("unix:///run/redis.sock?db=1", "unix")),
    ("redis+sentinel://:pw@a,b:26380/counter/1",
     RedisTarget("redis+sentinel://:pw@a,b:26380/counter/1", "redis+sentinel",
                 (("a", 26379), ("b", 26380)), "counter", 1, "pw")),
    ("redis+cluster://a:7000,b", RedisTarget("redis+cluster://a:7000,b", "redis+cluster",
                                             (("a", 7000), ("b", 6379)))),
])
def test_a_good_redis_url_is_split(url, target):
    assert parse_redis_url(url) == target


@pytest.mark.parametrize(("origin", "allowed"), [
    (None, True),  # not a browser page: the write check does not apply
    ("https://portal.gov.vn", True),
    ("https://portal.gov.vn/", True),
    ("https://evil.example", False),
    ("null", False),
])
def test_a_site_with_origins_allows_only_its_own(origin, allowed):
    site = Site("demo", "Demo", "Asia/Ho_Chi_Minh", origins=("https://portal.gov.vn",))
    assert site.allows(origin) is allowed
    assert Site("open", "Open", "Asia/Ho_Chi_Minh").allows(origin) is True


@pytest.mark.parametrize("bind", ["0.0.0.0:8000", ":8000", "[::1]:8000", "[::]:80", "localhost",
                                  "unix:/run/c.sock"])
def test_every_bind_gunicorn_reads_is_accepted(bind):
    # ":8000" is every interface to gunicorn, as "0.0.0.0:8000".
    assert from_env({"COUNTER_BIND": bind})["BIND"] == bind
