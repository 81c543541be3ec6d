"""Label quality: suspected label errors, and dataset snapshots compared.

Suspected label errors: start a check of an adapter's training labels, run it in the worker,
fix a suspect through the dataset's own undoable, audited labeling.

start_check() creates the LabelCheck row QUEUED and enqueues the task on commit; the task runs
run_check(), which moves the row to RUNNING (a guarded transition: a second delivery does
nothing), reads the images' stored embeddings, asks moderation.engine.label_quality for the
suspects and writes them, then DONE, or FAILED with the reason.

A check holds a console.leases lease while it runs; one whose worker is lost is failed
(lose_check(): when its task is delivered again, or by the periodic fail_lost_checks()).

Pre-labeling: start_prelabel() queues a PreLabelRun with the base model or a trained adapter of
the project; the task runs run_prelabel() under the run's lease, which asks the backend
(detect_moderation_labels_many, as bulk analysis does) about every unlabeled training image and
upserts one LabelSuggestion per image (moderation.suggestions). Suggestions are never labels:
accept_suggestions() gives those at or above a confidence their labels through
adapters.datasets.set_labels, undoable and audited as image.label_suggestion_accept.

Dataset snapshots: read_snapshot() reads an adapter's frozen manifests back (written when it
trained) and compare() hands two of them to moderation.snapshots, which does the diffing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from adapters import datasets
from adapters.models import Adapter, Image
from console import leases
from console.backends import local
from console.backends.base import BackendError, get_backend
from console.lib import storage
from console.models import ImageEmbedding, Lease, record
from moderation import manifests, snapshots, suggestions
from moderation.engine import MAX_STORED_BYTES, EngineError, heads, label_quality
from quality.models import LabelCheck, LabelSuggestion, PreLabelRun, SuspectedLabelError

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from projects.models import Project

log = logging.getLogger(__name__)

READ_BATCH = 500  # images whose stored embeddings one query reads (and one progress step)


def latest_check(*, adapter: Adapter) -> LabelCheck | None:
    return LabelCheck.objects.filter(adapter=adapter).select_related("created_by").first()


def start_check(*, user: User, adapter: Adapter) -> LabelCheck:
    """Queue a check of the adapter's labeled training images; the one already queued or running
    if there is one (a second click starts nothing)."""
    running = LabelCheck.objects.filter(
        adapter=adapter, status__in=[LabelCheck.Status.QUEUED, LabelCheck.Status.RUNNING]
    ).first()
    if running is not None:
        return running
    check = LabelCheck(adapter=adapter, created_by=user)
    with transaction.atomic():
        check.save()
        record(user, "label_check.start", adapter, project=adapter.project, check=check.pk)
        transaction.on_commit(partial(_enqueue, check.pk))
    return check


def _enqueue(check_id: int) -> None:
    from quality.tasks import find_label_errors  # tasks call back into this module: the accepted cycle

    find_label_errors.delay(check_id)


def _progress(check: LabelCheck, done: int) -> None:
    LabelCheck.objects.filter(pk=check.pk, status=LabelCheck.Status.RUNNING).update(done=done)


def _stored(images: list[Image], check: LabelCheck) -> list[tuple[np.ndarray, list[dict]]]:
    """Each image's (embedding, base labels): those training stored (console.models.ImageEmbedding),
    read in batches; an image never embedded is embedded now, and kept, as training does."""
    backend = get_backend()
    analyse = getattr(backend, "analyse", None)
    if analyse is None:
        raise ValueError(
            "this console's backend keeps no image embeddings: finding label errors needs the local engine"
        )
    version = local.embedding_version()
    rows: list[tuple[np.ndarray, list[dict]]] = []
    for start in range(0, len(images), READ_BATCH):
        batch = images[start : start + READ_BATCH]
        found = {
            sha: (np.frombuffer(bytes(vector), dtype="<f4").copy(), labels)
            for sha, vector, labels in ImageEmbedding.objects.filter(
                sha256__in={i.sha256 for i in batch}, model_version=version
            ).values_list("sha256", "vector", "base_labels")
        }
        for image in batch:
            row = found.get(image.sha256)
            if row is None:
                data = storage.read_ref(storage.ref_for(image.file), max_bytes=MAX_STORED_BYTES)
                row = analyse(data, max_bytes=MAX_STORED_BYTES)
            rows.append(row)
        _progress(check, start + len(batch))
    return rows


CHECK_LEASE_PREFIX = "label_check:"


def check_key(check_id: int) -> str:
    """A check's lease (console.leases): the worker running it renews it while it runs."""
    return f"{CHECK_LEASE_PREFIX}{check_id}"


