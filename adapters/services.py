"""Adapter training, its results, deprecation and deletion.

Training freezes the dataset: start_training writes the training and test manifests
to storage and keeps their names on the adapter; the task trains from those files,
never from the Image rows, so later label edits do not change what was trained.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from adapters.datasets import dataset_blockers
from adapters.models import Adapter, Image, expiry_from
from console import leases
from console.backends.base import (
    BackendError,
    ImageRef,
    ManifestEntry,
    TrainingSpec,
    TrainingStatus,
    get_backend,
)
from console.lib import storage
from console.models import Notification, record
from console.validators import (
    MAX_TAGS,
    validate_confidence,
    validate_description,
    validate_kms_key_id,
    validate_tags,
)
from moderation import manifests
from webhooks import services as webhooks

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from console.models import Lease
    from projects.models import Project  # a type only: adapters sits below projects

log = logging.getLogger(__name__)

# A training run older than this has no live task: the train task's hard time limit
# (adapters.tasks.TRAINING_TIME_LIMIT, 1 h) is shorter, so its worker is gone.
STALE_AFTER = timedelta(hours=2)
# The stale check enqueues a run again this many times in all before it fails it.
MAX_TRAINING_ATTEMPTS = 2

_TRAINABLE = (Adapter.Status.DRAFT, Adapter.Status.TRAINING_FAILED)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------ creation


def create_adapter(
    *, user: User | None, project: Project, name: str, description: str = "", copy_from: Adapter | None = None
) -> Adapter:
    """A new draft adapter (a dataset to label) in a project."""
    if project.adapters.filter(name=name).exists():
        raise ValidationError(
            f"Adapter name: project {project.name!r} already has an adapter named {name!r}", code="exists"
        )
    adapter = Adapter(
        project=project,
        name=name,
        description=description,
        arn=Adapter.build_arn(project.name, name),
        copied_from=copy_from,
        created_by=user,
    )
    adapter.full_clean()
    with transaction.atomic():
        adapter.save()
        record(user, "adapter.create", adapter, project=project, name=name)
    return adapter


# ------------------------------------------------------------------ tags (of adapters and of projects)


def add_tags(*, user: User | None, obj: Project | Adapter, tags: dict[str, str]) -> dict[str, str]:
    """Add tags to a project or an adapter, replacing the values of keys it has (TagResource).

    The new tags are checked as AWS checks them; more than MAX_TAGS in all is refused with
    code "limit". Returns the tags the object has now.
    """
    validate_tags(tags)
    merged = {**obj.tags, **tags}
    if len(merged) > MAX_TAGS:
        raise ValidationError(
            f"Tags: a resource can have at most {MAX_TAGS} tags (this would make {len(merged)})", code="limit"
        )
    _save_tags(user, obj, merged, "tags.add", keys=sorted(tags))
    return merged


def remove_tags(*, user: User | None, obj: Project | Adapter, keys: Iterable[str]) -> dict[str, str]:
    """Remove tags from a project or an adapter by key (UntagResource); keys it lacks are ignored.
    Returns the tags the object has now."""
    keys = list(keys)
    remaining = {k: v for k, v in obj.tags.items() if k not in set(keys)}
    _save_tags(user, obj, remaining, "tags.remove", keys=sorted(keys))
    return remaining


def _save_tags(
    user: User | None, obj: Project | Adapter, tags: dict[str, str], action: str, **detail: Any
) -> None:
    obj.tags = tags
    obj.save(update_fields=["tags"])
    # A project's entry is filed under the project itself (Project is a type only here).
    record(user, action, obj, project=obj.project if isinstance(obj, Adapter) else obj, **detail)


# ------------------------------------------------------------------ training


def _dataset(adapter: Adapter) -> tuple[list[tuple[str, list[str]]], list[tuple[str, list[str]]]]:
    """(training, test) as (uri, labels) pairs of the labeled images; test is [] for autosplit.

    Images with split "test" (from a test manifest) are the test set; unlabeled ones are left out.
    """
    train: list[tuple[str, list[str]]] = []
    test: list[tuple[str, list[str]]] = []
    images = adapter.images.labeled().prefetch_related("labels").order_by("id")
    for image in images:
        labels = [] if image.label_state == Image.LabelState.SAFE else sorted(image.label_names)
        item = (storage.uri_for(image.file), labels)
        (test if image.split == Image.Split.TEST else train).append(item)
    return train, test


def training_blockers(*, adapter: Adapter) -> list[str]:
    """Why this adapter cannot be trained now, in words; empty when it can.

    The dataset rules (unlabeled images, the backend's minimum training and test set sizes)
    are adapters.datasets.dataset_blockers, which the labeling page shows too; on top of
    them, the engine refuses a label that every training image has.
    """
    if adapter.status not in _TRAINABLE:
        return [
            f"the adapter is {adapter.get_status_display().lower()}: only a draft or a failed adapter can be trained"
        ]
    blockers = dataset_blockers(adapter)
    train, _ = _dataset(adapter)
    names = sorted({name for _, labels in train for name in labels})
    for name in names:
        if all(name in labels for _, labels in train):
            blockers.append(
                f"every training image is labeled {name}: add images without it (safe ones) so the adapter "
                "can tell them apart"
            )
    return blockers


def start_training(
    *,
    user: User | None,
    adapter: Adapter,
    confidence_threshold: float = 50.0,
    tags: dict[str, str] | None = None,
    kms_key_id: str = "",
    description: str | None = None,
) -> Adapter:
    """Freeze the dataset into manifests, move to TRAINING_IN_PROGRESS and enqueue the training task."""
    tags = tags or {}
    validate_confidence(confidence_threshold, "Confidence threshold")
    validate_tags(tags)
    validate_kms_key_id(kms_key_id)
    if description is not None:
        validate_description(description)
    blockers = training_blockers(adapter=adapter)
    if blockers:
        raise ValidationError(
            [ValidationError(f"Training cannot start: {b}", code="not_ready") for b in blockers]
        )
    train, test = _dataset(adapter)
    written = [
        storage.save(f"adapters/{adapter.pk}/train.manifest", manifests.write_groundtruth(train).encode())
    ]
    if test:
        written.append(
            storage.save(f"adapters/{adapter.pk}/test.manifest", manifests.write_groundtruth(test).encode())
        )
    try:
        with transaction.atomic():
            _begin(
                adapter,
                training_manifest=written[0],
                testing_manifest=written[1] if test else "",
                confidence_threshold=float(confidence_threshold),
                tags=tags,
                kms_key_id=kms_key_id,
                description=adapter.description if description is None else description,
            )
            record(
                user,
                "adapter.train",
                adapter,
                project=adapter.project,
                training_images=len(train),
                test_images=len(test),
                confidence_threshold=float(confidence_threshold),
                tags=tags,
                kms_key_id=kms_key_id,
            )
    except Exception:
        for name in written:
            default_storage.delete(name)
        raise
    return adapter


def _begin(adapter: Adapter, *, training_manifest: str, testing_manifest: str, **fields: Any) -> None:
    """DRAFT/TRAINING_FAILED -> TRAINING_IN_PROGRESS on frozen manifests; enqueue on commit."""
    locations = {"training_data": storage.uri_for(training_manifest)}
    if testing_manifest:
        locations["testing_data"] = storage.uri_for(testing_manifest)
    moved = adapter.transition(
        _TRAINABLE,
        Adapter.Status.TRAINING_IN_PROGRESS,
        training_manifest=training_manifest,
        testing_manifest=testing_manifest,
        test_data=Adapter.TestData.MANIFEST if testing_manifest else Adapter.TestData.AUTOSPLIT,
        training_started_at=timezone.now(),
        training_ended_at=None,
        training_seconds=None,
        training_attempts=1,
        status_message="",
        evaluation=None,
        f1_score=None,
        test_results=[],
        locations=locations,
        backend_arn="",
        base_model_version=get_backend().base_model_version,
        expires_at=None,
        **fields,
    )
    if not moved:
        adapter.refresh_from_db(fields=["status"])
        raise ValidationError(
            f"Training cannot start: the adapter is {adapter.get_status_display().lower()}", code="in_use"
        )
    pk = adapter.pk
    transaction.on_commit(lambda: _enqueue_training(pk))


def _enqueue_training(adapter_id: int) -> None:
    # Imported here: adapters.tasks imports this module (the service -> task enqueue cycle).
    from adapters.tasks import train_adapter

    train_adapter.delay(adapter_id)


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as fh:
        return fh.read()


def training_spec(*, adapter: Adapter) -> TrainingSpec:
    """The backend's TrainingSpec, read back from the adapter's frozen manifests."""

    def entries(name: str) -> list[ManifestEntry]:
        lines = manifests.read_groundtruth(_read(name), name=storage.uri_for(name))
        return [ManifestEntry(ImageRef(line.bucket, line.key), list(line.labels)) for line in lines]

    return TrainingSpec(
        project_arn=adapter.project.remote_arn,
        adapter_arn=adapter.arn,
        version_name=adapter.name,
        training=entries(adapter.training_manifest),
        testing=entries(adapter.testing_manifest) if adapter.testing_manifest else None,
        confidence_threshold=adapter.confidence_threshold,
        description=adapter.description,
        tags=dict(adapter.tags),
        kms_key_id=adapter.kms_key_id,
        output_prefix=f"adapters/{adapter.pk}/output",
    )


def run_training(*, adapter: Adapter, still_held: Callable[[], bool] | None = None) -> TrainingStatus:
    """Train through the backend. A final result is stored; TRAINING_IN_PROGRESS (aws) keeps the ARN to poll.

    Raises BackendError (the caller retries the retryable ones) and manifests.ManifestError.
    """
    backend = get_backend()
    spec = training_spec(adapter=adapter)
    spec.still_held = still_held
    result = backend.start_training(spec=spec)
    if result.status == Adapter.Status.TRAINING_IN_PROGRESS:
        Adapter.objects.filter(pk=adapter.pk, status=Adapter.Status.TRAINING_IN_PROGRESS).update(
            backend_arn=result.adapter_arn if result.adapter_arn != adapter.arn else "",
            locations={**adapter.locations, **result.locations},
        )
        adapter.backend_arn = result.adapter_arn if result.adapter_arn != adapter.arn else ""
        return result
    finish_training(adapter=adapter, result=result)
    return result


def poll_training(*, adapter: Adapter) -> TrainingStatus:
    """Ask the backend how a remote training is going; store it when final."""
    result = get_backend().training_status(
        project_arn=adapter.project.remote_arn, adapter_arn=adapter.remote_arn, version_name=adapter.name
    )
    if result.status != Adapter.Status.TRAINING_IN_PROGRESS:
        finish_training(adapter=adapter, result=result)
    return result


def finish_training(*, adapter: Adapter, result: TrainingStatus) -> None:
    """Store a final training result and tell the person who created the adapter."""
    if result.status == Adapter.Status.TRAINING_FAILED:
        fail_training(
            adapter=adapter, message=result.message or "the backend reported TRAINING_FAILED without a reason"
        )
        return
    with transaction.atomic():
        completed = adapter.mark_completed(result)
        if completed:  # the worker, not a person: no user on the audit entry
            record(
                None,
                "adapter.training_completed",
                adapter,
                project=adapter.project,
                f1_score=adapter.f1_score,
            )
            webhooks.emit(webhooks.Event.ADAPTER_TRAINING_COMPLETED, adapter, f1_score=adapter.f1_score)
    if completed:
        f1 = f", F1 score {adapter.f1_score:.2f}" if adapter.f1_score is not None else ""
        notify(adapter=adapter, message=f"Adapter {adapter.name} finished training{f1}.", level="success")


def fail_training(*, adapter: Adapter, message: str) -> None:
    with transaction.atomic():
        failed = adapter.mark_failed(message)
        if failed:
            record(None, "adapter.training_failed", adapter, project=adapter.project, message=message[:500])
            webhooks.emit(webhooks.Event.ADAPTER_TRAINING_FAILED, adapter, message=message[:500])
    if failed:
        notify(adapter=adapter, message=f"Adapter {adapter.name} failed to train: {message}", level="error")


def notify(*, adapter: Adapter, message: str, level: str = "info") -> None:
    """A notification in the console, and an e-mail when the person has an address."""
    user = adapter.created_by
    if user is None:
        return
    link = reverse("adapters-detail", args=[adapter.pk])
    Notification.objects.create(user=user, message=message[:500], link=link, level=level)
    if user.email:
        try:
            send_mail(f"[Moderation console] {message[:120]}", f"{message}\n\n{link}\n", None, [user.email])
        except Exception:  # noqa: BLE001 - a mail server being down must not fail a training
            log.exception("could not e-mail %s about adapter %s", user.email, adapter.pk)


def fail_stale_trainings(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Finish or fail TRAINING_IN_PROGRESS rows whose task is gone (a worker that died).

    A run started more than STALE_AFTER ago: on a backend that trains remotely and has an
    ARN, poll it; otherwise enqueue it again (up to MAX_TRAINING_ATTEMPTS), then fail it.
    """
    now = now or timezone.now()
    done: dict[str, list[int]] = {"polled": [], "requeued": [], "failed": []}
    stale = (
        Adapter.objects.training().filter(training_started_at__lt=now - STALE_AFTER).select_related("project")
    )
    for adapter in stale:
        if adapter.backend_arn:
            try:
                poll_training(adapter=adapter)
            except BackendError as exc:
                if not exc.retryable:
                    fail_training(adapter=adapter, message=exc.message)
            done["polled"].append(adapter.pk)
        elif adapter.training_attempts < MAX_TRAINING_ATTEMPTS:
            with transaction.atomic():
                moved = Adapter.objects.filter(
                    pk=adapter.pk,
                    status=Adapter.Status.TRAINING_IN_PROGRESS,
                    training_attempts=adapter.training_attempts,
                ).update(training_attempts=F("training_attempts") + 1, training_started_at=now)
                if moved:
                    pk = adapter.pk
                    transaction.on_commit(partial(_enqueue_training, pk))
                    done["requeued"].append(pk)
        else:
            fail_training(
                adapter=adapter,
                message=f"Training stopped: the worker running it stopped {_plural(adapter.training_attempts, 'time')} "
                f"without finishing (no result after {STALE_AFTER}). Check that a worker is running "
                "and has enough memory, then train the adapter again.",
            )
            done["failed"].append(adapter.pk)
    return done


def cancel_training(*, user: User, adapter: Adapter) -> bool:
    """TRAINING_IN_PROGRESS -> TRAINING_FAILED with "Cancelled by ..." (AWS has no call to stop a
    training: the API shows TRAINING_FAILED with that StatusMessage). The training's files written
    so far are removed; a worker still training it discards its result (remove_training_files)."""
    message = f"Cancelled by {user.get_username()} at {timezone.localtime():%H:%M:%S}."
    with transaction.atomic():
        cancelled = adapter.mark_failed(message)
        if cancelled:
            record(user, "adapter.training_cancel", adapter, project=adapter.project)
            # The adapter ends TRAINING_FAILED like any failed training (a cancelled bulk job
            # sends bulk_job.failed the same way).
            webhooks.emit(webhooks.Event.ADAPTER_TRAINING_FAILED, adapter, message=message)
    if cancelled:
        remove_training_files(locations=adapter.locations)
    return cancelled


def remove_training_files(*, locations: dict[str, str]) -> None:
    """Delete the files of a training that did not complete (those in this console's storage)."""
    prefix = f"s3://{storage.bucket()}/"
    for key in ("artifact", "evaluation", "train_output", "test_output"):  # not the frozen manifests
        uri = locations.get(key)
        if isinstance(uri, str) and uri.startswith(prefix):
            default_storage.delete(uri.removeprefix(prefix))


TRAINING_LEASE_PREFIX = "training:"


def training_key(adapter_id: int) -> str:
    """A training's lease (console.leases): the worker training it renews it while it trains."""
    return f"{TRAINING_LEASE_PREFIX}{adapter_id}"


def resume_lost_trainings() -> dict[str, list[int]]:
    """Trainings whose worker is gone (its lease ran out, or its process on this host died):
    enqueued again up to MAX_TRAINING_ATTEMPTS, then failed; each loss is in the audit trail as
    adapter.worker_lost with when the worker was last seen and when the training was put back."""
    return leases.resume_lost(
        TRAINING_LEASE_PREFIX,
        lambda pk, lease: take_over_training(adapter_id=pk, lease=lease),
        _enqueue_training,
    )


def take_over_training(*, adapter_id: int, lease: Lease) -> str:
    """Count a training taken over from a lost worker (the periodic check's, or a task delivered
    again after its worker died) and audit it as adapter.worker_lost: "resumed" when it may run
    again, "failed" when it had MAX_TRAINING_ATTEMPTS already, "" when it is no longer training or
    another process counted this loss first."""
    adapter = Adapter.objects.training().filter(pk=adapter_id).select_related("project").first()
    if adapter is None:
        return ""
    now = timezone.now()
    lost_at = min(now, lease.expires_at - timedelta(seconds=leases.lease_seconds()))
    if adapter.training_attempts >= MAX_TRAINING_ATTEMPTS:
        fail_training(
            adapter=adapter,
            message=f"Training stopped: the worker running it was lost "
            f"{_plural(adapter.training_attempts, 'time')} (last at {lost_at:%H:%M:%S}). Check that "
            "a worker is running and has enough memory, then train the adapter again.",
        )
        return "failed"
    with transaction.atomic():
        moved = Adapter.objects.filter(
            pk=adapter_id,
            status=Adapter.Status.TRAINING_IN_PROGRESS,
            training_attempts=adapter.training_attempts,
        ).update(training_attempts=F("training_attempts") + 1)
        if moved:
            record(
                None,
                "adapter.worker_lost",
                adapter,
                project=adapter.project,
                worker=lease.worker,
                lost_at=lost_at.isoformat(),
                resumed_at=now.isoformat(),
            )
    return "resumed" if moved else ""


# ------------------------------------------------------------------ deprecation


def _auto_name(adapter: Adapter) -> str:
    base = re.sub(r"-auto-\d+$", "", adapter.name)[:240]
    n = 1
    while adapter.project.adapters.filter(name=f"{base}-auto-{n}").exists():
        n += 1
    return f"{base}-auto-{n}"


def retrain_frozen(*, adapter: Adapter) -> Adapter:
    """A new adapter version trained on `adapter`'s frozen dataset (auto-update)."""
    new = create_adapter(
        user=None,
        project=adapter.project,
        name=_auto_name(adapter),
        description=adapter.description,
        copy_from=adapter,
    )
    train = storage.save(f"adapters/{new.pk}/train.manifest", _read(adapter.training_manifest))
    test = (
        storage.save(f"adapters/{new.pk}/test.manifest", _read(adapter.testing_manifest))
        if adapter.testing_manifest
        else ""
    )
    with transaction.atomic():
        _begin(
            new,
            training_manifest=train,
            testing_manifest=test,
            confidence_threshold=adapter.confidence_threshold,
            tags=dict(adapter.tags),
            kms_key_id=adapter.kms_key_id,
        )
        Adapter.objects.filter(pk=new.pk).update(created_by=adapter.created_by)
        new.created_by = adapter.created_by
        record(None, "adapter.auto_update", new, project=adapter.project, retrained_from=adapter.pk)
    return new


def _deprecate(adapter: Adapter, now: datetime, message: str) -> bool:
    return adapter.transition(
        [Adapter.Status.TRAINING_COMPLETED],
        Adapter.Status.DEPRECATED,
        expires_at=expiry_from(now),
        status_message=message,
    )


def _expire(adapter: Adapter, message: str) -> bool:
    return adapter.transition(
        [Adapter.Status.TRAINING_COMPLETED, Adapter.Status.DEPRECATED],
        Adapter.Status.EXPIRED,
        status_message=message,
    )


def check_base_model_versions(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Mark adapters as AWS marks them when the base model changes; auto-update retrains them.

    local: an adapter trained on another version than the engine's is DEPRECATED (expiring
    after expiry_from); aws: DescribeProjectVersions says DEPRECATED or EXPIRED. A
    DEPRECATED adapter past its expiry date becomes EXPIRED.
    """
    now = now or timezone.now()
    backend = get_backend()
    done: dict[str, list[int]] = {"deprecated": [], "expired": [], "retrained": []}
    for adapter in Adapter.objects.filter(status=Adapter.Status.DEPRECATED, expires_at__lt=now):
        if _expire(
            adapter, "Expired: it is ignored and the base model answers instead. Train a new adapter."
        ):
            done["expired"].append(adapter.pk)
    usable = Adapter.objects.usable().select_related("project", "created_by")
    if backend.reports_adapter_lifecycle:
        for adapter in usable.exclude(backend_arn=""):
            try:
                result = backend.training_status(
                    project_arn=adapter.project.remote_arn,
                    adapter_arn=adapter.remote_arn,
                    version_name=adapter.name,
                )
            except BackendError as exc:
                log.warning("base model check of adapter %s: %s", adapter.pk, exc)
                continue
            if result.status == Adapter.Status.DEPRECATED and _deprecate(adapter, now, result.message):
                done["deprecated"].append(adapter.pk)
            elif result.status == Adapter.Status.EXPIRED and _expire(adapter, result.message):
                done["expired"].append(adapter.pk)
    else:
        current = backend.base_model_version
        for adapter in usable.filter(status=Adapter.Status.TRAINING_COMPLETED).exclude(
            base_model_version=current
        ):
            message = (
                f"Trained on base model {adapter.base_model_version}; the engine now runs {current}. "
                f"It expires on {expiry_from(now):%Y-%m-%d}."
            )
            if _deprecate(adapter, now, message):
                done["deprecated"].append(adapter.pk)
    for adapter in Adapter.objects.filter(pk__in=done["deprecated"]).select_related("project", "created_by"):
        webhooks.emit(webhooks.Event.ADAPTER_DEPRECATED, adapter, message=adapter.status_message)
        notify(
            adapter=adapter,
            message=f"Adapter {adapter.name} is deprecated: {adapter.status_message}",
            level="error",
        )
        if adapter.project.auto_update and adapter.training_manifest:
            try:
                done["retrained"].append(retrain_frozen(adapter=adapter).pk)
            except (ValidationError, OSError) as exc:
                log.warning("auto-update of adapter %s: %s", adapter.pk, exc)
    return done


# ------------------------------------------------------------------ deletion


def _files_of(adapter: Adapter) -> list[str]:
    """Stored files only this adapter uses: its images (unless another adapter shares them) and its folder."""
    names = set()
    for image in adapter.images.all():
        for name in (image.file, image.thumbnail):
            if name and not Image.objects.exclude(adapter=adapter).filter(file=name).exists():
                names.add(name)
    names.update(n for n in (adapter.training_manifest, adapter.testing_manifest) if n)

    def walk(folder: str) -> None:
        try:
            dirs, files = default_storage.listdir(folder)
        except (FileNotFoundError, OSError):
            return
        names.update(f"{folder}/{f}" for f in files)
        for d in dirs:
            walk(f"{folder}/{d}")

    walk(f"adapters/{adapter.pk}")
    return sorted(names)


def delete_adapter(*, user: User | None, adapter: Adapter) -> None:
    """Delete an adapter (refused while it trains): DELETING, the backend's copy, its files, then the row."""
    if adapter.status == Adapter.Status.TRAINING_IN_PROGRESS:
        raise ValidationError(
            f"Adapter {adapter.name!r} is training: wait until training ends, then delete it.", code="in_use"
        )
    previous = adapter.status
    others = [
        s
        for s in Adapter.Status.values
        if s not in (Adapter.Status.TRAINING_IN_PROGRESS, Adapter.Status.DELETING)
    ]
    if not adapter.transition(others, Adapter.Status.DELETING):
        raise ValidationError(
            f"Adapter {adapter.name!r} is being deleted or has started training.", code="in_use"
        )
    if previous != Adapter.Status.DRAFT:
        try:
            get_backend().delete_adapter(adapter_arn=adapter.remote_arn)
        except BackendError as exc:
            if exc.code != "ResourceNotFoundException":
                adapter.transition([Adapter.Status.DELETING], previous)
                raise ValidationError(
                    f"The moderation backend refused to delete the adapter: {exc.message}"
                ) from exc
    files = _files_of(adapter)
    with transaction.atomic():
        record(
            user,
            "adapter.delete",
            adapter,
            project=adapter.project,
            name=adapter.name,
            arn=adapter.remote_arn,
        )
        adapter.delete()
    for name in files:
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("could not delete %s of a deleted adapter", name)
