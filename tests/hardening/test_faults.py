"""Faults the other suites do not cover: the broker (a real redis-server) restarted mid-job.

tests/adapters/test_worker_crash.py kills a worker mid-training and tests/bulk_analysis/test_worker.py
kills one mid bulk job (SIGKILL, filesystem broker). Here a private redis-server on a free loopback
port is the broker of a real worker and of this test process; it is SIGKILLed and started again on
the same port mid-job. It holds no data (--save "" --appendonly no), so the queued messages are
lost: what is running finishes, and the periodic checks (resume_stalled_jobs for bulk jobs,
fail_stale_trainings for trainings) put the rest back. Each test ends with the job finished, every
image exactly once, and nothing left in a running state. Two more tests kill a worker with SIGKILL
while it trains and runs a bulk job at once on the Redis broker, where a killed worker's
unacknowledged messages only come back after the visibility timeout: the leases (console.leases)
bring the work back, through the worker that starts next, or through a living worker's beat check.

Needs the Debian package redis-server (/usr/bin/redis-server); the tests install it with apt-get
when it is missing and they may, and fail saying so when they cannot.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from kombu import pools

from adapters import services as adapter_services
from adapters.models import Adapter, Image
from bulk_analysis import services as bulk_services
from bulk_analysis.models import BulkAnalysisJob, Prediction
from bulk_analysis.tasks import resume_stalled_jobs
from console.celery import app
from console.lib import storage
from console.models import AuditEntry, Lease
from moderation import manifests
from projects.models import Project
from tests.adapters.conftest import add_dataset, make_adapter
from tests.conftest import WorkerProcess, make_image_bytes, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RUNNING_JOB = [
    BulkAnalysisJob.Status.CREATED,
    BulkAnalysisJob.Status.QUEUED,
    BulkAnalysisJob.Status.IN_PROGRESS,
]


# ---------------------------------------------------------------- a private redis-server


def redis_server_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "redis-server"]):
        result = subprocess.run(sudo + command, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode:
            pytest.fail(
                "These tests need redis-server (Debian package redis-server) and could not install it: "
                f"{' '.join(command)} said {result.stderr.strip()[-500:]}"
            )
    found = shutil.which("redis-server")
    if not found:
        pytest.fail("apt-get installed redis-server but no redis-server binary is on PATH")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server holding nothing on disk: a restart loses every queued message."""

    def __init__(self, folder):
        self.binary = redis_server_binary()
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None
        self.starts = 0
        self.start()

    def start(self):
        self.starts += 1
        log = open(self.folder / f"redis-{self.starts}.log", "w")
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)

        def answers():
            try:
                return client.ping()
            except redis.exceptions.ConnectionError:
                assert self.proc.poll() is None, f"redis-server exited: see {log.name}"
                return False

        wait_for(answers, timeout=30, interval=0.1, message="redis-server to answer")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def restart(self):
        """SIGKILL and start again on the same port: the queues come back empty."""
        self.kill()
        time.sleep(0.5)
        self.start()

    def queued(self, *queues: str) -> int:
        """Messages waiting in the named queues, or in all of Celery's (celery, training, bulk)."""
        client = redis.Redis(host="127.0.0.1", port=self.port)
        return sum(client.llen(queue) for queue in queues or app.conf.task_queues)


def _drop_connections() -> None:
    """Forget this process's broker connections, so the next publish connects to the new URL.

    kombu keeps its connection and producer pools in process-wide groups keyed by broker URL:
    closing one without clearing the groups would leave a closed pool to come back to.
    """
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker(tmp_path):
    """A private redis-server as the broker of this process and of the workers it starts."""
    server = RedisServer(tmp_path)
    # Celery reads CELERY_BROKER_URL from the environment before its configuration: save the
    # configured values first, and take the variable away again before putting them back.
    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    saved_env = os.environ.get("CELERY_BROKER_URL")
    os.environ["CELERY_BROKER_URL"] = server.url  # WorkerProcess passes os.environ on
    _drop_connections()
    app.conf.broker_url = server.url
    app.conf.broker_transport_options = {"visibility_timeout": 3600}
    try:
        yield server
    finally:
        _drop_connections()
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        app.conf.broker_url, app.conf.broker_transport_options = saved
        server.kill()
        assert app.conf.broker_url == saved[0], "the test process must be back on its own broker"


# ---------------------------------------------------------------- what every test ends with


def assert_nothing_running():
    stuck_jobs = list(BulkAnalysisJob.objects.filter(status__in=RUNNING_JOB).values_list("name", "status"))
    assert not stuck_jobs, f"bulk jobs left running: {stuck_jobs}"
    stuck = list(Adapter.objects.training().values_list("name", flat=True))
    assert not stuck, f"adapters left in TRAINING_IN_PROGRESS: {stuck}"
    assert not Prediction.objects.filter(state=Prediction.State.PENDING).exists()