def run_check(*, check_id: int) -> bool:
    """Run one check under its lease; False if it is not QUEUED (done, failed, or taken by another
    worker). Delivered again after its worker died, it fails the check (lose_check()): a check
    is quick to start again, and one that killed its worker would kill the next."""
    with leases.hold(check_key(check_id)) as held:
        if held is None:
            return False
        if held.taken_from is not None:
            lose_check(check_id=check_id, lease=held.taken_from)
            return False
        return _run_check(check_id)


def lose_check(*, check_id: int, lease: Lease) -> bool:
    """Fail a check whose worker was lost, audited as label_check.worker_lost; False if it was
    finished (or another process failed it first)."""
    check = LabelCheck.objects.select_related("adapter__project").filter(pk=check_id).first()
    if check is None:
        return False
    lost_at = min(timezone.now(), lease.expires_at - timedelta(seconds=leases.lease_seconds()))
    with transaction.atomic():
        failed = fail_check(
            check_id=check_id,
            error=f"The worker running the check was lost at {timezone.localtime(lost_at):%H:%M:%S} "
            "(stopped, or out of memory); start the check again.",
        )
        if failed:
            record(
                None,
                "label_check.worker_lost",
                check.adapter,
                project=check.adapter.project,
                check=check.pk,
                worker=lease.worker,
                lost_at=lost_at.isoformat(),
            )
    return failed


def fail_lost_checks() -> list[int]:
    """Checks whose worker is gone (console.leases.take_over_lost), failed with the reason."""
    failed = []
    for lease in leases.take_over_lost(CHECK_LEASE_PREFIX):
        pk = int(lease.key.removeprefix(CHECK_LEASE_PREFIX))
        if lose_check(check_id=pk, lease=lease):
            failed.append(pk)
    return failed


def _run_check(check_id: int) -> bool:
    check = LabelCheck.objects.select_related("adapter").filter(pk=check_id).first()
    if check is None:
        return False
    images = list(
        check.adapter.images.training().labeled().only("pk", "sha256", "file").prefetch_related("labels")
    )
    steps = len(images) + label_quality.FOLDS
    if not check.transition(
        [LabelCheck.Status.QUEUED],
        LabelCheck.Status.RUNNING,
        started_at=timezone.now(),
        images=len(images),
        total=steps,
    ):
        return False
    try:
        rows = _stored(images, check)
        feature_set = heads.FEATURE_SET_V2 if local.engine().v2 else heads.DEFAULT_FEATURE_SET
        suspects = label_quality.find_label_errors(
            [emb for emb, _ in rows],
            [labels for _, labels in rows],
            [image.label_names for image in images],
            feature_set=feature_set,
            progress=lambda fold, folds: _progress(check, len(images) + fold),
        )
    except SoftTimeLimitExceeded:
        raise  # the task writes its own message (fail_check())
    except (BackendError, EngineError, ValueError, OSError) as exc:
        log.warning("label check %s failed: %s", check.pk, exc)
        message = exc.message if isinstance(exc, BackendError | EngineError) else str(exc)
        check.transition(
            [LabelCheck.Status.RUNNING],
            LabelCheck.Status.FAILED,
            error=message[:1000],
            finished_at=timezone.now(),
        )
        return True
    with transaction.atomic():
        # DONE first: a check failed meanwhile (its lease lost) gets no suspects.
        if check.transition(
            [LabelCheck.Status.RUNNING],
            LabelCheck.Status.DONE,
            done=steps,
            found=len(suspects),
            finished_at=timezone.now(),
        ):
            SuspectedLabelError.objects.bulk_create(
                [
                    SuspectedLabelError(
                        label_check=check,
                        image_id=images[s.index].pk,
                        label=s.label,
                        given=s.given,
                        probability=s.probability,
                        score=s.score,
                    )
                    for s in suspects
                ],
                batch_size=1000,
            )
    return True


