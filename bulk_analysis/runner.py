"""Running a queued bulk job: begin it, analyse it in units or poll the backend's bulk job,
record each image's result, and finish or fail it.

The database is the job's truth. A job has one Prediction row per input line, created
before it starts; units (bulk_analysis.tasks.run_unit) move rows pending -> done or failed
with conditional UPDATEs, so running a unit twice changes nothing, and the job finishes (a
guarded transition on its status, BulkAnalysisJob.succeed / fail) when no pending row is left.
The tasks enqueue what begin and resume_stalled say comes Next.
"""

from __future__ import annotations

import datetime
import enum
import logging
import time
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, cast

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from bulk_analysis import histograms
from bulk_analysis.models import BulkAnalysisJob, Prediction
from console import leases
from console.backends.base import BackendError, ImageRef, ModerationBackend, get_backend
from console.lib import images, s3, storage
from console.models import Notification, record
from hashbanks import services as hashbanks
from moderation import manifests, taxonomy
from webhooks import services as webhooks

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

# Input lines one Celery unit analyses: a job's lines split into about UNITS_PER_JOB units of
# MIN_UNIT to MAX_UNIT lines. Several units let several workers share a job; big units waste
# less, as each one costs a broker round trip (up to the filesystem broker's 0.1 s polling) and
# the local engine's pipeline filling and draining (~0.1 s in all, against ~35 ms an image).
# Every image's result is recorded as it comes, so a killed worker loses only the images in
# flight, and progress moves image by image whatever the unit size. 100 local-engine images
# take ~4 s (~30 s through AWS one by one); a 10,000-image job is 100 messages on the broker.
MIN_UNIT, MAX_UNIT, UNITS_PER_JOB = 25, 100, 8
# A running job with pending rows and no finished image for this long is resumed by the
# periodic resume_stalled_jobs task (its units were lost with a killed worker).
STALL_SECONDS = 5 * 60


class Next(enum.StrEnum):
    """What a job needs next: the task that called begin or resume_stalled enqueues it."""

    START = "start"  # still queued: begin it (again)
    POLL = "poll"  # the backend runs it as a bulk job: poll that job
    UNITS = "units"  # analyse its pending units image by image
    DONE = "done"  # nothing: it is finished, failed or gone


# ---------------------------------------------------------------- units