def assert_every_image_once(job: BulkAnalysisJob, inputs: list[str]) -> None:
    """SUCCEEDED, one done row per line, and the output manifest names each input image once."""
    job.refresh_from_db()
    assert job.status == BulkAnalysisJob.Status.SUCCEEDED, job.status_message
    n = len(inputs)
    rows = list(job.predictions.order_by("line").values_list("line", "state", "source_ref"))
    assert rows == [(line, "done", uri) for line, uri in enumerate(inputs, start=1)]
    output = manifests.read_bulk_output(storage.read_ref(storage.ref_for(job.output_manifest)))
    refs = [line.source_ref for line in output]
    assert sorted(refs) == sorted(inputs) and len(set(refs)) == n
    summary = manifests.read_summary(storage.read_ref(storage.ref_for(job.summary)))
    assert (summary.total, summary.valid, summary.invalid) == (n, n, 0)


def assert_trained_on_every_image_once(adapter: Adapter) -> None:
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_COMPLETED, adapter.status_message
    stored = sorted(storage.uri_for(name) for name in adapter.images.values_list("file", flat=True))
    frozen = [adapter.training_manifest] + ([adapter.testing_manifest] if adapter.testing_manifest else [])
    uris = [
        line.uri
        for name in frozen
        for line in manifests.read_groundtruth(storage.read_ref(storage.ref_for(name)), name=name)
    ]
    assert sorted(uris) == stored, "the frozen manifests must name each dataset image exactly once"
    details = adapter.evaluation["EvaluationDetails"]
    assert details["NumberOfTrainingImages"] + details["NumberOfTestingImages"] == len(stored)


def start_bulk_job(owner, n: int, name: str) -> tuple[BulkAnalysisJob, list[str]]:
    job = bulk_services.create_job(user=owner, name=name)
    bulk_services.add_files(
        job=job, files=[(f"img{i}.jpg", make_image_bytes(100, 90, seed=i + 1)) for i in range(n)]
    )
    inputs = list(job.predictions.order_by("line").values_list("source_ref", flat=True))
    return bulk_services.start_job(user=owner, job=job), inputs  # enqueued on commit (autocommit)


def finished_count(job) -> int:
    return Prediction.objects.filter(job=job).exclude(state=Prediction.State.PENDING).count()


def wait_until_progress_stops(count, quiet_seconds=8.0, timeout=300.0) -> int:
    """Wait until `count()` has not moved for quiet_seconds; returns it."""
    last, since = count(), time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return last
    raise AssertionError("progress never stopped")


BEAT_SECONDS = 15  # beat sends resume_stalled_jobs every minute; here every 15 s
STALLED_SECONDS = 10  # and a job is stalled after 10 s without progress (5 minutes in production)


def wait_as_beat_does(predicate, timeout: float, message: str) -> None:
    """Wait for predicate(), sending resume_stalled_jobs through the broker as beat does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resume_stalled_jobs.delay(STALLED_SECONDS)
        try:
            wait_for(predicate, timeout=min(BEAT_SECONDS, deadline - time.monotonic()), interval=0.5)
            return
        except AssertionError:
            continue
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")


def process_group(worker: str) -> int | None:
    """The process group of a lease's worker ("<host>:<pid>"), None once the process is gone."""
    try:
        return os.getpgid(int(worker.rpartition(":")[2]))
    except ProcessLookupError:
        return None


def log_says(path, *words) -> bool:
    text = path.read_text() if path.exists() else ""
    return all(word in text for word in words)


def trainable_adapter(owner, name: str) -> Adapter:
    project = Project.objects.filter(name="faults").first() or Project.objects.create(
        name="faults", arn=Project.build_arn("faults"), created_by=owner, auto_update=False
    )
    adapter = make_adapter(project, name)
    add_dataset(adapter, 12, 12)
    return adapter


def make_stale(adapter: Adapter) -> None:
    """What the periodic check sees two hours on: a training with no live task."""
    Adapter.objects.filter(pk=adapter.pk).update(training_started_at=timezone.now() - timedelta(hours=3))


# ---------------------------------------------------------------- the tests