def fail_check(*, check_id: int, error: str) -> bool:
    """Fail a check not finished yet (its task ran out of time); False if it was finished."""
    check = LabelCheck.objects.filter(pk=check_id).first()
    return check is not None and check.transition(
        [LabelCheck.Status.QUEUED, LabelCheck.Status.RUNNING],
        LabelCheck.Status.FAILED,
        error=error[:1000],
        finished_at=timezone.now(),
    )


def fix_suspect(*, user: User, suspect: SuspectedLabelError) -> int:
    """Give the image what the model expects: add the label, or remove it (an image left with no
    label is marked safe). Through adapters.datasets: audited, and undoable with undo_fix().
    ValidationError if the dataset is frozen or the suspect was fixed already."""
    if suspect.fixed_at is not None:
        raise ValidationError("This image was fixed already", code="fixed")
    image = suspect.image
    images = Image.objects.filter(pk=image.pk)
    token = datasets.save_undo(adapter=image.adapter, images=images)
    if not suspect.given:
        n = datasets.set_labels(user=user, images=images, add=[suspect.label])
    elif set(image.label_names) <= {suspect.label}:
        n = datasets.set_labels(user=user, images=images, safe=True)
    else:
        n = datasets.set_labels(user=user, images=images, remove=[suspect.label])
    SuspectedLabelError.objects.filter(pk=suspect.pk).update(fixed_at=timezone.now(), undo_token=token)
    return n


def undo_fix(*, user: User, suspect: SuspectedLabelError) -> int:
    """Put back the image's labels from before fix_suspect(); ValidationError if there is nothing to undo."""
    if not suspect.undo_token:
        raise ValidationError("Undo: this fix was undone already", code="not_found")
    n = datasets.undo_labels(user=user, adapter=suspect.image.adapter, token=suspect.undo_token)
    SuspectedLabelError.objects.filter(pk=suspect.pk).update(fixed_at=None, undo_token="")
    return n


# ---------------------------------------------------------------- dataset snapshots

IDENTITY_BATCH = 500  # source-refs whose Image rows one query looks up
MANIFEST_SPLITS = ("train", "test")


def frozen_adapters(*, project: Project):
    """The project's adapters whose datasets were frozen (they trained, or tried to), newest first."""
    return (
        Adapter.objects.filter(project=project).exclude(training_manifest="").order_by("-created_at", "-pk")
    )


def manifest_name(*, adapter: Adapter, split: str) -> str:
    """The storage name of the adapter's frozen manifest of `split` ("" if it has none)."""
    return adapter.training_manifest if split == "train" else adapter.testing_manifest


def _identities(project_id: int, refs: list[str]) -> dict[str, str]:
    """source-ref -> the sha256 of the project's Image row stored under it (the same image is
    stored once per dataset, so its refs differ between adapters while its sha256 does not)."""
    prefix = f"s3://{storage.bucket()}/"
    keys = sorted({ref[len(prefix) :] for ref in refs if ref.startswith(prefix)})
    found: dict[str, str] = {}
    for start in range(0, len(keys), IDENTITY_BATCH):
        found.update(
            (prefix + file, sha)
            for file, sha in Image.objects.filter(
                adapter__project_id=project_id, file__in=keys[start : start + IDENTITY_BATCH]
            ).values_list("file", "sha256")
        )
    return found


def _read_manifest(name: str) -> list[manifests.GroundTruthLine]:
    try:
        with default_storage.open(name, "rb") as fh:
            return manifests.read_groundtruth(fh.read(), name=name.rsplit("/", 1)[-1])
    except (FileNotFoundError, OSError) as exc:
        raise ValidationError(f"The frozen manifest {name} is missing from storage", code="missing") from exc
    except manifests.ManifestError as exc:
        raise ValidationError(f"The frozen manifest cannot be read: {exc}", code="invalid") from exc


def read_snapshot(*, adapter: Adapter) -> dict[str, snapshots.Item]:
    """The adapter's frozen dataset, images keyed by sha256 (moderation.snapshots.snapshot): from
    the project's Image rows stored under each source-ref, else the sha256 in the stored name,
    else the ref. ValidationError if it has none or a manifest cannot be read."""
    if not adapter.training_manifest:
        raise ValidationError(f"{adapter.name} has no frozen dataset: it never trained", code="not_frozen")
    train = _read_manifest(adapter.training_manifest)
    test = _read_manifest(adapter.testing_manifest) if adapter.testing_manifest else []
    identity = _identities(adapter.project_id, [line.uri for line in [*train, *test]])
    return snapshots.snapshot(train, test, identity=identity)


