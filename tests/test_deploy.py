"""deploy/ run for real: a production install, gunicorn's start-up and log, nginx, Redis, systemd."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis as redis_py

from counter import create_app
from tests.helpers import BROWSER_UA, RedisServer, browser, free_port, require_redis_server, settings
from tests.servers import ADMIN_TOKEN, DEPLOY, ROOT, Gunicorn, Nginx, request

# gunicorn's error-log line: [date] [pid] [LEVEL] message
LOG_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[(INFO|WARNING|ERROR)\] (.*)$")
PASSWORD = "redis-password-for-the-deploy-test"
HIT = ("POST", "/api/v1/sites/demo/hits", json.dumps({"visitor": "deploy-test-visitor-01"}).encode(),
       {"Content-Type": "application/json"})


def clean(log: str) -> None:
    """Fail on a traceback or any Python warning in a server's output."""
    assert "Traceback" not in log, log
    assert "Warning" not in log, log
    assert "Failed to start control socket" not in log, log


@pytest.fixture
def gunicorn_on(tmp_path, real_redis):
    """Return a factory of started gunicorns on the session's redis-server; stop them after."""
    started = []

    def start(**env: str) -> Gunicorn:
        server = Gunicorn(tmp_path / f"gunicorn{len(started)}",
                          {"REDIS_URL": real_redis.url, "COUNTER_SITES": "demo", **env})
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.mark.redis
def test_requirements_txt_alone_serves_with_deploy(tmp_path, real_redis):
    # A venv with requirements.txt and nothing else, as deploy/counter.service installs it.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(ROOT / "requirements.txt")], check=True, timeout=600)
    installed = subprocess.run([str(venv / "bin" / "pip"), "freeze"], capture_output=True, text=True).stdout
    assert "pytest" not in installed and "playwright" not in installed
    # Every package installed is pinned there, its dependencies too: nothing floats.
    pinned = {line.split("==")[0].lower().replace("_", "-").replace(".", "-"): line.split("==")[1]
              for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line}
    for line in installed.splitlines():
        name, version = line.split("==")
        assert pinned.get(name.lower().replace("_", "-").replace(".", "-")) == version, line
    # The documented install step that puts the checkout on the venv's path
    # (README and the unit say the same), then the command line from another directory.
    documented = [line for line in (ROOT / "README.md").read_text().splitlines()
                  if "visit-counter.pth" in line]
    in_unit = [line.lstrip("# ") for line in (DEPLOY / "counter.service").read_text().splitlines()
               if "visit-counter.pth" in line]
    assert len(documented) == 1 and in_unit == documented
    step = documented[0].replace("/opt/counter/.venv", str(venv)).replace("/opt/counter", str(ROOT))
    subprocess.run(["sh", "-c", step], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli_env = {"PATH": "/usr/bin:/bin", "REDIS_URL": real_redis.url, "COUNTER_SITES": "demo"}
    cli = subprocess.run([str(venv / "bin" / "python"), "-m", "counter", "stats", "demo"], cwd=elsewhere,
                         env=cli_env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["site"] == "demo"
    # Run as under the unit: $HOME out of reach (ProtectHome=true), no
    # XDG_RUNTIME_DIR, a RuntimeDirectory for the metrics, heartbeats and control socket.
    run = tmp_path / "run"
    run.mkdir()
    server = Gunicorn(tmp_path / "gunicorn", {
        "REDIS_URL": real_redis.url, "COUNTER_SITES": "demo", "HOME": "/proc/no-home",
        "RUNTIME_DIRECTORY": str(run), "PROMETHEUS_MULTIPROC_DIR": str(run / "metrics"),
    }, python=str(venv / "bin" / "python"))
    server.env.pop("XDG_RUNTIME_DIR", None)
    server.start()
    try:
        before = json.loads(request(server.port, "GET", "/api/v1/sites/demo/stats")[2])["total"]
        status, _, body = request(server.port, *HIT)
        assert status == 200 and json.loads(body)["counted"] is True
        after = json.loads(request(server.port, "GET", "/api/v1/sites/demo/stats")[2])["total"]
        assert after == before + 1
        # The master opens its control socket in a thread of its own, once the workers run.
        deadline = time.monotonic() + 10
        while not (run / "gunicorn.ctl").is_socket():
            assert time.monotonic() < deadline, "no control socket in the runtime directory"
            time.sleep(0.1)
        assert request(server.port, "GET", "/metrics")[0] == 200
    finally:
        log = server.stop()
    clean(log)
    assert "Booting worker" in log


@pytest.mark.redis
def test_a_port_taken_meanwhile_moves_the_server_and_real_failures_still_raise(tmp_path, real_redis):
    # Another process binds the port that free_port() found, before gunicorn does.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        server = Gunicorn(tmp_path / "moved", {"REDIS_URL": real_redis.url, "COUNTER_SITES": "demo"})
        server.use_port(squatter.getsockname()[1])
        try:
            server.start()
            assert server.port != squatter.getsockname()[1]
            status, _, body = request(server.port, "GET", "/api/v1/sites/demo/stats")
            assert status == 200 and json.loads(body)["site"] == "demo"
        finally:
            log = server.stop()
    assert "Connection in use" not in log  # the log of the start that served
    # A server that refuses to start is not retried into a pass.
    refused = Gunicorn(tmp_path / "refused", {"REDIS_URL": real_redis.url, "COUNTER_TIMEZONE": "Hanoi"})
    with pytest.raises(RuntimeError, match="exited with 78"):
        refused.start()


@pytest.mark.redis
def test_bad_settings_stop_the_master_with_one_message(tmp_path, real_redis):
    server = Gunicorn(tmp_path, {"REDIS_URL": real_redis.url, "COUNTER_TIMEZONE": "Hanoi",
                                 "COUNTER_RATE_LIMIT": "lots", "COUNTER_ADMIN_TOKEN": "too-short",
                                 "COUNTER_METRICS_TOKEN": "also-too-short", "COUNTER_SITES": "Bad Id"})
    started = time.monotonic()
    result = server.run()
    assert result.returncode == 78  # EX_CONFIG; the systemd unit does not restart on it
    assert time.monotonic() - started < 15
    output = result.stdout + result.stderr
    errors = [line for line in output.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1, output
    for name in ("COUNTER_TIMEZONE", "COUNTER_RATE_LIMIT", "COUNTER_ADMIN_TOKEN", "COUNTER_METRICS_TOKEN",
                 "COUNTER_SITES"):
        assert name in errors[0]
    assert "too-short" not in output
    assert "Traceback" not in output and "Listening at" not in output and "Booting worker" not in output


@pytest.mark.redis
def test_a_bad_connections_setting_stops_the_master_with_the_others(tmp_path, real_redis):
    # Read by gunicorn.conf.py itself: it must not fail there with a traceback, nor serve with 0 slots.
    for value in ("many", "0"):
        result = Gunicorn(tmp_path / value, {"REDIS_URL": real_redis.url, "COUNTER_CONNECTIONS": value,
                                             "COUNTER_RATE_LIMIT": "lots"}).run()
        output = result.stdout + result.stderr
        assert result.returncode == 78, output
        errors = [line for line in output.splitlines() if "[ERROR]" in line]
        assert len(errors) == 1 and "COUNTER_CONNECTIONS" in errors[0] and "COUNTER_RATE_LIMIT" in errors[0]
        assert "Traceback" not in output and "Booting worker" not in output


@pytest.mark.redis
def test_no_workers_or_a_bad_bind_stops_the_master_with_one_message(tmp_path, real_redis):
    # Both are read by gunicorn itself: 0 workers would run a master that serves nothing, and a
    # bad port a traceback with status 1, which the systemd unit restarts for ever.
    for name, env in (("workers", {"WEB_CONCURRENCY": "0"}), ("bind", {"COUNTER_BIND": "127.0.0.1:80000"})):
        result = Gunicorn(tmp_path / name, {"REDIS_URL": real_redis.url, **env}).run(timeout=15)
        output = result.stdout + result.stderr
        assert result.returncode == 78, output
        errors = [line for line in output.splitlines() if "[ERROR]" in line]
        assert len(errors) == 1 and next(iter(env)) in errors[0], output
        assert "Traceback" not in output and "Booting worker" not in output


def reload_refused(server: Gunicorn) -> None:
    """Send the master a HUP; wait for its refusal, and check that it still runs a moment later."""
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "reload refused" not in server.log.read_text():
        assert server.proc.poll() is None, server.log.read_text()
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.1)
    time.sleep(1)  # long enough for any new worker to have failed its boot
    assert server.proc.poll() is None, server.log.read_text()


@pytest.mark.redis
def test_a_reload_with_a_bad_sites_file_keeps_serving_with_the_old_settings(tmp_path, gunicorn_on):
    # `systemctl reload counter` is a HUP: with the new workers refusing the file, gunicorn's
    # master would halt ("Worker failed to boot", a traceback), and the whole service with it.
    sites = tmp_path / "sites.toml"
    sites.write_text("[demo]\n")
    server = gunicorn_on(COUNTER_SITES_FILE=str(sites), COUNTER_SITES="")
    time.sleep(2)  # one worker answered; let the other read the file too before it breaks
    sites.write_text('[demo]\nnmae = "Demo"\n')
    reload_refused(server)
    assert request(server.port, *HIT)[0] == 200
    sites.write_text("[demo]\n[hue]\n")
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while request(server.port, "GET", "/api/v1/sites/hue/stats")[0] != 200:
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.2)
    output = server.stop()
    errors = [line for line in output.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and "COUNTER_SITES_FILE" in errors[0] and "name" in errors[0], output
    clean(output)


@pytest.mark.redis
def test_a_worker_restarted_after_an_edit_not_yet_reloaded_keeps_the_checked_sites(tmp_path, gunicorn_on):
    # The file is edited in place, a typo in it, and a worker dies (killed, crashed) before
    # any reload: its replacement must boot on the file as checked, not halt the master.
    sites = tmp_path / "sites.toml"
    sites.write_text("[demo]\n")
    server = gunicorn_on(COUNTER_SITES_FILE=str(sites), COUNTER_SITES="")
    time.sleep(2)  # both workers have read the file
    sites.write_text('[demo]\nnmae = "Demo"\n')
    workers = [int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", server.log.read_text())]
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while len(re.findall(r"Booting worker", server.log.read_text())) < 3:
        assert server.proc.poll() is None and time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.1)
    time.sleep(2)
    assert server.proc.poll() is None, server.log.read_text()
    for _ in range(4):
        assert request(server.port, *HIT)[0] == 200
    assert "Traceback" not in server.stop()


@pytest.mark.redis
def test_a_master_started_by_usr2_after_a_reload_still_checks_the_operators_sites_file(tmp_path, gunicorn_on):
    # USR2 (a new master for a new gunicorn or Python) starts from the environment of the last
    # reload, where COUNTER_SITES_FILE is the workers' checked copy: the new master must still
    # check, and reload, the operator's file.
    sites = tmp_path / "sites.toml"
    sites.write_text("[demo]\n")
    server = gunicorn_on(COUNTER_SITES_FILE=str(sites), COUNTER_SITES="")
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while len(re.findall(r"Booting worker", server.log.read_text())) < 4:
        assert server.proc.poll() is None and time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.1)
    server.proc.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + 15
    while len(re.findall(r"Booting worker", server.log.read_text())) < 6:
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.1)
    log = server.log.read_text()
    masters = [int(pid) for pid in re.findall(r"\[(\d+)\] \[INFO\] Starting gunicorn", log)]
    assert len(masters) == 2 and masters[0] == server.proc.pid, server.log.read_text()
    try:
        sites.write_text('[demo]\nnmae = "Demo"\n')
        os.kill(masters[1], signal.SIGHUP)
        deadline = time.monotonic() + 10
        while f"[{masters[1]}] [ERROR] reload refused" not in server.log.read_text():
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.1)
    finally:
        os.kill(masters[1], signal.SIGTERM)
        deadline = time.monotonic() + 30
        while (f"[{masters[1]}] [INFO] Shutting down" not in server.log.read_text()
               and time.monotonic() < deadline):
            time.sleep(0.1)
    assert "Traceback" not in server.stop()


