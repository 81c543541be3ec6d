"""Bulk analysis jobs: create a job, add its images, start it, run it in units, finish it.

The database is the job's truth. A job has one Prediction row per input line, created
before it starts; Celery units (bulk_analysis.tasks.run_unit) move rows pending -> done or
failed with conditional UPDATEs, so running a unit twice changes nothing, and the job
finishes (conditional UPDATE on its status) when no pending row is left.
"""

from __future__ import annotations

import hashlib
import io
import logging
import posixpath
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from PIL import Image as PILImage

from adapters.models import Adapter
from bulk_analysis import histograms
from bulk_analysis.models import BulkAnalysisJob, Prediction
from console.backends.base import BackendError, ImageRef, get_backend
from console.lib import storage
from console.models import Notification, WorkerHeartbeat, record
from console.validators import validate_confidence, validate_job_name
from moderation import manifests, taxonomy
from moderation.engine import EngineError, load_image

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
# Files per upload request, as the AWS console sends them for bulk analysis (spec 4).
UPLOAD_BATCH = 50
MAX_IMAGES = manifests.MAX_LINES  # images per job (spec 4)
MAX_IMAGE_BYTES = 15 * 1024 * 1024  # an image in S3 (spec 4)
THUMBNAIL_SIZE = (320, 320)

# The measured per-image time is the median of this many recently analysed images.
ESTIMATE_SAMPLE = 500

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


# ---------------------------------------------------------------- helpers


def _prefix(job: BulkAnalysisJob) -> str:
    return f"bulk-analysis/{job.pk}"


def _safe_name(name: str) -> str:
    base = posixpath.basename(name.replace("\\", "/")) or "image"
    return _UNSAFE.sub("_", base)[-120:]


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(manifests.IMAGE_SUFFIXES)


def _s3():
    """A boto3 S3 client for buckets that are not this console's storage."""
    import boto3

    return boto3.client("s3", region_name=settings.AWS_REGION, endpoint_url=settings.AWS_S3_ENDPOINT_URL)


def check_image(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) of a JPEG or PNG; ValueError with the reason otherwise."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"is {len(data):,} bytes; the limit is {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        with PILImage.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format, img.size
            img.verify()
    except Exception:  # noqa: BLE001 - Pillow raises many types for a bad file
        raise ValueError("is not a readable JPEG or PNG image") from None
    fmt = "JPEG" if fmt == "MPO" else fmt
    if fmt not in ("JPEG", "PNG"):
        raise ValueError(f"is a {fmt} image; only JPEG and PNG are accepted")
    # verify() does not decode: the engine's decoder finds truncated files, sides outside
    # 80-10,000 px and decompression bombs, so a stored image is one the job can analyse.
    try:
        load_image(data, max_bytes=MAX_IMAGE_BYTES)
    except EngineError as exc:
        raise ValueError(exc.message) from None
    return fmt, width, height


def make_thumbnail(data: bytes) -> bytes:
    with PILImage.open(io.BytesIO(data)) as img:
        img = img.convert("RGB")
        img.thumbnail(THUMBNAIL_SIZE)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=80)
        return out.getvalue()