def compare(*, before: Adapter, after: Adapter) -> dict:
    """Two adapters' frozen datasets and evaluations side by side (the Compare page's tables)."""
    old, new = read_snapshot(adapter=before), read_snapshot(adapter=after)
    old_scores, new_scores = snapshots.scores(before.evaluation), snapshots.scores(after.evaluation)
    return {
        "before_images": len(old),
        "after_images": len(new),
        "diff": snapshots.diff(old, new),
        "counts": snapshots.count_rows(old, new),
        "before_scores": old_scores,
        "after_scores": new_scores,
        "score_rows": snapshots.score_rows(old_scores, new_scores),
    }


def diff_lines(*, before: Adapter, after: Adapter) -> Iterator[str]:
    """The diff as JSON Lines: one line per changed image (moderation.snapshots.Change.as_json)."""
    result = snapshots.diff(read_snapshot(adapter=before), read_snapshot(adapter=after))
    for change in result.changes:
        yield json.dumps(change.as_json(), ensure_ascii=False, separators=(",", ":")) + "\n"


# ---------------------------------------------------------------- pre-labeling

PRELABEL_BATCH = 50  # images one backend call pipelines, then one upsert and one progress step
PRELABEL_LEASE_PREFIX = "prelabel:"
MAX_PRELABEL_ATTEMPTS = 3  # workers lost on one run before it is failed (a poison image, no memory)


def prelabel_key(run_id: int) -> str:
    """A run's lease (console.leases): the worker running it renews it while it runs."""
    return f"{PRELABEL_LEASE_PREFIX}{run_id}"


def latest_prelabel(*, adapter: Adapter) -> PreLabelRun | None:
    return PreLabelRun.objects.filter(adapter=adapter).first()


def prelabel_sources(*, adapter: Adapter):
    """The trained adapters of the adapter's project that can pre-label it (besides the base model)."""
    return Adapter.objects.usable().filter(project_id=adapter.project_id).order_by("-created_at", "-pk")


def start_prelabel(*, user: User, adapter: Adapter, source: Adapter | None) -> PreLabelRun:
    """Queue a run that suggests labels for the adapter's unlabeled training images with `source`
    (a trained adapter of the same project, or None: the base model); the one already queued or
    running if there is one. ValidationError if the dataset is frozen or the source cannot answer."""
    if adapter.status not in datasets.EDITABLE:
        raise ValidationError("Pre-labeling: this adapter's dataset is frozen", code="frozen")
    if source is not None and not prelabel_sources(adapter=adapter).filter(pk=source.pk).exists():
        raise ValidationError(
            "Pre-label with: choose the base model or a trained adapter of this project", code="invalid"
        )
    running = PreLabelRun.objects.filter(
        adapter=adapter, status__in=[PreLabelRun.Status.QUEUED, PreLabelRun.Status.RUNNING]
    ).first()
    if running is not None:
        return running
    run = PreLabelRun(
        adapter=adapter,
        source=source,
        source_name=source.name if source is not None else "Base model",
        source_arn=source.remote_arn if source is not None else "",
        created_by=user,
    )
    with transaction.atomic():
        run.save()
        record(user, "prelabel.start", adapter, project=adapter.project, run=run.pk, source=run.source_name)
        transaction.on_commit(partial(_enqueue_prelabel, run.pk))
    return run


def _enqueue_prelabel(run_id: int) -> None:
    from quality.tasks import prelabel  # tasks call back into this module: the accepted cycle

    prelabel.delay(run_id)


def _pending(run: PreLabelRun):
    """The run's images still without its suggestion: unlabeled training images."""
    return (
        Image.objects.filter(adapter_id=run.adapter_id, split=Image.Split.TRAIN)
        .filter(label_state=Image.LabelState.UNLABELED)
        .exclude(label_suggestion__run=run)
        .order_by("pk")
    )


