"""scripts/run-embedded, the servers of `make run`: gunicorn and a Celery worker with its beat,
all stopped by Ctrl-C or SIGTERM within 10 s, with no process left behind."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.stack.test_entrypoint import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run-embedded"


def test_favicon_is_served_without_sign_in(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content) == (ROOT / "static" / "root" / "favicon.ico").read_bytes()


@pytest.fixture(scope="module")
def embedded_env(tmp_path_factory):
    """The embedded default (SQLite, files on disk, filesystem broker) in a migrated data folder."""
    data = tmp_path_factory.mktemp("embedded")
    env = {
        **os.environ,
        "VENV": str(Path(sys.executable).parent.parent),
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'console.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "CACHE_URL": "",
        "STORAGE_BACKEND": "local",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
    return env


def live_processes() -> dict[int, tuple[int, bytes]]:
    """pid -> (session id, environment) of every process that has not exited (zombies have)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            environ = (entry / "environ").read_bytes()
        except OSError:  # it exited meanwhile
            continue
        state, _ppid, _pgid, sid = stat.rsplit(")", 1)[1].split()[:4]
        if state != "Z":
            found[int(entry.name)] = (int(sid), environ)
    return found


@pytest.mark.worker
@pytest.mark.parametrize(
    ("sig", "frozen_worker"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["ctrl-c", "sigterm", "ctrl-c-with-a-worker-that-does-not-stop"],
)
def test_a_signal_stops_the_web_server_and_the_worker_within_10_s(embedded_env, tmp_path, sig, frozen_worker):
    # Every process the script starts inherits this variable, whatever session it moves to.
    run_id = str(uuid.uuid4())
    marker = f"RUN_EMBEDDED_TEST={run_id}".encode()
    port = free_port()
    env = {**embedded_env, "PORT": str(port), "RUN_EMBEDDED_TEST": run_id}
    log_path = tmp_path / "run.log"
    with open(log_path, "w") as log:
        # Its own session, as a terminal starts `make run`: the signal goes to its process group.
        script = subprocess.Popen(
            [str(SCRIPT)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:

        def started() -> bool:
            assert script.poll() is None, log_path.read_text()
            output = log_path.read_text()
            if "beat: Starting" not in output or " ready." not in output:
                return False
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(started, timeout=60, interval=0.2, message="the login page and the worker")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico", timeout=5) as response:
            assert (response.status, response.headers["Content-Type"]) == (200, "image/x-icon")

        ours = {
            pid: sid for pid, (sid, environ) in live_processes().items() if marker in environ.split(b"\0")
        }
        sessions = set(ours.values())
        cmdlines = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in ours]
        assert any(b"gunicorn" in c for c in cmdlines) and any(b"celery" in c for c in cmdlines)
        if frozen_worker:
            # A worker that never finishes its shutdown, like the one stuck after "beat: Shutting down...".
            (worker,) = [
                pid for pid, c in zip(ours, cmdlines, strict=True) if b"celery" in c and ours[pid] == pid
            ]
            os.kill(worker, signal.SIGSTOP)

        sent = time.monotonic()
        os.killpg(script.pid, sig)

        def none_left() -> bool:
            return not any(sid in sessions for sid, _ in live_processes().values())

        wait_for(none_left, timeout=10, interval=0.1, message="every process of `make run` to exit")
        assert time.monotonic() - sent < 10
        assert script.wait(timeout=1) == 128 + sig
        with pytest.raises(ProcessLookupError):
            os.killpg(script.pid, 0)

        output = log_path.read_text()
        assert "No hostname was supplied" not in output
        assert "development server" not in output
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
        for pid, (_, environ) in live_processes().items():
            if marker in environ.split(b"\0"):
                os.kill(pid, signal.SIGKILL)