def image_bytes(prediction: Prediction) -> bytes:
    """The bytes of a prediction's image: from this console's storage, or from S3 with boto3."""
    if prediction.file:
        return storage.read_ref(storage.ref_for(prediction.file), max_bytes=MAX_IMAGE_BYTES)
    bucket, key = manifests.parse_s3_uri(prediction.source_ref)
    if bucket == storage.bucket():
        return storage.read_ref(ImageRef(bucket, key), max_bytes=MAX_IMAGE_BYTES)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = _s3().get_object(Bucket=bucket, Key=key)
        if response.get("ContentLength", 0) > MAX_IMAGE_BYTES:
            raise BackendError("ImageTooLargeException", f"{prediction.source_ref} is larger than 15 MB")
        return response["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        raise BackendError("InvalidS3ObjectException", f"{prediction.source_ref}: {exc}") from exc


def ensure_thumbnail(prediction: Prediction, data: bytes | None = None) -> str:
    """The storage name of the prediction's thumbnail, made (once) from its image if missing."""
    if prediction.thumbnail:
        return prediction.thumbnail
    data = data if data is not None else image_bytes(prediction)
    name = storage.save(f"{_prefix(prediction.job)}/thumbnails/{prediction.line}.jpg", make_thumbnail(data))
    if Prediction.objects.filter(pk=prediction.pk, thumbnail="").update(thumbnail=name):
        prediction.thumbnail = name
    else:  # made at the same time by someone else: keep theirs
        default_storage.delete(name)
        prediction.refresh_from_db(fields=["thumbnail"])
    return prediction.thumbnail


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


# ---------------------------------------------------------------- creating a job


@dataclass
class AddReport:
    added: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)


def _require_created(job: BulkAnalysisJob) -> None:
    job.refresh_from_db(fields=["status"])
    if job.status != BulkAnalysisJob.Status.CREATED:
        raise ValidationError(f"Job {job.name!r} has already started: images can no longer be added.")


def _room(job: BulkAnalysisJob, adding: int, what: str) -> int:
    """The next free line number, refusing to go past MAX_IMAGES."""
    last = job.predictions.aggregate(last=Max("line"))["last"] or 0
    if job.predictions.count() + adding > MAX_IMAGES:
        raise ValidationError(
            f"{what}: the job would have {job.predictions.count() + adding:,} images; "
            f"a bulk analysis job takes at most {MAX_IMAGES:,}."
        )
    return last + 1


def create_job(
    *, user, name: str, adapter: Adapter | None = None, min_confidence: float = 50.0
) -> BulkAnalysisJob:
    """A CREATED job with no images yet; add them with add_files / add_manifest / add_s3_prefix."""
    validate_job_name(name)
    validate_confidence(min_confidence)
    if adapter is not None and not Adapter.objects.usable().filter(pk=adapter.pk).exists():
        raise ValidationError(
            f"Adapter: {adapter.name!r} is {adapter.get_status_display().lower()}; choose a trained "
            "adapter or the base model."
        )
    with transaction.atomic():
        job = BulkAnalysisJob.objects.create(
            name=name,
            adapter=adapter,
            adapter_arn=adapter.remote_arn if adapter else "",
            min_confidence=min_confidence,
            created_by=user,
        )
        job.output_prefix = f"{_prefix(job)}/output"
        job.save(update_fields=["output_prefix"])
        record(
            user,
            "bulk.create",
            job,
            project=adapter.project if adapter else None,
            name=name,
            min_confidence=min_confidence,
        )
    return job


def add_files(*, job: BulkAnalysisJob, files: list[tuple[str, bytes]]) -> AddReport:
    """Store uploaded images (with a thumbnail each) as the job's next lines.

    A file that is not a JPEG or PNG within the limits is reported by name and skipped.
    """
    _require_created(job)
    report = AddReport()
    stored: list[tuple[str, str, str]] = []  # (original name, file, thumbnail)
    try:
        for name, data in files:
            if not _is_image_name(name):
                report.failed.append((name, "is not a .jpg, .jpeg or .png file"))
                continue
            try:
                check_image(data)
            except ValueError as exc:
                report.failed.append((name, str(exc)))
                continue
            file = storage.save(f"{_prefix(job)}/images/{_safe_name(name)}", data)
            stored.append((name, file, ""))
            thumb = storage.save(f"{_prefix(job)}/thumbnails/{_safe_name(name)}.jpg", make_thumbnail(data))
            stored[-1] = (name, file, thumb)
        with transaction.atomic():
            BulkAnalysisJob.objects.select_for_update().filter(pk=job.pk).first()
            first = _room(job, len(stored), "Images")
            Prediction.objects.bulk_create(
                Prediction(
                    job=job, line=first + i, source_ref=storage.uri_for(file), file=file, thumbnail=thumb
                )
                for i, (_, file, thumb) in enumerate(stored)
            )
    except BaseException:
        for _, file, thumb in stored:
            for name in (file, thumb):
                if name:
                    default_storage.delete(name)
        raise
    report.added = len(stored)
    return report


