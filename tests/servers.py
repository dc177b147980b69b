"""Real gunicorn and nginx processes run from deploy/, for the deploy tests."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import BROWSER_UA, free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
REQUIRE_NGINX = os.environ.get("COUNTER_REQUIRE_NGINX") == "1"
ADMIN_TOKEN = "admin-token-for-the-deploy-tests"


def require_nginx() -> str:
    """Return nginx's path; skip without it, except where CI makes it mandatory."""
    path = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
    if path is None:
        if REQUIRE_NGINX:
            pytest.fail("nginx is required (COUNTER_REQUIRE_NGINX=1) but not installed")
        pytest.skip("nginx is not installed")
    return path


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            source: str | None = None, timeout: float = 5) -> tuple[int, dict, bytes]:
    """Make one HTTP request to 127.0.0.1:port (from `source`); return status, headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers={"User-Agent": BROWSER_UA, **(headers or {})})
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


def wait_until_answers(port: int, path: str = "/healthz", deadline: float = 20,
                       proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    """Wait until a GET of `path` answers 200."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n"
                               + (log.read_text() if log else ""))
        try:
            if request(port, "GET", path, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the server did not answer:\n" + (log.read_text() if log else ""))



def stop_process(proc: subprocess.Popen | None, sig: int, grace: float) -> None:
    """Send `sig` to a running server, and kill it if it has not exited within `grace` seconds."""
    if proc and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

class Gunicorn:
    """gunicorn with deploy/gunicorn.conf.py, as the systemd unit starts it."""

    def __init__(self, workdir: Path, env: dict, python: str = sys.executable, root: Path = ROOT) -> None:
        """Choose a port; `env` adds to a clean environment (PATH, HOME and LANG kept); serve `root`."""
        self.root = root
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = self.dir / "gunicorn.log"
        self.env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
        self.env.update({"COUNTER_BIND": f"127.0.0.1:{self.port}",
                         "PROMETHEUS_MULTIPROC_DIR": str(self.dir / "metrics"), **env})
        self.gunicorn = str(Path(python).parent / "gunicorn")
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        """Return gunicorn's command line, as the systemd unit's."""
        return [self.gunicorn, "-c", str(self.root / "deploy" / "gunicorn.conf.py"), "wsgi:app"]

    def use_port(self, port: int) -> None:
        """Listen on `port` from the next start on."""
        self.port = port
        self.env["COUNTER_BIND"] = f"127.0.0.1:{port}"

    def run(self, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run gunicorn until it exits by itself (a start-up refusal), with its output."""
        return subprocess.run(self.command(), cwd=self.root, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, attempts: int = 3) -> Gunicorn:
        """Start gunicorn and wait until it answers.

        free_port() only finds a port that was free a moment ago; another
        process on the machine may bind it first. Then gunicorn says
        "Connection in use", and it starts again on a new port. Any other
        failure is raised as it is.
        """
        for attempt in range(attempts):
            if attempt:
                self.use_port(free_port())
            with open(self.log, "wb") as out:
                self.proc = subprocess.Popen(
                    self.command(),
                    cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT)
            if self._bound():
                # Only now: before, whatever holds the port could answer for it.
                wait_until_answers(self.port, proc=self.proc, log=self.log)
                return self
            # It gives up after its bind retries (about 5 s) and exits, running its
            # atexit handlers (an embedded store stops); signals wait until then.
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        raise RuntimeError(f"port taken {attempts} times in a row:\n" + self.log.read_text())

    def _bound(self, deadline: float = 20) -> bool:
        """Wait for gunicorn to listen on its port; False when another process holds the port."""
        listening = f"Listening at: http://127.0.0.1:{self.port} "
        end = time.monotonic() + deadline
        while time.monotonic() < end and self.proc.poll() is None:
            text = self.log.read_text(errors="replace")
            if listening in text:
                return True
            if "Connection in use" in text:
                return False
            time.sleep(0.05)
        return True  # it exited or is slow: wait_until_answers says so, with the log

    def stop(self) -> str:
        """Stop gunicorn gracefully; return everything it wrote."""
        stop_process(self.proc, signal.SIGTERM, 30)
        return self.log.read_text()


def render_nginx_site(workdir: Path, upstream_port: int, http_port: int, https_port: int) -> Path:
    """Write deploy/nginx.conf with this machine's paths and ports; return its path.

    Only what cannot work on a test machine changes: the listening ports (the
    TLS listener moves to a loopback port, and a plain one is added for the
    slow-client tests), the certificate (a fresh self-signed one), the
    upstream's port, and the cache and log paths. Every other line is the
    shipped file's.
    """
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-subj", "/CN=counter.example.gov.vn", "-days", "2",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    text = (DEPLOY / "nginx.conf").read_text()
    swaps = {
        "listen 443 ssl http2;": (f"listen 127.0.0.1:{https_port} ssl http2;\n"
                                  f"    listen 127.0.0.1:{http_port};"),
        "/etc/ssl/counter/fullchain.pem": str(cert),
        "/etc/ssl/counter/privkey.pem": str(key),
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream_port};",
        "/var/cache/nginx/counter": str(workdir / "cache"),
        "/var/log/nginx/counter.log": str(workdir / "access.log"),
    }
    for old, new in swaps.items():
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    site = workdir / "counter.conf"
    site.write_text(text)
    return site


def render_nginx_main(workdir: Path, site: Path) -> Path:
    """Write an nginx.conf that includes the site as a distribution's does, sized as the site asks."""
    temp = "\n".join(f"    {name}_temp_path {workdir / name};"
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = workdir / "nginx.conf"
    main.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\nworker_rlimit_nofile 16384;\npid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'error.log'} warn;\ndaemon off;\n"
        "events { worker_connections 8192; }\n"
        f"http {{\n{temp}\n    include {site};\n}}\n")
    return main


class Nginx:
    """nginx with deploy/nginx.conf in front of a port on loopback."""

    def __init__(self, workdir: Path, upstream_port: int) -> None:
        """Render the configuration."""
        self.nginx = require_nginx()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.upstream = upstream_port
        self.use_ports(free_port(), free_port())
        self.proc: subprocess.Popen | None = None

    def use_ports(self, port: int, tls_port: int) -> None:
        """Render the configuration to listen on `port` (plain) and `tls_port`."""
        self.port, self.tls_port = port, tls_port
        site = render_nginx_site(self.dir, self.upstream, self.port, self.tls_port)
        self.conf = render_nginx_main(self.dir, site)

    def command(self, *args: str) -> list[str]:
        """Return an nginx command line on this configuration."""
        return [self.nginx, "-p", str(self.dir), "-e", str(self.dir / "error.log"),
                "-c", str(self.conf), *args]

    def test(self) -> subprocess.CompletedProcess:
        """Run `nginx -t` on the configuration."""
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)

    def start(self, attempts: int = 3) -> Nginx:
        """Start nginx and wait until it listens.

        When another process bound one of its ports first (free_port() only
        saw them free), it starts again on new ones; any other failure is
        raised as it is.
        """
        log = self.dir / "error.log"
        for attempt in range(attempts):
            if attempt:
                self.use_ports(free_port(), free_port())
            seen = log.stat().st_size if log.exists() else 0
            self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self._bound(log, seen):
                return self
            # Still retrying its bind, before any worker: kill it.
            self.proc.kill()
            self.proc.wait()
        raise RuntimeError(f"ports taken {attempts} times in a row:\n" + log.read_text())

    def _bound(self, log: Path, seen: int) -> bool:
        """Wait until this nginx listens; False when another process holds one of its ports."""
        pid = self.dir / "nginx.pid"  # written once every listening socket is bound
        end = time.monotonic() + 10
        while time.monotonic() < end:
            said = log.read_bytes()[seen:].decode(errors="replace") if log.exists() else ""
            if "Address already in use" in said:
                return False
            assert self.proc.poll() is None, said
            if pid.exists() and pid.read_text().strip() == str(self.proc.pid):
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return True
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("nginx did not start:\n" + log.read_text())

    def stop(self) -> None:
        """Stop nginx."""
        stop_process(self.proc, signal.SIGQUIT, 10)
