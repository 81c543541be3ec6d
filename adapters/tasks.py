"""Celery entry points for adapters: thin, idempotent, the Adapter row is the truth."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready

from adapters import services
from adapters.models import Adapter
from console import leases
from console.backends.base import LEASE_LOST, BackendError
from moderation.manifests import ManifestError

log = logging.getLogger(__name__)

# The local engine trains a few hundred images in minutes; a run longer than this is stuck:
# at the soft limit the training fails with a message, at the hard one the process is killed.
# services.STALE_AFTER (2 h) is longer, so a stale row has no live task. The Redis broker's
# visibility timeout (settings) is longer than both.
TRAINING_TIME_LIMIT = 60 * 60
TRAINING_SOFT_TIME_LIMIT = TRAINING_TIME_LIMIT - 2 * 60
POLL_SOFT_TIME_LIMIT, POLL_TIME_LIMIT = 2 * 60, 3 * 60  # one DescribeProjectVersions
CHECK_SOFT_TIME_LIMIT, CHECK_TIME_LIMIT = 10 * 60, 11 * 60  # the periodic checks (auto-update trains)
MAX_RETRIES = 5  # transient backend errors: waits of 30 s, 60 s, 120 s, 240 s, 480 s
RETRY_BACKOFF_SECONDS = 30
POLL_SECONDS = 60  # how often a remote (aws) training is asked for its status
MAX_POLL_RETRIES = 10


def _backoff(retries: int) -> int:
    return RETRY_BACKOFF_SECONDS * 2**retries


def _retry_or_fail(task, adapter: Adapter, exc: BackendError) -> None:
    """A transient backend error retries the task with backoff; a permanent one, or the last
    retry, fails the training with the backend's message."""
    if exc.retryable and task.request.retries < task.max_retries:
        raise task.retry(exc=exc, countdown=_backoff(task.request.retries)) from exc
    services.fail_training(adapter=adapter, message=exc.message)


def _training(adapter_id: int) -> Adapter | None:
    adapter = Adapter.objects.select_related("project", "created_by").filter(pk=adapter_id).first()
    if adapter is None or adapter.status != Adapter.Status.TRAINING_IN_PROGRESS:
        return None  # deleted, or already finished by an earlier run of this task
    return adapter


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=TRAINING_SOFT_TIME_LIMIT,
    time_limit=TRAINING_TIME_LIMIT,
)
def train_adapter(self, adapter_id: int) -> None:
    """Train an adapter on its frozen manifests. Safe to run twice: it checks the status,
    and a second training of the same manifests writes the same result over the first
    (the same artifact name). Under the training's lease: nothing while a living worker trains it."""
    with leases.hold(services.training_key(adapter_id)) as held:
        if held is None:
            return
        # Delivered again after its worker died (Redis): counted and audited as the periodic check does,
        # so a training that kills its worker each time fails after MAX_TRAINING_ATTEMPTS.
        if (
            held.taken_from
            and services.take_over_training(adapter_id=adapter_id, lease=held.taken_from) != "resumed"
        ):
            return
        _train(self, adapter_id, held)


def _train(task, adapter_id: int, held: leases.Held) -> None:
    adapter = _training(adapter_id)
    if adapter is None:
        return
    if adapter.backend_arn:  # an earlier run already started it remotely
        poll_adapter_training.apply_async((adapter_id,), countdown=POLL_SECONDS)
        return
    try:
        result = services.run_training(adapter=adapter, still_held=lambda: not held.lost.is_set())
    except SoftTimeLimitExceeded:
        services.fail_training(
            adapter=adapter,
            message=f"Training stopped: it ran longer than {TRAINING_SOFT_TIME_LIMIT // 60} minutes. "
            "Train the adapter again with fewer images, or on a worker with more cores.",
        )
        return
    except BackendError as exc:
        if exc.code != LEASE_LOST:  # taken over: the worker that holds the lease now writes the result
            _retry_or_fail(task, adapter, exc)
        return
    except ManifestError as exc:
        services.fail_training(adapter=adapter, message=f"The frozen dataset cannot be read: {exc}")
        return
    except FileNotFoundError:  # permanent: a retry would read the same missing file
        services.fail_training(
            adapter=adapter,
            message="The frozen dataset cannot be read: a manifest of this training is missing from storage. "
            "Train the adapter again to freeze its dataset anew.",
        )
        return
    if result.status == Adapter.Status.TRAINING_IN_PROGRESS:
        poll_adapter_training.apply_async((adapter_id,), countdown=POLL_SECONDS)
    elif not Adapter.objects.filter(pk=adapter_id, status=result.status).exists():
        services.remove_training_files(locations=result.locations or {})  # cancelled meanwhile


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_POLL_RETRIES,
    soft_time_limit=POLL_SOFT_TIME_LIMIT,
    time_limit=POLL_TIME_LIMIT,
)
def poll_adapter_training(self, adapter_id: int) -> None:
    """Ask the backend (DescribeProjectVersions) until the training is final."""
    adapter = _training(adapter_id)
    if adapter is None:
        return
    try:
        result = services.poll_training(adapter=adapter)
    except SoftTimeLimitExceeded:
        poll_adapter_training.apply_async((adapter_id,), countdown=POLL_SECONDS)
        return
    except BackendError as exc:
        _retry_or_fail(self, adapter, exc)
        return
    if result.status == Adapter.Status.TRAINING_IN_PROGRESS:
        poll_adapter_training.apply_async((adapter_id,), countdown=POLL_SECONDS)


@shared_task(soft_time_limit=60, time_limit=90)
def resume_lost_trainings() -> dict:
    """Periodic (beat), and when a worker starts: trainings whose worker died are enqueued again."""
    return services.resume_lost_trainings()


@worker_ready.connect
def _resume_at_start(**_kwargs) -> None:
    # A worker that starts takes over at once what a dead one held (in a pool process).
    resume_lost_trainings.delay()


@shared_task(soft_time_limit=CHECK_SOFT_TIME_LIMIT, time_limit=CHECK_TIME_LIMIT)
def fail_stale_trainings() -> dict:
    """Periodic: trainings whose worker died are polled, enqueued again, or failed with a message."""
    return services.fail_stale_trainings()


@shared_task(soft_time_limit=CHECK_SOFT_TIME_LIMIT, time_limit=CHECK_TIME_LIMIT)
def check_base_model_versions() -> dict:
    """Periodic: deprecate and expire adapters when the base model changes; auto-update retrains."""
    return services.check_base_model_versions()