def unit_size(*, job: BulkAnalysisJob) -> int:
    """Lines per unit of this job: fixed once it has started, as its total is."""
    return min(MAX_UNIT, max(MIN_UNIT, -(-(job.total_images or 0) // UNITS_PER_JOB)))


def pending_units(*, job: BulkAnalysisJob) -> list[tuple[int, int]]:
    """(first line, last line) of every unit that still has pending rows."""
    size = unit_size(job=job)
    lines = job.predictions.filter(state=Prediction.State.PENDING).values_list("line", flat=True)
    units = sorted({(line - 1) // size for line in lines})
    return [(u * size + 1, (u + 1) * size) for u in units]


# ---------------------------------------------------------------- starting


def begin(*, job_id: int) -> Next:
    """QUEUED -> IN_PROGRESS and hand the images to the backend.

    Returns Next.POLL (the backend runs a bulk job: poll it), Next.UNITS (analyse image by
    image) or Next.DONE (nothing to do: the job is finished or gone). Safe to run twice: AWS
    gets the same idempotency token, and units skip rows that are done.
    """
    job = BulkAnalysisJob.objects.filter(pk=job_id).first()
    if job is None:
        return Next.DONE
    if job.status == BulkAnalysisJob.Status.QUEUED:
        job.start_running()
        job.refresh_from_db()
    if job.status != BulkAnalysisJob.Status.IN_PROGRESS:
        return Next.DONE
    if job.backend_job_id:
        return Next.POLL
    backend = get_backend()
    if not job.base_model_version:
        job.base_model_version = backend.base_model_version
        job.save(update_fields=["base_model_version"])
    if not job.per_image_fallback:
        refs = [
            ImageRef(*manifests.parse_s3_uri(ref))
            for ref in job.predictions.order_by("line").values_list("source_ref", flat=True)
        ]
        try:
            remote = backend.start_bulk_analysis(
                job_name=job.name,
                images=refs,
                min_confidence=job.min_confidence,
                adapter_arn=job.adapter_arn or None,
                output_prefix=job.output_prefix,
            )
        except BackendError as exc:
            if exc.retryable:
                raise
            fail_job(job=job, code=exc.code, message=exc.message)
            return Next.DONE
        if remote:
            job.backend_job_id = remote
            job.save(update_fields=["backend_job_id"])
            return Next.POLL
        if backend.has_bulk_api:
            # The account was refused bulk analysis: DetectModerationLabels image by image.
            job.per_image_fallback = True
            job.save(update_fields=["per_image_fallback"])
    if not job.predictions.filter(state=Prediction.State.PENDING).exists():
        finish_if_done(job=job)
        return Next.DONE
    return Next.UNITS


# ---------------------------------------------------------------- one image's result


def top_labels(response: dict[str, Any]) -> dict[str, float]:
    """Highest confidence per top-level category in a DetectModerationLabels response."""
    tops: dict[str, float] = {}
    for label in response.get("ModerationLabels") or []:
        name = label.get("Name", "")
        try:
            top = taxonomy.top_level_of(name)
        except taxonomy.UnknownLabel:
            parent = label.get("ParentName") or ""
            if not taxonomy.is_label(parent):
                continue  # a label of another taxonomy version: not shown
            top = taxonomy.top_level_of(parent)
        confidence = round(float(label.get("Confidence", 0.0)), 2)
        tops[top] = max(tops.get(top, 0.0), confidence)
    return tops


def _screen(
    prediction: Prediction, response: dict[str, Any], reader: s3.Reader
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The hash banks' verdicts on this image applied to its response (hashbanks.apply_banks),
    and what to store of them: the fields _record_result writes besides the response."""
    try:
        screening = hashbanks.apply_banks(response=response, data=prediction.read_image(reader))
    except Exception:  # noqa: BLE001 - the banks must not fail an image the backend analysed
        logger.warning(
            "bulk job %s line %s: not looked up in the hash banks", prediction.job_id, prediction.line
        )
        return response, {}
    matches = [match.as_json() for match in screening.matches]
    return screening.response, {"sha256": screening.sha256, "bank_matches": matches}


def _count(job_id: int, *, done: int = 0, failed: int = 0) -> None:
    """Move the job's progress counters (done_images, failed_images) by rows that just left
    pending; in the transaction that moved them, so the counters and the rows always agree."""
    if done or failed:
        BulkAnalysisJob.objects.filter(pk=job_id).update(
            done_images=F("done_images") + done, failed_images=F("failed_images") + failed
        )


def _record_result(
    prediction: Prediction,
    seconds: float | None,
    response: dict[str, Any],
    banks: dict[str, Any] | None = None,
) -> bool:
    tops = top_labels(response)
    response = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    with transaction.atomic():
        moved = Prediction.objects.filter(pk=prediction.pk, state=Prediction.State.PENDING).update(
            state=Prediction.State.DONE,
            response=response,
            top_labels=tops,
            max_confidence=max(tops.values(), default=0.0),
            seconds=seconds,
            finished_at=timezone.now(),
            **(banks or {}),
        )
        _count(prediction.job_id, done=moved)
    return bool(moved)


def _record_failure(prediction: Prediction, code: str, message: str) -> bool:
    with transaction.atomic():
        moved = Prediction.objects.filter(pk=prediction.pk, state=Prediction.State.PENDING).update(
            state=Prediction.State.FAILED,
            error_code=code[:64],
            error_message=message,
            finished_at=timezone.now(),
        )
        _count(prediction.job_id, failed=moved)
    return bool(moved)


def _fail_pending(job: BulkAnalysisJob, code: str, message: str, **lines: int) -> None:
    """Fail the job's rows still pending (of lines line__gte..line__lte when given) with one reason."""
    with transaction.atomic():
        moved = job.predictions.filter(state=Prediction.State.PENDING, **lines).update(
            state=Prediction.State.FAILED,
            error_code=code[:64],
            error_message=message,
            finished_at=timezone.now(),
        )
        _count(job.pk, failed=moved)


# ---------------------------------------------------------------- analysing image by image


def _analysis_image(
    job: BulkAnalysisJob, prediction: Prediction, backend: ModerationBackend, reader: s3.Reader
) -> ImageRef:
    if prediction.file:
        return storage.ref_for(prediction.file)
    bucket, key = manifests.parse_s3_uri(prediction.source_ref)
    if bucket == storage.bucket() or backend.reads_foreign_buckets:
        return ImageRef(bucket, key)
    # The local engine reads only this console's storage: copy the S3 object in once.
    data = prediction.read_image(reader)
    name = storage.save(images.keys(job.images_folder, images.safe_name(key))[0], data)
    if Prediction.objects.filter(pk=prediction.pk, file="").update(file=name):
        prediction.file = name
    else:
        default_storage.delete(name)
        prediction.refresh_from_db(fields=["file"])
    return storage.ref_for(prediction.file)


LEASE_PREFIX = "bulk:"


def unit_key(job_id: int, first_line: int, last_line: int) -> str:
    """The unit's lease (console.leases): the worker analysing it renews it between images."""
    return f"{LEASE_PREFIX}{job_id}:{first_line}-{last_line}"


def parse_unit_key(key: str) -> tuple[int, int, int]:
    job, _, lines = key.removeprefix(LEASE_PREFIX).partition(":")
    first, _, last = lines.partition("-")
    return int(job), int(first), int(last)


def run_unit(*, job_id: int, first_line: int, last_line: int, give_up: bool = False) -> None:
    """Analyse the pending rows of lines first_line..last_line, then finish the job if none remain.

    Under the unit's lease: nothing while a living worker holds it; it stops between images when
    the lease was taken over (this worker was thought dead) or the job was cancelled."""
    job = BulkAnalysisJob.objects.filter(pk=job_id).first()
    if job is None or job.status != BulkAnalysisJob.Status.IN_PROGRESS:
        return
    with leases.hold(unit_key(job_id, first_line, last_line)) as held:
        if held is None:
            return
        backend = get_backend()
        rows = list(
            job.predictions.filter(
                line__gte=first_line, line__lte=last_line, state=Prediction.State.PENDING
            ).order_by("line")
        )
        for prediction in rows:
            prediction.job = job

        def stop() -> bool:
            running = BulkAnalysisJob.objects.filter(pk=job_id, status=BulkAnalysisJob.Status.IN_PROGRESS)
            return held.lost.is_set() or not running.exists()

        _analyse_many(job=job, predictions=rows, backend=backend, give_up=give_up, stop=stop)
    finish_if_done(job=job)


def _analyse_many(
    *,
    job: BulkAnalysisJob,
    predictions: Sequence[Prediction],
    backend: ModerationBackend,
    give_up: bool,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Analyse each pending prediction and record its result or failure, through the backend's pipeline.

    A transient backend error is raised (the unit retries later) unless give_up is set, when it
    is recorded as the image's failure like any other.

    The pipeline analyses the next images while this thread records each result, so an image's
    `seconds` is the time between two results: its share of the worker's time. Another copy of
    the unit running at once costs only work: a row moves out of pending once.
    """
    reader = s3.Reader()  # one S3 client for the unit's objects in other buckets
    items: list[tuple[Prediction, ImageRef]] = []
    for prediction in predictions:
        try:
            items.append((prediction, _analysis_image(job, prediction, backend, reader)))
        except BackendError as exc:
            if exc.retryable and not give_up:
                raise
            _record_failure(prediction, exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - one bad image must not fail the job
            logger.exception("bulk job %s line %s", job.pk, prediction.line)
            _record_failure(prediction, "InternalServerError", f"{prediction.source_ref}: {exc}")
    # Every backend's implementation is a generator: closing it stops the local engine's pipeline.
    outcomes = cast(
        Generator[dict[str, Any] | Exception, None, None],
        backend.detect_moderation_labels_many(
            images=[ref for _, ref in items],
            min_confidence=job.min_confidence,
            adapter_arn=job.adapter_arn or None,
        ),
    )
    try:
        last = time.perf_counter()
        for (prediction, _), outcome in zip(items, outcomes, strict=True):
            if stop():  # between images: the lease was lost or the job cancelled
                return
            now = time.perf_counter()
            seconds, last = round(now - last, 4), now
            if isinstance(outcome, BackendError):
                if outcome.retryable and not give_up:
                    raise outcome
                _record_failure(prediction, outcome.code, outcome.message)
            elif isinstance(outcome, Exception):
                logger.error("bulk job %s line %s", job.pk, prediction.line, exc_info=outcome)
                _record_failure(prediction, "InternalServerError", f"{prediction.source_ref}: {outcome}")
            elif (
                _record_result(prediction, seconds, *_screen(prediction, outcome, reader))
                and not prediction.thumbnail
            ):
                try:
                    prediction.ensure_thumbnail(reader=reader)
                except Exception:  # noqa: BLE001 - a thumbnail is a nicety; the view makes one later
                    logger.warning("no thumbnail for bulk job %s line %s", job.pk, prediction.line)
    finally:
        outcomes.close()


# ---------------------------------------------------------------- the backend's bulk job


def _failure_parts(message: str) -> tuple[str, str]:
    code, _, rest = message.partition(":")
    return (code.strip() or "FAILED", rest.strip()) if rest else ("FAILED", message)


def poll(*, job_id: int) -> bool:
    """Check the backend's bulk job; write its results when it has finished. True when final."""
    job = BulkAnalysisJob.objects.filter(pk=job_id).first()
    if job is None or job.status != BulkAnalysisJob.Status.IN_PROGRESS:
        return True
    status = get_backend().bulk_analysis_status(job_id=job.backend_job_id)
    if status.status in BulkAnalysisJob.RUNNING:
        return False
    if status.status != BulkAnalysisJob.Status.SUCCEEDED:
        code, message = _failure_parts(status.message)
        fail_job(job=job, code=code, message=message)
        return True
    rows = {p.line: p for p in job.predictions.filter(state=Prediction.State.PENDING)}
    reader = s3.Reader()
    for result in status.results:
        prediction = rows.get(result.get("line", 0))  # 0: no such line
        if prediction is None:
            continue
        if manifests.DETECTION in result:
            response = result[manifests.DETECTION]
            _record_result(prediction, None, *_screen(prediction, response, reader))
        else:
            _record_failure(
                prediction, str(result.get("code") or "Unknown"), str(result.get("message") or "")
            )
    # Every image gets exactly one result, even one AWS did not report.
    _fail_pending(job, "MissingResult", "The bulk analysis job returned no result for this line.")
    finish_if_done(job=job)
    return True


# ---------------------------------------------------------------- finishing


def _notify(job: BulkAnalysisJob, message: str, level: str) -> None:
    if job.created_by_id:
        Notification.objects.create(
            user_id=job.created_by_id, message=message, link=f"/bulk-analysis/{job.pk}/", level=level
        )


def fail_job(*, job: BulkAnalysisJob, code: str, message: str) -> bool:
    """QUEUED/IN_PROGRESS -> FAILED; the images not analysed get the job's reason."""
    with transaction.atomic():
        if not job.fail(code, message):
            return False
        _fail_pending(job, code, message)
        job.histograms = job.predictions.histograms()
        job.save(update_fields=["histograms"])
        _notify(job, f"Bulk analysis job {job.name} failed: {message}", "error")
        webhooks.emit(webhooks.Event.BULK_JOB_FAILED, job, job_id=job.job_id, code=code, message=message)
    return True


def finish_if_done(*, job: BulkAnalysisJob) -> bool:
    """When no row is pending: write the results manifest and summary, IN_PROGRESS -> SUCCEEDED.

    The job FAILS only when not a single image could be analysed. Two units finishing at
    once both may write the files; the conditional UPDATE keeps one pair, the other is deleted.
    """
    if job.predictions.filter(state=Prediction.State.PENDING).exists():
        return False
    job.refresh_from_db(fields=["status"])
    if job.status != BulkAnalysisJob.Status.IN_PROGRESS:
        return False
    rows = list(
        job.predictions.order_by("line").values_list(
            "line",
            "source_ref",
            "state",
            "response",
            "error_code",
            "error_message",
            "max_confidence",
            "top_labels",
        )
    )
    _group_near_duplicates(job)
    output = manifests.write_bulk_output(
        (ref, response) for _, ref, state, response, *_ in rows if state == Prediction.State.DONE
    )
    errors: list[dict[str, Any]] = [
        {"line": line, "source-ref": ref, "code": code, "message": message}
        for line, ref, state, _, code, message, *_ in rows
        if state == Prediction.State.FAILED
    ]
    binned = histograms.build((state, conf, tops) for _, _, state, _, _, _, conf, tops in rows)
    summary = manifests.write_summary(len(rows), errors)
    prefix = job.output_prefix or f"{job.folder}/output"
    output_name = storage.save(f"{prefix}/results.manifest", output.encode())
    summary_name = storage.save(f"{prefix}/manifest-summary.json", summary.encode())
    analysed = len(rows) - len(errors)
    with transaction.atomic():
        if analysed:
            partly = f"{len(errors)} of {len(rows)} images could not be analysed; see the summary."
            won = job.succeed(
                output_manifest=output_name,
                summary=summary_name,
                histograms=binned,
                message=partly if errors else "",
            )
        else:
            won = job.fail(
                errors[0]["code"] if errors else "INVALID_MANIFEST",
                "No image could be analysed; the summary gives each image's error.",
                output_manifest=output_name,
                summary=summary_name,
                histograms=binned,
            )
        if won:
            word = "finished" if analysed else "failed"
            event = webhooks.Event.BULK_JOB_SUCCEEDED if analysed else webhooks.Event.BULK_JOB_FAILED
            webhooks.emit(event, job, job_id=job.job_id, images=len(rows), analysed=analysed)
            _notify(
                job,
                f"Bulk analysis job {job.name} {word}: {analysed} of {len(rows)} images analysed.",
                "success" if analysed else "error",
            )
    if not won:
        # On S3 two finishers can save under the same key (its name check is not atomic): the
        # content is the same, so delete only what the winner did not keep.
        job.refresh_from_db(fields=["output_manifest", "summary"])
        for name in {output_name, summary_name} - {job.output_manifest, job.summary}:
            default_storage.delete(name)
    return won


def _group_near_duplicates(job: BulkAnalysisJob) -> None:
    """The job's near-duplicate groups (Prediction.duplicate_group) and its images matched per
    hash bank (BulkAnalysisJob.bank_counts), written before it finishes."""
    done = job.predictions.filter(state=Prediction.State.DONE)
    lines = dict(done.exclude(sha256="").order_by("line").values_list("line", "sha256"))
    hashes = hashbanks.hashes_of(sha256s=lines.values())
    groups = hashbanks.near_duplicate_groups(
        hashes={line: hashes[sha] for line, sha in lines.items() if sha in hashes}
    )
    members: dict[int, list[int]] = {}
    for line, first in groups.items():
        members.setdefault(first, []).append(line)
    with transaction.atomic():
        job.predictions.exclude(duplicate_group=None).update(duplicate_group=None)
        for first, group in members.items():
            job.predictions.filter(line__in=group).update(duplicate_group=first)
    counts: dict[str, int] = {}
    for matches in (
        done.exclude(bank_matches=[]).values_list("bank_matches", flat=True).iterator(chunk_size=2000)
    ):
        for match in matches or []:
            counts[match["bank"]] = counts.get(match["bank"], 0) + 1
    job.bank_counts = counts
    job.save(update_fields=["bank_counts"])


# ---------------------------------------------------------------- stalled jobs


def resume_stalled(*, stalled_seconds: float = STALL_SECONDS) -> list[tuple[BulkAnalysisJob, Next]]:
    """The running jobs that made no progress for stalled_seconds, each with what it needs next.

    A worker killed mid-unit takes its message with it on brokers without redelivery; the
    task puts the job's start, poll or pending units back on the queue (a job with nothing
    pending is finished here). Duplicates are harmless: every step is idempotent.
    """
    cutoff = timezone.now() - datetime.timedelta(seconds=stalled_seconds)
    stalled: list[tuple[BulkAnalysisJob, Next]] = []
    for job in BulkAnalysisJob.objects.filter(
        status__in=[BulkAnalysisJob.Status.QUEUED, BulkAnalysisJob.Status.IN_PROGRESS]
    ):
        last = job.predictions.aggregate(last=Max("finished_at"))["last"]
        moments = [m for m in (last, job.started_at, job.created_at) if m]
        if max(moments) > cutoff:
            continue
        if job.status == BulkAnalysisJob.Status.QUEUED:
            stalled.append((job, Next.START))
        elif job.backend_job_id:
            stalled.append((job, Next.POLL))
        elif pending_units(job=job):
            stalled.append((job, Next.UNITS))
        else:
            finish_if_done(job=job)
            stalled.append((job, Next.DONE))
    return stalled


def resume_lost() -> list[tuple[int, int, int]]:
    """The units whose worker is gone (console.leases.take_over_lost), each (job, first, last) for
    the task to enqueue again; each is in the audit trail as bulk.worker_lost, with when the
    worker was last seen and when its work was put back (the job page shows the latest)."""
    units = []
    now = timezone.now()
    for lease in leases.take_over_lost(LEASE_PREFIX):
        job_id, first, last = parse_unit_key(lease.key)
        job = BulkAnalysisJob.objects.filter(pk=job_id, status=BulkAnalysisJob.Status.IN_PROGRESS).first()
        if job is None:
            continue
        lost_at = min(now, lease.expires_at - datetime.timedelta(seconds=leases.lease_seconds()))
        record(
            None,
            "bulk.worker_lost",
            job,
            project=job.adapter.project if job.adapter else None,
            worker=lease.worker,
            lines=f"{first}-{last}",
            lost_at=lost_at.isoformat(),
            resumed_at=now.isoformat(),
        )
        units.append((job_id, first, last))
    return units


def give_up_unit(*, job_id: int, first_line: int, last_line: int, message: str) -> None:
    """A unit that ran out of time: its pending images fail with the reason; the job finishes."""
    job = BulkAnalysisJob.objects.filter(pk=job_id).first()
    if job is None:
        return
    _fail_pending(job, "TimeLimitExceeded", message, line__gte=first_line, line__lte=last_line)
    finish_if_done(job=job)


CANCELLED = "Cancelled"  # FailureDetails.Code of a cancelled job (AWS has no call to cancel one)


def cancel_job(*, user: User, job: BulkAnalysisJob) -> bool:
    """QUEUED or IN_PROGRESS -> FAILED with code Cancelled, the images not analysed with the same
    reason; a worker running one of its units stops at its next image (run_unit's stop). Nothing
    partial is left: a job's results manifest and summary are written only when it succeeds."""
    message = f"Cancelled by {user.get_username()} at {timezone.localtime():%H:%M:%S}."
    if not fail_job(job=job, code=CANCELLED, message=message):
        return False
    record(user, "bulk.cancel", job, project=job.adapter.project if job.adapter else None)
    return True