def checkout(root):
    """Copy what the service runs from (the package, deploy/ and wsgi.py) to `root`, an upgrade's checkout."""
    for name in ("counter", "deploy"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "wsgi.py", root / "wsgi.py")
    return root


@pytest.mark.redis
def test_a_reload_serves_the_new_code(tmp_path, real_redis):
    # An upgrade is a new checkout and `systemctl reload counter`. The master imports the
    # counter for its start-up checks; workers forked from it must not keep that old copy.
    root = checkout(tmp_path / "checkout")
    server = Gunicorn(tmp_path / "gunicorn", {"REDIS_URL": real_redis.url}, root=root).start()
    try:
        assert json.loads(request(server.port, "GET", "/healthz")[2]) == {"status": "ok"}
        ops = root / "counter" / "ops.py"
        ops.write_text(ops.read_text().replace('jsonify(status="ok")', 'jsonify(status="ok", version=2)'))
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while json.loads(request(server.port, "GET", "/healthz")[2]).get("version") != 2:
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.2)
    finally:
        clean(server.stop())


@pytest.mark.redis
def test_a_reload_onto_code_that_does_not_load_keeps_serving_the_old(tmp_path, real_redis):
    # An upgrade's checkout may not load (a half-copied file, a module the venv lacks): the
    # master imports it to check the settings, and the error would end the master, workers and all.
    root = checkout(tmp_path / "checkout")
    server = Gunicorn(tmp_path / "gunicorn", {"REDIS_URL": real_redis.url, "COUNTER_SITES": "demo"},
                      root=root).start()
    time.sleep(2)  # one worker answered; let the other import the code too before it breaks
    try:
        front = root / "counter" / "front.py"
        good = front.read_text()
        front.write_text(good + "\ndef half_copied(:\n")
        reload_refused(server)
        assert request(server.port, *HIT)[0] == 200
        front.write_text(good)
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while len(re.findall(r"Booting worker", server.log.read_text())) < 4:
            assert server.proc.poll() is None and time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.1)
        assert request(server.port, *HIT)[0] == 200
    finally:
        output = server.stop()
    errors = [line for line in output.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and "SyntaxError" in errors[0] and "front.py" in errors[0], output
    assert "Traceback" not in output, output


@pytest.mark.redis
def test_an_evicting_redis_stops_the_master(tmp_path):
    require_redis_server()
    lru = RedisServer(tmp_path / "redis", "--maxmemory-policy", "allkeys-lru").start()
    try:
        result = Gunicorn(tmp_path / "gunicorn", {"REDIS_URL": lru.url}).run()
    finally:
        lru.stop()
    output = result.stdout + result.stderr
    assert result.returncode == 78, output
    assert "maxmemory-policy allkeys-lru" in output
    assert "Traceback" not in output and "Booting worker" not in output


@pytest.mark.redis
def test_rediss_serves_with_the_deploy_config(tmp_path):
    # TLS to Redis, in the master's start-up check and in the workers.
    require_redis_server()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-subj", "/CN=localhost", "-days", "2", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    tls_port = free_port()
    tls = RedisServer(tmp_path / "redis", "--tls-port", str(tls_port), "--tls-cert-file", str(cert),
                      "--tls-key-file", str(key), "--tls-auth-clients", "no").start()
    server = Gunicorn(tmp_path / "gunicorn", {
        "REDIS_URL": f"rediss://127.0.0.1:{tls_port}/0?ssl_cert_reqs=none", "COUNTER_SITES": "demo"})
    try:
        server.start()
        status, _, body = request(server.port, *HIT)
        assert status == 200 and json.loads(body)["counted"] is True
        # Written over TLS; read back on the server's plain port.
        assert redis_py.Redis(port=tls.port).dbsize() > 0
    finally:
        log = server.stop()
        tls.stop()
    clean(log)


@pytest.mark.redis
def test_admin_changes_are_in_gunicorns_log(gunicorn_on):
    server = gunicorn_on(COUNTER_ADMIN_TOKEN=ADMIN_TOKEN)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    assert request(server.port, "PUT", "/api/v1/sites/demo/total", b'{"total": 41}', admin)[0] == 200
    assert request(server.port, "PUT", "/api/v1/sites/demo/total", b'{"total": 42}', admin)[0] == 200
    assert request(server.port, "PUT", "/api/v1/sites/demo/daily/2025-01-02",
                   b'{"visits": 7, "pageviews": 9}', admin)[0] == 200
    wrong = dict(admin, Authorization="Bearer wrong-token-wrong-token-wrong")
    assert request(server.port, "PUT", "/api/v1/sites/demo/total", b'{"total": 1}', wrong)[0] == 401
    log = server.stop()
    clean(log)
    lines = [LOG_LINE.match(line) for line in log.splitlines()]
    messages = [(m.group(1), m.group(2)) for m in lines if m]
    changes = [text for level, text in messages if level == "INFO" and text.startswith("admin ")]
    assert len(changes) == 3, log
    assert re.fullmatch(r"admin \S+ set total site=demo old=41 new=42", changes[1]), changes
    assert re.fullmatch(r"admin \S+ set day site=demo date=2025-01-02 old=.+ new=.+", changes[2]), changes
    assert any(level == "WARNING" and text.startswith("admin refused") for level, text in messages), log
    assert ADMIN_TOKEN not in log and "wrong-token" not in log


@pytest.mark.redis
def test_gunicorn_writes_an_access_line_only_when_asked(gunicorn_on):
    # nginx in front writes one per request; a second one in the journal cost
    # a /healthz 7 % of its rate, and at a portal's rate would pass journald's
    # limit (10,000 lines in 30 s), which then drops the error log's lines too.
    quiet = gunicorn_on()
    asked = gunicorn_on(GUNICORN_CMD_ARGS="--access-logfile -")
    for server in (quiet, asked):
        assert request(server.port, "GET", "/healthz")[0] == 200
    assert "GET /healthz 200" not in quiet.stop()
    assert "GET /healthz 200" in asked.stop()


@pytest.mark.redis
def test_a_malformed_request_is_logged_without_the_client_address(gunicorn_on):
    # gunicorn warns about requests it cannot parse as "Invalid request from ip=<address>".
    server = gunicorn_on()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5,
                                  source_address=("127.0.0.6", 0)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")
    assert request(server.port, "GET", "/healthz")[0] == 200
    log = server.stop()
    clean(log)
    assert "Invalid request" in log, log  # still said, without saying from whom
    assert "127.0.0.6" not in log, log


@pytest.mark.redis
def test_bodies_read_ahead_still_reach_the_app_whole(gunicorn_on):
    # gunicorn.conf.py reads every body before the app does: chunked bodies,
    # Expect: 100-continue and bodies over the limit still work as without it.
    server = gunicorn_on()
    def post(body, chunked: bool) -> tuple[int, bytes]:
        """POST a hit's body, chunked or with a Content-Length."""
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            conn.request("POST", "/api/v1/sites/demo/hits", body=iter(body) if chunked else body,
                         encode_chunked=chunked,
                         headers={"User-Agent": BROWSER_UA, "Content-Type": "application/json"})
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()

    visitor = json.dumps({"visitor": "read-ahead-visitor-01"}).encode()
    status, answer = post([visitor[:7], visitor[7:20], visitor[20:]], chunked=True)
    assert status == 200 and json.loads(answer)["counted"] is True
    other = json.dumps({"visitor": "read-ahead-visitor-02"}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/sites/demo/hits HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Type: application/json\r\nUser-Agent: " + BROWSER_UA.encode()
                     + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(other))
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(other)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 200") and b'"counted":true' in reply
    big = b"{" + b" " * 70_000 + b"}"
    for chunked in (False, True):
        status, answer = post([big[:40_000], big[40_000:]] if chunked else big, chunked)
        assert status == 413 and json.loads(answer)["error"]["code"] == "payload_too_large"
    assert "Traceback" not in server.stop()


@pytest.mark.redis
@pytest.mark.nginx
def test_nginx_conf_passes_nginx_t(tmp_path):
    nginx = Nginx(tmp_path, free_port())
    result = nginx.test()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "warn" not in result.stderr


@pytest.mark.redis
@pytest.mark.nginx
def test_nginx_moves_off_a_port_taken_meanwhile(gunicorn_on, tmp_path):
    server = gunicorn_on()
    nginx = Nginx(tmp_path / "nginx", server.port)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", nginx.port))
        squatter.listen()
        nginx.start()
        try:
            assert nginx.port != squatter.getsockname()[1]
            status, _, body = request(nginx.port, "GET", "/api/v1/sites/demo/stats")
            assert status == 200 and json.loads(body)["site"] == "demo"
        finally:
            nginx.stop()


@pytest.mark.redis
@pytest.mark.nginx
def test_metrics_direct_and_through_nginx(gunicorn_on, tmp_path):
    token = "metrics-token-for-the-deploy-test"
    server = gunicorn_on(COUNTER_METRICS_TOKEN=token, COUNTER_TRUSTED_PROXIES="1")
    bearer = {"Authorization": f"Bearer {token}"}
    nginx = Nginx(tmp_path / "nginx", server.port).start()
    try:
        for path in ("/metrics", "/metrics/", "/metrics?x=1", "//metrics", "/%6detrics/", "/metrics/./"):
            # Direct, the token is required.
            direct = request(server.port, "GET", path)
            if direct[0] != 404:
                assert direct[0] == 401 and json.loads(direct[2])["error"]["code"] == "unauthorized", path
            # Through nginx from outside (any address but 127.0.0.1): refused by nginx.
            status, _, body = request(nginx.port, "GET", path, headers=bearer, source="127.0.0.2")
            assert status == 403 and b"counter_" not in body, (path, status)
        for path in ("/metrics", "/metrics/"):
            assert request(server.port, "GET", path, headers=bearer)[0] == 200
            # From the machine itself, nginx passes it on, and the token is still required.
            assert request(nginx.port, "GET", path)[0] == 401
            status, _, body = request(nginx.port, "GET", path, headers=bearer)
            assert status == 200 and b"counter_request_seconds" in body
    finally:
        nginx.stop()


@pytest.mark.redis
@pytest.mark.nginx
def test_nginx_passes_the_client_address_and_drops_a_forged_one(gunicorn_on, tmp_path):
    # Three hits a minute from one address; nginx's own X-Forwarded-For is trusted (one hop).
    server = gunicorn_on(COUNTER_RATE_LIMIT="3", COUNTER_TRUSTED_PROXIES="1")
    nginx = Nginx(tmp_path / "nginx", server.port).start()
    try:
        statuses = []
        for n in range(4):
            forged = {"Content-Type": "application/json", "X-Forwarded-For": f"203.0.113.{n}"}
            body = json.dumps({"visitor": f"forging-visitor-{n:04d}"}).encode()
            statuses.append(request(nginx.port, "POST", "/api/v1/sites/demo/hits", body, forged,
                                    source="127.0.0.5")[0])
        # A forged address changes nothing: the fourth hit from 127.0.0.5 is over the limit.
        assert statuses == [200, 200, 200, 429]
        # Another client address through the same nginx has its own limit.
        body = json.dumps({"visitor": "other-visitor-00001"}).encode()
        assert request(nginx.port, "POST", "/api/v1/sites/demo/hits", body,
                       {"Content-Type": "application/json"}, source="127.0.0.6")[0] == 200
        log = (nginx.dir / "access.log").read_text()
        assert "127.0.0.5" not in log and "203.0.113" not in log and log.startswith("- - [")
        # Each line ends with the request's time and the service's, in seconds.
        assert all(re.search(r'" \d+\.\d{3} \d+\.\d{3}$', line) for line in log.splitlines()), log
    finally:
        nginx.stop()


@pytest.mark.redis
@pytest.mark.nginx
def test_nginx_limits_heavy_reads_per_address_and_answers_in_the_error_shape(gunicorn_on, tmp_path):
    # A made-up query string takes a `daily` read past nginx's cache; each costs the service ~75 hits.
    server = gunicorn_on(COUNTER_TRUSTED_PROXIES="1")
    nginx = Nginx(tmp_path / "nginx", server.port).start()
    try:
        daily = "/api/v1/sites/demo/daily?days=366&junk="
        answers = [request(nginx.port, "GET", f"{daily}{n}", source="127.0.0.8") for n in range(40)]
        statuses = [status for status, _, _ in answers]
        assert statuses[:20] == [200] * 20 and 429 in statuses, statuses
        _, headers, body = next(a for a in answers if a[0] == 429)
        assert json.loads(body)["error"]["code"] == "rate_limited"
        assert headers["Retry-After"] == "1" and headers["Content-Type"] == "application/json"
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert request(nginx.port, "GET", "/api/v1/sites/demo/pages?junk=y", source="127.0.0.8")[0] == 429
        # Another address reads on; the widget's reads from the limited one are not limited.
        assert request(nginx.port, "GET", "/api/v1/sites/demo/daily?junk=x", source="127.0.0.9")[0] == 200
        assert {request(nginx.port, "GET", f"/api/v1/sites/demo/stats?n={n}", source="127.0.0.8")[0]
                for n in range(40)} == {200}
    finally:
        nginx.stop()


@pytest.mark.redis
@pytest.mark.nginx
def test_nginx_never_serves_a_private_sites_reads_from_its_cache(gunicorn_on, tmp_path):
    # nginx caches `online` and `daily` for 2 s by URL; an operator's read (the private
    # dashboard refreshes `online` by itself) must not be served to a reader without the token.
    sites = tmp_path / "sites.toml"
    sites.write_text('[demo]\n[hidden]\npublic = false\n')
    server = gunicorn_on(COUNTER_SITES_FILE=str(sites), COUNTER_SITES="", COUNTER_ADMIN_TOKEN=ADMIN_TOKEN,
                         COUNTER_TRUSTED_PROXIES="1")
    nginx = Nginx(tmp_path / "nginx", server.port).start()
    try:
        for path in ("/api/v1/sites/hidden/online", "/api/v1/sites/hidden/daily"):
            bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            assert request(nginx.port, "GET", path, headers=bearer)[0] == 200
            status, _, body = request(nginx.port, "GET", path, source="127.0.0.7")
            assert status == 401 and b"hidden" in body and b"last_hour" not in body, (path, body)
            assert b'"days"' not in body
    finally:
        nginx.stop()


@pytest.mark.redis
def test_redis_conf_starts_durable_and_noeviction(tmp_path):
    require_redis_server()
    node = start_redis_conf(tmp_path / "alone", free_port())
    try:
        client = redis_py.Redis(port=node.port, decode_responses=True)
        config = client.config_get("*")
        assert config["appendonly"] == "yes" and config["appendfsync"] == "everysec"
        assert config["maxmemory-policy"] == "noeviction"
        assert client.set("k", "v") and client.get("k") == "v"
    finally:
        node.stop(kill=True)


@pytest.mark.redis
def test_sentinel_setup_as_the_readme_describes(tmp_path, gunicorn_on):
    # A master and a replica with deploy/redis.conf and deploy/redis-node.conf,
    # a sentinel with deploy/sentinel.conf: the service finds the master through it.
    require_redis_server()
    master = start_redis_conf(tmp_path / "master", free_port(), node=True)
    replica = start_redis_conf(tmp_path / "replica", free_port(), node=True, replica_of=master.port)
    sentinel_port = free_port()
    text = swap((DEPLOY / "sentinel.conf").read_text(), {
        "port 26379": f"port {sentinel_port}", "bind 10.0.0.1 127.0.0.1 -::1": "bind 127.0.0.1",
        "/var/lib/redis-sentinel": str(tmp_path), "10.0.0.1 6379 2": f"127.0.0.1 {master.port} 1",
        "CHANGE-ME-TO-A-LONG-RANDOM-PASSWORD": PASSWORD})
    conf = tmp_path / "sentinel.conf"
    conf.write_text(text)
    sentinel = subprocess.Popen([shutil.which("redis-server"), str(conf), "--sentinel"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis_py.Redis(port=master.port, password=PASSWORD, decode_responses=True)
        with pytest.raises(redis_py.AuthenticationError):
            redis_py.Redis(port=master.port).ping()
        deadline = time.monotonic() + 20
        while client.info("replication")["connected_slaves"] < 1:
            assert time.monotonic() < deadline, "the replica did not connect"
            time.sleep(0.1)
        watcher = redis_py.Redis(port=sentinel_port, decode_responses=True)
        while True:
            try:
                replicas = watcher.sentinel_slaves("counter")
                if replicas and watcher.sentinel_master("counter")["flags"] == "master":
                    break
            except redis_py.RedisError:
                pass
            assert time.monotonic() < deadline, "the sentinel did not find the master and its replica"
            time.sleep(0.1)
        server = gunicorn_on(REDIS_URL=f"redis+sentinel://:{PASSWORD}@127.0.0.1:{sentinel_port}/counter")
        status, _, body = request(server.port, *HIT)
        assert status == 200 and json.loads(body)["counted"] is True
        assert client.dbsize() > 0
    finally:
        # SIGKILL: a replica that has just synced refuses SIGTERM while it
        # writes its first AOF ("Writing initial AOF, can't exit").
        sentinel.kill()
        sentinel.wait(timeout=10)
        replica.stop(kill=True)
        master.stop(kill=True)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_unit_verifies_and_is_confined(tmp_path):
    text = (DEPLOY / "counter.service").read_text()
    assert "requirements.txt" in text and "requirements-dev.txt" not in text
    text = text.replace("/opt/counter/.venv/bin/gunicorn", str(ROOT / ".venv" / "bin" / "gunicorn"))
    text = text.replace("/opt/counter", str(ROOT))
    unit = tmp_path / "counter.service"
    unit.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=50", str(unit)],
                              capture_output=True, text=True)
    assert security.returncode == 0, security.stdout
    for setting in ("ProtectHome=", "ProtectSystem=", "PrivateTmp=", "NoNewPrivileges="):
        line = next(line for line in security.stdout.splitlines() if setting in line)
        assert line.lstrip().startswith("✓"), line


def swap(text: str, swaps: dict[str, str]) -> str:
    """Replace each string that must be in `text` exactly once."""
    for old, new in swaps.items():
        assert text.count(old) == 1, f"{old!r} is not in the file once"
        text = text.replace(old, new)
    return text


def start_redis_conf(workdir, port: int, node: bool = False, replica_of: int | None = None) -> RedisServer:
    """Start redis-server with deploy/redis.conf (and deploy/redis-node.conf), port and directory moved."""
    workdir.mkdir(parents=True)
    base = workdir / "redis.conf"
    base.write_text(swap((DEPLOY / "redis.conf").read_text(),
                         {"port 6379": f"port {port}", "dir /var/lib/redis": f"dir {workdir}"}))
    conf = base
    if node:
        swaps = {"include /etc/redis/redis.conf": f"include {base}",
                 "bind 10.0.0.1 127.0.0.1 -::1": "bind 127.0.0.1",
                 "CHANGE-ME-TO-A-LONG-RANDOM-PASSWORD\nmasterauth CHANGE-ME-TO-A-LONG-RANDOM-PASSWORD":
                 f"{PASSWORD}\nmasterauth {PASSWORD}"}
        if replica_of is not None:
            swaps["# replicaof 10.0.0.1 6379"] = f"replicaof 127.0.0.1 {replica_of}"
        conf = workdir / "node.conf"
        conf.write_text(swap((DEPLOY / "redis-node.conf").read_text(), swaps))
    node_server = RedisServer(workdir, port=port)
    node_server.proc = subprocess.Popen(
        [shutil.which("redis-server"), str(conf), "--logfile", str(workdir / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis_py.Redis(port=port, socket_timeout=1, password=PASSWORD if node else None)
    for _ in range(200):
        try:
            if client.ping():
                return node_server
        except redis_py.ConnectionError:
            time.sleep(0.02)
    raise RuntimeError((workdir / "redis.log").read_text())


def test_an_unreachable_cluster_at_start_up_gives_503s_not_a_crash():
    # A Redis Cluster client asks its nodes for the slots as it opens: with
    # none answering, the app still starts (as the master's check builds it)
    # and answers 503 until one does.
    config = settings()
    config["REDIS_URL"] = f"redis+cluster://127.0.0.1:{free_port()}"
    c = browser(create_app(config))
    assert c.post("/api/v1/sites/demo/hits", json={}).status_code == 503
    assert c.get("/api/v1/sites/demo/stats").status_code == 503
    assert c.get("/readyz").status_code == 503


def wait_for_aof(client) -> None:
    """Wait until Redis has no AOF rewrite in progress or scheduled."""
    deadline = time.monotonic() + 20
    while True:
        info = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        assert time.monotonic() < deadline, "the AOF rewrite did not end"
        time.sleep(0.05)


def wait_for_save(client) -> None:
    """Wait until Redis's background save has ended, and check that it succeeded."""
    deadline = time.monotonic() + 20
    while client.info("persistence")["rdb_bgsave_in_progress"]:
        assert time.monotonic() < deadline, "the snapshot did not end"
        time.sleep(0.05)
    assert client.info("persistence")["rdb_last_bgsave_status"] == "ok"


def back_up(port: int, dest) -> subprocess.CompletedProcess:
    """Run deploy/redis-backup.sh against the Redis at `port`, as an operator's cron job would."""
    return subprocess.run([str(DEPLOY / "redis-backup.sh"), str(dest), "-p", str(port)],
                          capture_output=True, text=True, timeout=60)


def backed_up(tmp_path, prepare) -> None:
    """Start Redis with deploy/redis.conf, let `prepare` write to it, and back it up into tmp_path/backup."""
    require_redis_server()
    node = start_redis_conf(tmp_path / "live", free_port())
    client = redis_py.Redis(port=node.port, decode_responses=True)
    try:
        prepare(client)
        done = back_up(node.port, tmp_path / "backup")
        assert done.returncode == 0, done.stderr
        # Redis's own AOF rewrites are on again.
        assert client.config_get("auto-aof-rewrite-percentage")["auto-aof-rewrite-percentage"] == "100"
    finally:
        client.close()
        node.stop(kill=True)


@pytest.mark.redis
def test_backups_restore_as_the_readme_describes(tmp_path):
    # With deploy/redis.conf Redis loads the AOF, not dump.rdb: a snapshot
    # put back alone gives an empty store, and the README's steps give it all.
    backed_up(tmp_path, lambda client: client.hset("vc:{demo}:all", "total", 1672241))

    def restore(name: str, *files: str, aof: bool = True):
        workdir = tmp_path / name
        workdir.mkdir()
        for f in files:
            (shutil.copytree if f == "appendonlydir" else shutil.copy)(tmp_path / "backup" / f, workdir / f)
        server = RedisServer(workdir, "--appendonly", "yes" if aof else "no").start()
        return server, redis_py.Redis(port=server.port, decode_responses=True)

    # The AOF directory put back: everything.
    server, restored = restore("from-aof", "dump.rdb", "appendonlydir")
    assert restored.hget("vc:{demo}:all", "total") == "1672241"
    restored.close()
    server.stop()
    # The snapshot alone, started as redis.conf says (appendonly yes): nothing.
    server, restored = restore("rdb-naive", "dump.rdb")
    assert restored.dbsize() == 0
    restored.close()
    server.stop(kill=True)
    # The snapshot alone, started once with the AOF off and the AOF then
    # turned on: everything, and kept by the next start with the AOF on.
    server, restored = restore("rdb", "dump.rdb", aof=False)
    assert restored.hget("vc:{demo}:all", "total") == "1672241"
    restored.config_set("appendonly", "yes")
    wait_for_aof(restored)
    restored.close()
    server.stop()
    server = RedisServer(tmp_path / "rdb", "--appendonly", "yes").start()
    restored = redis_py.Redis(port=server.port, decode_responses=True)
    assert restored.hget("vc:{demo}:all", "total") == "1672241"
    restored.close()
    server.stop()


@pytest.mark.redis
def test_a_backup_that_cannot_run_says_why_and_fails(tmp_path):
    require_redis_server()
    usage = subprocess.run([str(DEPLOY / "redis-backup.sh")], capture_output=True, text=True, timeout=10)
    assert usage.returncode == 2 and "usage:" in usage.stderr
    gone = back_up(free_port(), tmp_path / "backup")  # nothing listens there
    assert gone.returncode == 1 and gone.stderr.startswith("redis-backup: "), gone
    assert not (tmp_path / "backup").exists()


@pytest.mark.redis
def test_a_snapshot_asked_for_during_an_aof_rewrite_holds_the_data_of_then(tmp_path):
    # Redis refuses a plain BGSAVE while an AOF rewrite runs (auto-aof-rewrite-percentage
    # starts them by itself), and redis-cli still exits 0: a wait for
    # rdb_bgsave_in_progress:0 would pass at once and copy the last snapshot, an hour old.
    def during_a_rewrite(client):
        client.hset("vc:{demo}:all", "total", 1)
        client.bgsave()
        wait_for_save(client)
        client.hset("vc:{demo}:all", "total", 2)
        for n in range(20):
            client.set(f"filler:{n}", n)
        client.config_set("rdb-key-save-delay", 100_000)  # 0.1 s a key: a rewrite of about 2 s
        client.bgrewriteaof()
        client.config_set("rdb-key-save-delay", 0)  # the rewrite forked already keeps its own
        assert client.info("persistence")["aof_rewrite_in_progress"]

    backed_up(tmp_path, during_a_rewrite)
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    shutil.copy(tmp_path / "backup" / "dump.rdb", restored_dir / "dump.rdb")
    server = RedisServer(restored_dir, "--appendonly", "no").start()
    restored = redis_py.Redis(port=server.port, decode_responses=True)
    try:
        assert restored.hget("vc:{demo}:all", "total") == "2"
    finally:
        restored.close()
        server.stop()