def _add_refs(job: BulkAnalysisJob, refs: list[tuple[str, str]], what: str) -> AddReport:
    """Prediction rows for (bucket, key) pairs; images in our storage keep their storage name."""
    _require_created(job)
    ours = storage.bucket()
    with transaction.atomic():
        BulkAnalysisJob.objects.select_for_update().filter(pk=job.pk).first()
        first = _room(job, len(refs), what)
        Prediction.objects.bulk_create(
            Prediction(
                job=job,
                line=first + i,
                source_ref=f"s3://{bucket}/{key}",
                file=key if bucket == ours else "",
            )
            for i, (bucket, key) in enumerate(refs)
        )
    return AddReport(added=len(refs))


def add_manifest(*, job: BulkAnalysisJob, data: bytes, name: str) -> AddReport:
    """Add every line of a bulk input manifest (spec 2.1); refused whole if any line is bad.

    An image that cannot be read is found when it is analysed and reported in the job's
    summary, as AWS does.
    """
    try:
        lines = manifests.read_bulk_input(data, name=name)
    except manifests.ManifestError as exc:
        raise ValidationError(str(exc)) from None
    # A key of this console's bucket is a storage name: no absolute path, no "..".
    bad = [
        manifests.LineError(line.line, f"{line.uri}: not a valid object key")
        for line in lines
        if line.bucket == storage.bucket() and (line.key.startswith("/") or ".." in line.key.split("/"))
    ]
    if bad:
        raise ValidationError(str(manifests.ManifestError(name, bad)))
    return _add_refs(job, [(line.bucket, line.key) for line in lines], f"Manifest {name}")


def _list_prefix(bucket: str, prefix: str) -> list[str]:
    if bucket == storage.bucket():
        keys: list[str] = []
        folder = prefix.rstrip("/")

        def walk(path: str) -> None:
            try:
                dirs, files = default_storage.listdir(path)
            except (FileNotFoundError, NotADirectoryError):
                return
            for f in files:
                keys.append(f"{path}/{f}" if path else f)
            for d in dirs:
                walk(f"{path}/{d}" if path else d)

        # "photos/" walks photos/; "photos/cat" walks photos/ and keeps keys starting with it.
        walk(folder if prefix.endswith("/") or not folder else posixpath.dirname(folder))
        return sorted(k for k in keys if k.startswith(prefix))
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        pages = _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = []
        for page in pages:
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
            if len(keys) > MAX_IMAGES * 2:
                break
        return keys
    except (BotoCoreError, ClientError) as exc:
        raise ValidationError(f"S3 prefix: could not list s3://{bucket}/{prefix}: {exc}") from exc


def add_s3_prefix(*, job: BulkAnalysisJob, uri: str) -> AddReport:
    """Add every .jpg/.jpeg/.png object under an s3://bucket/prefix/ (this console's bucket or S3)."""
    match = re.fullmatch(r"s3://([0-9A-Za-z.\-_]{3,255})/?(.*)", uri.strip())
    if not match:
        raise ValidationError(f"S3 prefix: {uri!r} is not an s3://bucket/prefix/ URI")
    bucket, prefix = match.group(1), match.group(2)
    if prefix.startswith("/") or ".." in prefix.split("/"):
        raise ValidationError(f"S3 prefix: {uri!r} is not a valid prefix")
    keys = [k for k in _list_prefix(bucket, prefix) if _is_image_name(k)]
    if not keys:
        raise ValidationError(f"S3 prefix: there are no .jpg, .jpeg or .png images under {uri}")
    return _add_refs(job, [(bucket, key) for key in keys], f"S3 prefix {uri}")