def run_prelabel(*, run_id: int) -> bool:
    """Run (or, after a lost worker, resume) one run under its lease; False if it is finished or
    a living worker holds it. Safe to run twice: each image's suggestion is an upsert, and a
    resumed run does only the images it has not done."""
    if not PreLabelRun.objects.filter(
        pk=run_id, status__in=[PreLabelRun.Status.QUEUED, PreLabelRun.Status.RUNNING]
    ).exists():
        return False
    with leases.hold(prelabel_key(run_id)) as held:
        if held is None:
            return False
        run = PreLabelRun.objects.filter(pk=run_id).first()
        if run is None or not run.is_running:
            return False
        if run.status == PreLabelRun.Status.QUEUED:
            run.transition(
                [PreLabelRun.Status.QUEUED],
                PreLabelRun.Status.RUNNING,
                started_at=timezone.now(),
                total=_pending(run).count(),
            )
        elif (
            held.taken_from is not None
            and take_over_prelabel(run_id=run_id, lease=held.taken_from) != "resumed"
        ):
            return False
        return _prelabel(run, lost=held.lost.is_set)


def _prelabel(run: PreLabelRun, *, lost) -> bool:
    backend = get_backend()
    ids = list(_pending(run).values_list("pk", flat=True))
    for start in range(0, len(ids), PRELABEL_BATCH):
        if lost() or not PreLabelRun.objects.filter(pk=run.pk, status=PreLabelRun.Status.RUNNING).exists():
            return True  # taken over by another worker, or failed meanwhile
        batch = list(
            Image.objects.filter(
                pk__in=ids[start : start + PRELABEL_BATCH], label_state=Image.LabelState.UNLABELED
            )
            .only("pk", "file")
            .order_by("pk")
        )
        outcomes = backend.detect_moderation_labels_many(
            images=[storage.ref_for(image.file) for image in batch],
            min_confidence=0.0,  # every label's confidence: a label left out of the answer is a "no"
            adapter_arn=run.source_arn or None,
        )
        rows, errors = [], []
        for image, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, SoftTimeLimitExceeded):
                raise outcome  # the task's limit, met while the engine read this image
            if isinstance(outcome, Exception):
                errors.append(outcome)
                continue
            found = suggestions.suggest(outcome.get("ModerationLabels", []))
            rows.append(
                LabelSuggestion(
                    run=run,
                    image=image,
                    labels=found.labels,
                    scores=found.scores,
                    confidence=found.confidence,
                )
            )
        if errors and not rows:
            # Not one image of the batch answered: the model cannot (a deleted adapter, an engine
            # that will not load), not a bad image. Stop with the first reason.
            first = errors[0]
            message = first.message if isinstance(first, BackendError) else str(first)
            log.warning("pre-labeling %s failed: %s", run.pk, message)
            fail_prelabel(run_id=run.pk, error=f"{run.source_name} could not suggest labels: {message}")
            return True
        with transaction.atomic():
            LabelSuggestion.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["image"],
                update_fields=["run", "labels", "scores", "confidence", "accepted_at", "accepted_by"],
            )
            PreLabelRun.objects.filter(pk=run.pk, status=PreLabelRun.Status.RUNNING).update(
                done=LabelSuggestion.objects.filter(run=run).count(), failed=F("failed") + len(errors)
            )
    run.transition(
        [PreLabelRun.Status.RUNNING],
        PreLabelRun.Status.DONE,
        done=LabelSuggestion.objects.filter(run=run).count(),
        finished_at=timezone.now(),
    )
    return True


def fail_prelabel(*, run_id: int, error: str) -> bool:
    """Fail a run not finished yet; False if it was finished."""
    run = PreLabelRun.objects.filter(pk=run_id).first()
    return run is not None and run.transition(
        [PreLabelRun.Status.QUEUED, PreLabelRun.Status.RUNNING],
        PreLabelRun.Status.FAILED,
        error=error[:1000],
        finished_at=timezone.now(),
    )