def test_a_broker_restart_mid_bulk_job_loses_nothing(owner, broker, tmp_path):
    n = 120
    worker = WorkerProcess(log_path=tmp_path / "worker.log")
    try:
        job, inputs = start_bulk_job(owner, n, "broker-restart")
        wait_for(lambda: finished_count(job) >= 8, timeout=240, interval=0.05, message="the first images")
        assert broker.queued() > 0, "the job's other units should be waiting in the broker"
        broker.restart()  # the queued units are gone with it

        # The worker finishes the unit it holds, reconnects, and finds an empty queue: the job stalls.
        stalled_at = wait_until_progress_stops(lambda: finished_count(job))
        assert 0 < stalled_at < n, stalled_at
        assert BulkAnalysisJob.objects.get(pk=job.pk).status == BulkAnalysisJob.Status.IN_PROGRESS
        assert broker.queued() == 0

        # What beat does every minute, sent through the restarted broker.
        resume_stalled_jobs.delay(0)
        wait_as_beat_does(
            lambda: BulkAnalysisJob.objects.get(pk=job.pk).status not in RUNNING_JOB,
            timeout=300,
            message="the job to finish after the restart",
        )
        assert log_says(tmp_path / "worker.log", "resume_stalled_jobs", "succeeded")
    finally:
        worker.stop()

    assert_every_image_once(job, inputs)
    assert_nothing_running()


def test_a_broker_restart_mid_training_loses_nothing(owner, broker, tmp_path):
    running = trainable_adapter(owner, "in-flight")
    queued = trainable_adapter(owner, "queued")
    images_before = Image.objects.count()
    worker = WorkerProcess(log_path=tmp_path / "worker.log")
    try:
        adapter_services.start_training(user=owner, adapter=running)
        # Training under its lease: the worker's one slot is taken (a start-up task may run first).
        wait_for(
            lambda: Lease.objects.filter(key=f"training:{running.pk}").exists(),
            timeout=120,
            message="the worker to take the first training",
        )
        # One worker process, prefetch 1 with late acks: the second training waits in the broker.
        adapter_services.start_training(user=owner, adapter=queued)
        # Only the training queue: the worker's start-up tasks (console.tasks, resume_lost_*) may wait
        # in the default queue behind the first training.
        wait_for(
            lambda: broker.queued("training") == 1, timeout=30, message="the second training to be queued"
        )
        broker.restart()  # the in-flight training goes on; the queued one is lost

        def first_done():
            return Adapter.objects.get(pk=running.pk).status != Adapter.Status.TRAINING_IN_PROGRESS

        wait_for(first_done, timeout=300, interval=0.5, message="the in-flight training to finish")

        def held_by_worker() -> bool:
            """The worker holds the queued training: taken (a lease), done, or reserved before the restart."""
            if (
                Adapter.objects.get(pk=queued.pk).status != Adapter.Status.TRAINING_IN_PROGRESS
                or Lease.objects.filter(key=f"training:{queued.pk}").exists()
            ):
                return True
            inspect = app.control.inspect(timeout=5)
            held = [*((inspect.reserved() or {}).values()), *((inspect.active() or {}).values())]
            return any(task["args"] == [queued.pk] for tasks in held for task in tasks)

        # The worker may have reserved the queued training before the restart, and then runs it.
        # If it was lost with the broker, the periodic check (fail_stale_trainings) enqueues it again.
        if not held_by_worker():
            make_stale(queued)
            assert adapter_services.fail_stale_trainings()["requeued"] == [queued.pk]
        wait_for(
            lambda: not Adapter.objects.training().exists(),
            timeout=300,
            interval=0.5,
            message="the lost training to run",
        )
    finally:
        worker.stop()

    assert_trained_on_every_image_once(running)
    assert_trained_on_every_image_once(queued)
    assert Adapter.objects.get(pk=queued.pk).training_attempts in (1, 2)
    assert Image.objects.count() == images_before
    assert_nothing_running()