@dataclass
class Estimate:
    images: int
    seconds: float
    seconds_per_image: float
    measured: bool  # False: the default for the backend, nothing measured yet
    workers: int
    cost_usd: float | None  # None: no charge (local backend)


def estimate(*, images: int) -> Estimate:
    """How long `images` take on this deployment, and what they cost on AWS at list price."""
    backend = get_backend()
    recent = list(
        Prediction.objects.filter(state=Prediction.State.DONE, seconds__isnull=False)
        .order_by("-finished_at")
        .values_list("seconds", flat=True)[:ESTIMATE_SAMPLE]
    )
    per_image = statistics.median(recent) if recent else backend.default_seconds_per_image
    seen = timezone.now() - timezone.timedelta(minutes=10)
    workers = WorkerHeartbeat.objects.filter(seen_at__gte=seen).count() or 1
    return Estimate(
        images=images,
        seconds=images * per_image / workers,
        seconds_per_image=per_image,
        measured=bool(recent),
        workers=workers,
        cost_usd=None
        if backend.price_per_image_usd is None
        else round(images * backend.price_per_image_usd, 4),
    )


def start_job(*, user, job: BulkAnalysisJob) -> BulkAnalysisJob:
    """Freeze the input manifest and queue the job (CREATED -> QUEUED); it runs on commit."""
    from bulk_analysis import tasks

    rows = list(job.predictions.order_by("line").values_list("source_ref", flat=True))
    if not rows:
        raise ValidationError("Add at least one image before starting the analysis.")
    name = storage.save(f"{_prefix(job)}/input.manifest", manifests.write_bulk_input(rows).encode())
    with transaction.atomic():
        if not job.transition(
            [BulkAnalysisJob.Status.CREATED],
            BulkAnalysisJob.Status.QUEUED,
            total_images=len(rows),
            input_manifest=name,
        ):
            transaction.on_commit(lambda: default_storage.delete(name))
            raise ValidationError(f"Job {job.name!r} has already been started.")
        record(
            user,
            "bulk.start",
            job,
            project=job.adapter.project if job.adapter else None,
            images=len(rows),
        )

        def enqueue() -> None:
            result = tasks.run_job.delay(job.pk)
            BulkAnalysisJob.objects.filter(pk=job.pk).update(task_id=result.id or "")

        transaction.on_commit(enqueue)
    return job


# ---------------------------------------------------------------- running a job