def take_over_prelabel(*, run_id: int, lease: Lease) -> str:
    """Count a run taken over from a lost worker and audit it as prelabel.worker_lost: "resumed"
    when it may run again, "failed" after MAX_PRELABEL_ATTEMPTS, "" when it is no longer running
    or another process counted this loss first."""
    run = PreLabelRun.objects.select_related("adapter__project").filter(pk=run_id).first()
    if run is None or not run.is_running:
        return ""
    now = timezone.now()
    lost_at = min(now, lease.expires_at - timedelta(seconds=leases.lease_seconds()))
    if run.attempts + 1 >= MAX_PRELABEL_ATTEMPTS:
        fail_prelabel(
            run_id=run_id,
            error=f"Pre-labeling stopped: the worker running it was lost {run.attempts + 1} times (last "
            f"at {timezone.localtime(lost_at):%H:%M:%S}). Check that a worker is running and has "
            "enough memory, then pre-label again: the images done keep their suggestions.",
        )
        return "failed"
    with transaction.atomic():
        moved = PreLabelRun.objects.filter(
            pk=run_id,
            status__in=[PreLabelRun.Status.QUEUED, PreLabelRun.Status.RUNNING],
            attempts=run.attempts,
        ).update(attempts=F("attempts") + 1)
        if moved:
            record(
                None,
                "prelabel.worker_lost",
                run.adapter,
                project=run.adapter.project,
                run=run.pk,
                worker=lease.worker,
                lost_at=lost_at.isoformat(),
                resumed_at=now.isoformat(),
            )
    return "resumed" if moved else ""


def resume_lost_prelabels() -> dict[str, list[int]]:
    """Runs whose worker is gone (console.leases.take_over_lost): enqueued again, or failed after
    MAX_PRELABEL_ATTEMPTS; each loss audited as prelabel.worker_lost."""
    return leases.resume_lost(
        PRELABEL_LEASE_PREFIX, lambda pk, lease: take_over_prelabel(run_id=pk, lease=lease), _enqueue_prelabel
    )


def suggestions_to_review(*, adapter: Adapter):
    """The suggestions of the adapter's unlabeled training images (the grid's "Suggestions to
    review"): read from the adapter's runs' suggestions, not by probing each of its images."""
    unlabeled = Image.objects.filter(
        pk=OuterRef("image_id"), split=Image.Split.TRAIN, label_state=Image.LabelState.UNLABELED
    )
    runs = PreLabelRun.objects.filter(adapter=adapter).values("pk")
    return LabelSuggestion.objects.filter(run__in=runs).filter(Exists(unlabeled))


def suggestions_to_accept(*, adapter: Adapter, min_confidence: float):
    """The adapter's unlabeled training images whose suggestion is at or above `min_confidence`."""
    return Image.objects.filter(
        adapter=adapter,
        split=Image.Split.TRAIN,
        label_state=Image.LabelState.UNLABELED,
        label_suggestion__confidence__gte=min_confidence,
    )


def accept_suggestions(*, user: User, adapter: Adapter, min_confidence: float) -> tuple[int, str]:
    """Give every unlabeled training image whose suggestion is at or above `min_confidence` its
    suggested labels (none suggested: safe), through adapters.datasets.set_labels, audited as
    image.label_suggestion_accept; returns (images, the undo token of adapters.datasets.save_undo).
    The rest stay suggestions. ValidationError if the dataset is frozen or none is that sure."""
    images = suggestions_to_accept(adapter=adapter, min_confidence=min_confidence)
    groups: dict[tuple[str, ...], list[int]] = {}
    for pk, labels in images.values_list("pk", "label_suggestion__labels"):
        groups.setdefault(tuple(labels or ()), []).append(pk)
    if not groups:
        raise ValidationError(
            f"Suggestions: none is at {min_confidence:g} % confidence or above", code="none"
        )
    ids = [pk for group in groups.values() for pk in group]
    token = datasets.save_undo(adapter=adapter, images=Image.objects.filter(pk__in=ids))
    detail = {"min_confidence": min_confidence}
    with transaction.atomic():
        # One set_labels per distinct suggestion: it gives the same labels to all its images.
        for labels, pks in groups.items():
            datasets.set_labels(
                user=user,
                images=Image.objects.filter(pk__in=pks),
                add=list(labels),
                safe=not labels,
                audit_action="image.label_suggestion_accept",
                audit_detail=detail,
            )
        LabelSuggestion.objects.filter(image_id__in=ids).update(accepted_at=timezone.now(), accepted_by=user)
    return len(ids), token