def test_a_worker_killed_while_training_and_running_a_job_on_redis_loses_nothing(owner, broker, tmp_path):
    """SIGKILL with both kinds of work in flight, on the broker production uses (Redis)."""
    adapter = trainable_adapter(owner, "killed")
    first = WorkerProcess(concurrency=2, log_path=tmp_path / "first.log")
    try:
        adapter_services.start_training(user=owner, adapter=adapter)
        job, inputs = start_bulk_job(owner, 60, "killed-with-training")
        wait_for(
            lambda: (
                Lease.objects.filter(key=adapter_services.training_key(adapter.pk)).exists()
                and finished_count(job) >= 3
            ),
            timeout=240,
            interval=0.05,
            message="the training and the first images to be under way",
        )
        first.kill()  # SIGKILL to the worker and its pool children
    finally:
        first.stop()
    at_kill = finished_count(job)
    assert at_kill < len(inputs)
    assert Adapter.objects.get(pk=adapter.pk).status == Adapter.Status.TRAINING_IN_PROGRESS

    second = WorkerProcess(concurrency=2, log_path=tmp_path / "second.log")
    started = time.monotonic()
    try:
        # No periodic check: the worker that starts takes over the dead one's leases (console.leases).
        wait_for(
            lambda: (
                AuditEntry.objects.filter(action="adapter.worker_lost").exists()
                and AuditEntry.objects.filter(action="bulk.worker_lost").exists()
            ),
            timeout=60,
            interval=0.2,
            message="the training and the unit to be taken over",
        )
        resumed = time.monotonic() - started
        wait_for(
            lambda: (
                not BulkAnalysisJob.objects.filter(status__in=RUNNING_JOB).exists()
                and not Adapter.objects.training().exists()
            ),
            timeout=400,
            interval=0.5,
            message="the job and the training to finish",
        )
    finally:
        second.stop()

    assert resumed < 30, f"taken over {resumed:.0f} s after a worker started again"
    assert_every_image_once(job, inputs)
    assert_trained_on_every_image_once(adapter)
    assert_nothing_running()


def test_a_killed_workers_work_is_taken_over_by_a_living_worker_on_redis(
    owner, broker, tmp_path, monkeypatch
):
    """SIGKILL with both kinds of work in flight and no restart: the other worker's beat check
    takes the work over within a lease and a check (shortened here)."""
    taken_over_by_a_living_worker(owner, tmp_path, monkeypatch)


def test_a_killed_workers_work_is_taken_over_by_a_living_worker_on_the_configured_broker(
    owner, tmp_path, monkeypatch
):
    """The same on the suite's own broker: the filesystem broker of the embedded default (and
    Redis again in the stack run)."""
    taken_over_by_a_living_worker(owner, tmp_path, monkeypatch)


def taken_over_by_a_living_worker(owner, tmp_path, monkeypatch) -> None:
    lease_seconds, check_seconds = 6, 2
    monkeypatch.setenv("WORK_LEASE_SECONDS", str(lease_seconds))  # WorkerProcess passes os.environ on
    monkeypatch.setenv("WORK_LEASE_CHECK_SECONDS", str(check_seconds))
    adapter = trainable_adapter(owner, "taken-over")
    key = adapter_services.training_key(adapter.pk)
    # Both workers are ready before the work starts, so that the kill comes while one of them holds
    # the training and a unit, however slowly a busy machine starts a worker.
    workers = [WorkerProcess(concurrency=2, log_path=tmp_path / f"worker{i}.log", beat=True) for i in (1, 2)]

    def holding_both() -> WorkerProcess | None:
        """The worker whose processes hold the training's lease and a unit's at this moment."""
        held: dict[int, set[str]] = {}
        for lease in Lease.objects.filter(key__startswith="bulk:") | Lease.objects.filter(key=key):
            group = process_group(lease.worker)
            held.setdefault(group, set()).add("training" if lease.key == key else "unit")
        return next((w for w in workers if held.get(w.proc.pid) == {"training", "unit"}), None)

    try:
        for worker in workers:
            wait_for(lambda w=worker: log_says(w.log_path, "ready"), timeout=120, message="the workers")
        # The units first: the worker that takes the training then has a unit in its other process.
        job, inputs = start_bulk_job(owner, 300, "taken-over")
        wait_for(
            lambda: Lease.objects.filter(key__startswith="bulk:").exists(),
            timeout=240,
            interval=0.05,
            message="the first unit",
        )
        adapter_services.start_training(user=owner, adapter=adapter)
        victim = wait_for(
            holding_both, timeout=240, interval=0.05, message="a worker to hold the training and a unit"
        )
        victim.kill()
        killed = time.monotonic()
        wait_for(
            lambda: (
                AuditEntry.objects.filter(action="adapter.worker_lost").exists()
                and AuditEntry.objects.filter(action="bulk.worker_lost").exists()
            ),
            timeout=120,
            interval=0.2,
            message="the training and the unit to be taken over",
        )
        taken_over = time.monotonic() - killed
        wait_for(
            lambda: (
                not BulkAnalysisJob.objects.filter(status__in=RUNNING_JOB).exists()
                and not Adapter.objects.training().exists()
            ),
            timeout=400,
            interval=0.5,
            message="the job and the training to finish",
        )
    finally:
        for worker in workers:
            worker.stop()

    # A lease, a check, and the unit each of the living worker's processes finishes before its
    # queue hands it the check: well inside the two minutes (with a lease of minutes).
    assert taken_over < 60, f"taken over after {taken_over:.0f} s"
    assert_every_image_once(job, inputs)
    assert_trained_on_every_image_once(adapter)
    assert_nothing_running()