def unit_size(job: BulkAnalysisJob) -> int:
    """Lines per unit of this job: fixed once it has started, as its total is."""
    return min(MAX_UNIT, max(MIN_UNIT, -(-(job.total_images or 0) // UNITS_PER_JOB)))


def pending_units(job: BulkAnalysisJob) -> list[tuple[int, int]]:
    """(first line, last line) of every unit that still has pending rows."""
    size = unit_size(job)
    lines = job.predictions.filter(state=Prediction.State.PENDING).values_list("line", flat=True)
    units = sorted({(line - 1) // size for line in lines})
    return [(u * size + 1, (u + 1) * size) for u in units]


def begin(*, job_id: int) -> str:
    """QUEUED -> IN_PROGRESS and hand the images to the backend.

    Returns "poll" (the backend runs a bulk job: poll it), "units" (analyse image by image)
    or "" (nothing to do: the job is finished or gone). Safe to run twice: AWS gets the same
    idempotency token, and units skip rows that are done.
    """
    job = BulkAnalysisJob.objects.filter(pk=job_id).first()
    if job is None:
        return ""
    if job.status == BulkAnalysisJob.Status.QUEUED:
        job.transition(
            [BulkAnalysisJob.Status.QUEUED],
            BulkAnalysisJob.Status.IN_PROGRESS,
            started_at=timezone.now(),
        )
        job.refresh_from_db()
    if job.status != BulkAnalysisJob.Status.IN_PROGRESS:
        return ""
    if job.backend_job_id:
        return "poll"
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
            fail_job(job, exc.code, exc.message)
            return ""
        if remote:
            job.backend_job_id = remote
            job.save(update_fields=["backend_job_id"])
            return "poll"
        if backend.has_bulk_api:
            # The account was refused bulk analysis: DetectModerationLabels image by image.
            job.per_image_fallback = True
            job.save(update_fields=["per_image_fallback"])
    if not job.predictions.filter(state=Prediction.State.PENDING).exists():
        finish_if_done(job)
        return ""
    return "units"


def _record_result(prediction: Prediction, response: dict[str, Any], seconds: float | None) -> bool:
    tops = top_labels(response)
    response = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    return bool(
        Prediction.objects.filter(pk=prediction.pk, state=Prediction.State.PENDING).update(
            state=Prediction.State.DONE,
            response=response,
            top_labels=tops,
            max_confidence=max(tops.values(), default=0.0),
            seconds=seconds,
            finished_at=timezone.now(),
        )
    )


def _record_failure(prediction: Prediction, code: str, message: str) -> bool:
    return bool(
        Prediction.objects.filter(pk=prediction.pk, state=Prediction.State.PENDING).update(
            state=Prediction.State.FAILED,
            error_code=code[:64],
            error_message=message,
            finished_at=timezone.now(),
        )
    )


def _analysis_image(job: BulkAnalysisJob, prediction: Prediction, backend) -> ImageRef:
    if prediction.file:
        return storage.ref_for(prediction.file)
    bucket, key = manifests.parse_s3_uri(prediction.source_ref)
    if bucket == storage.bucket() or backend.reads_foreign_buckets:
        return ImageRef(bucket, key)
    # The local engine reads only this console's storage: copy the S3 object in once.
    data = image_bytes(prediction)
    name = storage.save(f"{_prefix(job)}/images/{_safe_name(key)}", data)
    if Prediction.objects.filter(pk=prediction.pk, file="").update(file=name):
        prediction.file = name
    else:
        default_storage.delete(name)
        prediction.refresh_from_db(fields=["file"])
    return storage.ref_for(prediction.file)


def run_unit(*, job_id: int, first_line: int, last_line: int, give_up: bool = False) -> None:
    """Analyse the pending rows of lines first_line..last_line, then finish the job if none remain."""
    job = BulkAnalysisJob.objects.filter(pk=job_id).first()
    if job is None or job.status != BulkAnalysisJob.Status.IN_PROGRESS:
        return
    backend = get_backend()
    rows = list(
        job.predictions.filter(
            line__gte=first_line, line__lte=last_line, state=Prediction.State.PENDING
        ).order_by("line")
    )
    for prediction in rows:
        prediction.job = job
    _analyse_many(job=job, predictions=rows, backend=backend, give_up=give_up)
    finish_if_done(job)


def _analyse_many(*, job: BulkAnalysisJob, predictions: list[Prediction], backend, give_up: bool) -> None:
    """Analyse each pending prediction and record its result or failure, through the backend's pipeline.

    A transient backend error is raised (the unit retries later) unless give_up is set, when it
    is recorded as the image's failure like any other.

    The pipeline analyses the next images while this thread records each result, so an image's
    `seconds` is the time between two results: its share of the worker's time. Another copy of
    the unit running at once costs only work: a row moves out of pending once.
    """
    items: list[tuple[Prediction, ImageRef]] = []
    for prediction in predictions:
        try:
            items.append((prediction, _analysis_image(job, prediction, backend)))
        except BackendError as exc:
            if exc.retryable and not give_up:
                raise
            _record_failure(prediction, exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - one bad image must not fail the job
            logger.exception("bulk job %s line %s", job.pk, prediction.line)
            _record_failure(prediction, "InternalServerError", f"{prediction.source_ref}: {exc}")
    outcomes = backend.detect_moderation_labels_many(
        images=[ref for _, ref in items],
        min_confidence=job.min_confidence,
        adapter_arn=job.adapter_arn or None,
    )
    try:
        last = time.perf_counter()
        for (prediction, _), outcome in zip(items, outcomes, strict=True):
            now = time.perf_counter()
            seconds, last = round(now - last, 4), now
            if isinstance(outcome, BackendError):
                if outcome.retryable and not give_up:
                    raise outcome
                _record_failure(prediction, outcome.code, outcome.message)
            elif isinstance(outcome, Exception):
                logger.error("bulk job %s line %s", job.pk, prediction.line, exc_info=outcome)
                _record_failure(prediction, "InternalServerError", f"{prediction.source_ref}: {outcome}")
            elif _record_result(prediction, outcome, seconds) and not prediction.thumbnail:
                try:
                    ensure_thumbnail(prediction)
                except Exception:  # noqa: BLE001 - a thumbnail is a nicety; the view makes one later
                    logger.warning("no thumbnail for bulk job %s line %s", job.pk, prediction.line)
    finally:
        outcomes.close()


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
        fail_job(job, code, message)
        return True
    rows = {p.line: p for p in job.predictions.filter(state=Prediction.State.PENDING)}
    for result in status.results:
        prediction = rows.get(result.get("line"))
        if prediction is None:
            continue
        if manifests.DETECTION in result:
            _record_result(prediction, result[manifests.DETECTION], None)
        else:
            _record_failure(
                prediction, str(result.get("code") or "Unknown"), str(result.get("message") or "")
            )
    # Every image gets exactly one result, even one AWS did not report.
    job.predictions.filter(state=Prediction.State.PENDING).update(
        state=Prediction.State.FAILED,
        error_code="MissingResult",
        error_message="The bulk analysis job returned no result for this line.",
        finished_at=timezone.now(),
    )
    finish_if_done(job)
    return True


def _notify(job: BulkAnalysisJob, message: str, level: str) -> None:
    if job.created_by_id:
        Notification.objects.create(
            user_id=job.created_by_id, message=message, link=f"/bulk-analysis/{job.pk}/", level=level
        )


def fail_job(job: BulkAnalysisJob, code: str, message: str) -> bool:
    """QUEUED/IN_PROGRESS -> FAILED; the images not analysed get the job's reason."""
    with transaction.atomic():
        if not job.transition(
            [BulkAnalysisJob.Status.QUEUED, BulkAnalysisJob.Status.IN_PROGRESS],
            BulkAnalysisJob.Status.FAILED,
            failure_code=code[:32],
            status_message=message,
            completed_at=timezone.now(),
        ):
            return False
        job.predictions.filter(state=Prediction.State.PENDING).update(
            state=Prediction.State.FAILED,
            error_code=code[:64],
            error_message=message,
            finished_at=timezone.now(),
        )
        job.histograms = compute_histograms(job)
        job.save(update_fields=["histograms"])
        _notify(job, f"Bulk analysis job {job.name} failed: {message}", "error")
    return True


def finish_if_done(job: BulkAnalysisJob) -> bool:
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
    output = manifests.write_bulk_output(
        (ref, response) for _, ref, state, response, *_ in rows if state == Prediction.State.DONE
    )
    errors = [
        {"line": line, "source-ref": ref, "code": code, "message": message}
        for line, ref, state, _, code, message, *_ in rows
        if state == Prediction.State.FAILED
    ]
    binned = histograms.build((state, conf, tops) for _, _, state, _, _, _, conf, tops in rows)
    summary = manifests.write_summary(len(rows), errors)
    prefix = job.output_prefix or f"{_prefix(job)}/output"
    output_name = storage.save(f"{prefix}/results.manifest", output.encode())
    summary_name = storage.save(f"{prefix}/manifest-summary.json", summary.encode())
    analysed = len(rows) - len(errors)
    if analysed:
        target, code, message = BulkAnalysisJob.Status.SUCCEEDED, "", ""
        if errors:
            message = f"{len(errors)} of {len(rows)} images could not be analysed; see the summary."
    else:
        target, code = BulkAnalysisJob.Status.FAILED, (errors[0]["code"] if errors else "INVALID_MANIFEST")
        message = "No image could be analysed; the summary gives each image's error."
    with transaction.atomic():
        won = job.transition(
            [BulkAnalysisJob.Status.IN_PROGRESS],
            target,
            completed_at=timezone.now(),
            output_manifest=output_name,
            summary=summary_name,
            failure_code=code[:32],
            status_message=message,
            histograms=binned,
        )
        if won:
            word = "finished" if target == BulkAnalysisJob.Status.SUCCEEDED else "failed"
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


def resume_stalled(*, stalled_seconds: float = STALL_SECONDS) -> list[int]:
    """Re-enqueue the work of running jobs that made no progress for stalled_seconds.

    A worker killed mid-unit takes its message with it on brokers without redelivery; this
    puts the job's pending units (or its poll, or its start) back on the queue. Duplicates
    are harmless: every step is idempotent.
    """
    from bulk_analysis import tasks

    cutoff = timezone.now() - timezone.timedelta(seconds=stalled_seconds)
    resumed = []
    for job in BulkAnalysisJob.objects.filter(
        status__in=[BulkAnalysisJob.Status.QUEUED, BulkAnalysisJob.Status.IN_PROGRESS]
    ):
        last = job.predictions.aggregate(last=Max("finished_at"))["last"]
        moments = [m for m in (last, job.started_at, job.created_at) if m]
        if max(moments) > cutoff:
            continue
        resumed.append(job.pk)
        if job.status == BulkAnalysisJob.Status.QUEUED:
            tasks.run_job.delay(job.pk)
        elif job.backend_job_id:
            tasks.poll_job.delay(job.pk)
        else:
            units = pending_units(job)
            if not units:
                finish_if_done(job)
            for first, last_line in units:
                tasks.run_unit.delay(job.pk, first, last_line)
    return resumed


# ---------------------------------------------------------------- reading a job


def progress(job: BulkAnalysisJob) -> dict[str, int]:
    """Done, failed and pending counts (COUNT queries on the state index)."""
    from django.db.models import Count, Q

    counts = job.predictions.aggregate(
        total=Count("pk"),
        done=Count("pk", filter=Q(state=Prediction.State.DONE)),
        failed=Count("pk", filter=Q(state=Prediction.State.FAILED)),
    )
    counts["finished"] = counts["done"] + counts["failed"]
    counts["pending"] = counts["total"] - counts["finished"]
    counts["percent"] = round(100 * counts["finished"] / counts["total"]) if counts["total"] else 0
    return counts


def compute_histograms(job: BulkAnalysisJob) -> dict[str, Any]:
    """The job's confidences binned at 0.1 (bulk_analysis.histograms), read from its predictions."""
    rows = job.predictions.order_by().values_list("state", "max_confidence", "top_labels")
    return histograms.build(rows.iterator(chunk_size=2000))


def job_histograms(job: BulkAnalysisJob) -> dict[str, Any]:
    """The histograms stored when the job finished; computed from the rows while it has none."""
    return job.histograms if job.histograms is not None else compute_histograms(job)


def finished_progress(binned: dict[str, Any]) -> dict[str, int]:
    """progress() of a finished job, from its histograms instead of a COUNT over its predictions."""
    total, done, failed = binned["total"], binned["done"], binned["failed"]
    finished = done + failed
    return {
        "total": total,
        "done": done,
        "failed": failed,
        "finished": finished,
        "pending": total - finished,
        "percent": round(100 * finished / total) if total else 0,
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
