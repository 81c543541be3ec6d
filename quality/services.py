"""Label quality: suspected label errors, and dataset snapshots compared.

Suspected label errors: start a check of an adapter's training labels, run it in the worker,
fix a suspect through the dataset's own undoable, audited labeling.

start_check() creates the LabelCheck row QUEUED and enqueues the task on commit; the task runs
run_check(), which moves the row to RUNNING (a guarded transition: a second delivery does
nothing), reads the images' stored embeddings, asks moderation.engine.label_quality for the
suspects and writes them, then DONE, or FAILED with the reason.

Dataset snapshots: read_snapshot() reads an adapter's frozen manifests back (written when it
trained) and compare() hands two of them to moderation.snapshots, which does the diffing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from adapters import datasets
from adapters.models import Adapter, Image
from console.backends import local
from console.backends.base import BackendError, get_backend
from console.lib import storage
from console.models import ImageEmbedding, record
from moderation import manifests, snapshots
from moderation.engine import MAX_STORED_BYTES, EngineError, heads, label_quality
from quality.models import LabelCheck, SuspectedLabelError

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


def run_check(*, check_id: int) -> bool:
    """Run one check; False if it is not QUEUED (done, failed, or taken by another worker)."""
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
        check.transition(
            [LabelCheck.Status.RUNNING], LabelCheck.Status.DONE, done=steps, finished_at=timezone.now()
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
