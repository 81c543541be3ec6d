"""docker/entrypoint, the containers' roles, run here as the image runs them (PATH = the venv)."""

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def stack_env(tmp_path):
    """Production settings on a database and a broker of this test's own."""
    data = tmp_path / "data"
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'console.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "STORAGE_BACKEND": "local",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE": "false",
        "DJANGO_SECRET_KEY": "",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "WORKER_CONCURRENCY": "1",
        "PORT": str(free_port()),
    }


class Role:
    def __init__(self, role, env, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [str(ENTRYPOINT), role],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text()

    def stop(self):
        """SIGTERM, then SIGKILL after a grace period, as `docker compose stop` does: a worker's warm
        shutdown waits for its running task (a fresh data folder's model build takes minutes on a
        loaded machine), which is not what these tests are about."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture
def start_role(tmp_path):
    started = []

    def start(role, env):
        started.append(Role(role, env, tmp_path / f"{role}.log"))
        return started[-1]

    yield start
    for role in started:
        role.stop()


def get(opener, url):
    """(status, body, final URL after redirects)."""
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.read(), response.geturl()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.geturl()
    except OSError:
        return None, b"", None


def start_web(start_role, env):
    web = start_role("web", env)
    base = f"http://127.0.0.1:{env['PORT']}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def answers():
        assert web.proc.poll() is None, web.output()
        return get(opener, base + "/healthz")[0] == 200

    wait_for(answers, timeout=120, message="the web role's gunicorn")
    return web, base, opener


def test_it_serves_the_console_with_gunicorn_and_its_static_files(start_role, stack_env):
    web, base, opener = start_web(start_role, stack_env)

    # Static files were collected and are served by the app itself (WhiteNoise), not by Django's debug view.
    collected = Path(stack_env["DATA_DIR"]) / "staticfiles" / "css" / "console.css"
    assert collected.exists()
    status, body, _ = get(opener, base + "/static/css/console.css")
    assert status == 200
    assert body == (ROOT / "static" / "css" / "console.css").read_bytes()
    assert get(opener, base + "/static/vendor/htmx.min.js")[0] == 200
    assert get(opener, base + "/static/no-such-file.css")[0] == 404

    # Migrations ran and the first admin was created: its one-time password signs in.
    found = re.search(r"user name: (\S+)\s+password:\s+(\S+)", web.output())
    assert found, web.output()
    username, password = found.groups()
    status, page, url = get(opener, base + "/")
    assert (status, url) == (200, base + "/login/?next=/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    request = urllib.request.Request(url, data=form.encode(), headers={"Referer": url})
    status, home, url = get(opener, request)
    assert (status, url) == (200, base + "/")
    assert username.encode() in home


def test_it_runs_the_worker_and_the_scheduler(start_role, stack_env):
    web, _, _ = start_web(start_role, stack_env)  # migrates the database
    worker = start_role("worker", stack_env)
    beat = start_role("beat", stack_env)

    manage = [sys.executable, str(ROOT / "manage.py"), "shell", "--verbosity", "0", "-c"]
    subprocess.run(
        [*manage, "from console.tasks import heartbeat; heartbeat.delay()"],
        env=stack_env,
        check=True,
        timeout=60,
    )

    def heartbeat_seen():
        assert worker.proc.poll() is None, worker.output()
        count = subprocess.run(
            [*manage, "from console.models import WorkerHeartbeat; print(WorkerHeartbeat.objects.count())"],
            env=stack_env,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        return count == "1"

    wait_for(heartbeat_seen, timeout=120, interval=1, message="the worker role to run the heartbeat task")
    wait_for(lambda: "beat: Starting" in beat.output(), timeout=60, message="celery beat to start")
    assert beat.proc.poll() is None, beat.output()
    assert (Path(stack_env["DATA_DIR"]) / "celerybeat-schedule").exists() or any(
        Path(stack_env["DATA_DIR"]).glob("celerybeat-schedule*")
    )


def test_its_health_check_passes_behind_https_with_the_production_hosts(start_role, stack_env):
    from tests.stack.test_compose import compose_config

    env = {**stack_env, "DJANGO_SECURE": "true", "DJANGO_ALLOWED_HOSTS": ".example.org,console.example.com"}
    base = f"http://127.0.0.1:{env['PORT']}"
    web = start_role("web", env)

    check = json.loads(compose_config("--format", "json").stdout)["services"]["web"]["healthcheck"]["test"]
    assert check[:2] == ["CMD", "python"]
    command = [sys.executable, *[arg.replace(":8000/", f":{env['PORT']}/") for arg in check[2:]]]

    def healthy():
        assert web.proc.poll() is None, web.output()
        return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode == 0

    wait_for(healthy, timeout=120, interval=1, message="the compose health check to pass")

    # Without the proxy's header the site redirects to https; an unknown Host is refused.
    plain = urllib.request.Request(base + "/healthz", headers={"Host": "console.example.com"})
    no_redirects = urllib.request.build_opener(NoRedirect)
    assert get(no_redirects, plain)[0] == 301
    assert get(no_redirects, base + "/healthz")[0] == 400


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
