"""The fixed cast of users and the helpers every test file shares."""

import io
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from PIL import Image as PILImage

from console.models import Profile

ROOT = Path(__file__).resolve().parent.parent


def make_user(django_user_model, username, role, **extra):
    user = django_user_model.objects.create_user(username=username, password="pw-" + username, **extra)
    Profile.objects.create(user=user, role=role)
    return user


@pytest.fixture(scope="session", autouse=True)
def _models_built():
    """The engine's model files are built once per data folder (tens of seconds): build them before
    any test, so that no request, worker or API call of a test waits for them."""
    from console.backends.base import get_backend

    get_backend("local").prepare()


@pytest.fixture
def owner(django_user_model):
    """A manager: trains, runs jobs, deletes."""
    return make_user(django_user_model, "owner", Profile.Role.MANAGER)


@pytest.fixture
def annotator(django_user_model):
    return make_user(django_user_model, "annotator", Profile.Role.ANNOTATOR)


@pytest.fixture
def viewer(django_user_model):
    return make_user(django_user_model, "viewer", Profile.Role.VIEWER)


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_superuser(username="staff", password="pw-staff")
    Profile.objects.create(user=user, role=Profile.Role.ADMIN)
    return user


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def make_image_bytes(width=120, height=100, color=(120, 160, 200), fmt="JPEG", seed=None) -> bytes:
    """A real image generated with Pillow; `seed` varies the pixels so each is distinct."""
    img = PILImage.new("RGB", (width, height), color)
    if seed is not None:
        px = img.load()
        for i in range(8):
            px[(seed * 7 + i) % width, (seed * 3 + i) % height] = (
                (seed * 37) % 256,
                (seed * 91) % 256,
                i * 30,
            )
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def worker_env() -> dict:
    """The environment of a worker process that shares this test run's database and broker."""
    env = dict(os.environ)
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{settings_dict['NAME']}"
    else:
        env["DATABASE_URL"] = (
            f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD']}@{settings_dict['HOST'] or '127.0.0.1'}"
            f":{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
        )
    return env


def _die_with_parent() -> None:
    """In the worker's process, before exec: be killed when the test process dies, so a crashed
    or timed-out test run leaves no worker holding the test database."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class WorkerProcess:
    """A real `celery worker` process (prefork) on the configured broker."""

    def __init__(self, concurrency=1, log_path=None, beat=False):
        self.log_path = log_path
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "console",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "--without-gossip",
            "--without-mingle",
        ] + (["--beat", f"--schedule={log_path}.beat"] if beat else [])  # the periodic checks too
        self.log = open(log_path, "w") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=worker_env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def kill(self, sig=signal.SIGKILL):
        """Kill the worker and its pool children at once, as a crash would."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self):
        """A warm shutdown, and a kill if the worker is still busy after a while."""
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass


@pytest.fixture
def celery_worker_process(tmp_path):
    worker = WorkerProcess(log_path=tmp_path / "worker.log")
    yield worker
    worker.stop()


@pytest.fixture
def soft_time_limit():
    """A function that makes the soft time limit of the task running in this thread pass now, as
    a prefork worker's pool does: SIGUSR1 to the thread, whose handler (billiard's) raises
    SoftTimeLimitExceeded wherever the task is, even blocked in a socket read."""
    from billiard.pool import soft_timeout_sighandler

    previous = signal.signal(signal.SIGUSR1, soft_timeout_sighandler)
    main = threading.main_thread().ident
    yield lambda: signal.pthread_kill(main, signal.SIGUSR1)
    signal.signal(signal.SIGUSR1, previous)


def wait_for(predicate, timeout=60.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")


# Debian's Chromium, headless, kept off the network (the machine's is closed).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@contextmanager
def chromium_page(live_server, user=None, **context_options):
    """A page of Debian's Chromium driven by Playwright, on the live server, signed in as `user`.

    The session is made before Playwright starts: its event loop forbids the ORM in this thread.
    """
    from playwright.sync_api import sync_playwright

    cookies = []
    if user is not None:
        client = Client()
        client.force_login(user)
        name = settings.SESSION_COOKIE_NAME
        cookies = [{"name": name, "value": client.cookies[name].value, "url": live_server.url}]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=live_server.url, **context_options)
            context.add_cookies(cookies)
            yield context.new_page()
        finally:
            browser.close()
