"""Bulk analysis jobs as the pages and the API make them: create a job, add its images,
estimate it, start it. Running and finishing it is bulk_analysis.runner's.
"""

from __future__ import annotations

import datetime
import io
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from PIL import Image as PILImage

from adapters.models import Adapter
from bulk_analysis import tasks
from bulk_analysis.models import BulkAnalysisJob, Prediction
from console.backends.base import get_backend
from console.lib import images, s3, storage
from console.models import WorkerHeartbeat, record
from console.validators import validate_confidence, validate_job_name
from moderation import manifests
from moderation.engine import MAX_STORED_BYTES

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Files per upload request, as the AWS console sends them for bulk analysis (spec 4).
UPLOAD_BATCH = 50
MAX_IMAGES = manifests.MAX_LINES  # images per job (spec 4)
# Objects listed under an S3 prefix before its images are counted: room for as many other objects.
MAX_LISTED = 2 * MAX_IMAGES

# The measured per-image time is the median of this many recently analysed images.
ESTIMATE_SAMPLE = 500


# ---------------------------------------------------------------- creating a job


@dataclass
class AddReport:
    added: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)


def _require_created(job: BulkAnalysisJob) -> None:
    job.refresh_from_db(fields=["status"])
    if job.status != BulkAnalysisJob.Status.CREATED:
        raise ValidationError(
            f"Job {job.name!r} has already started: images can no longer be added.", code="in_use"
        )


def _room(job: BulkAnalysisJob, adding: int, what: str) -> int:
    """The next free line number, refusing to go past MAX_IMAGES (called with the job's row locked:
    its total_images is the count of its rows, kept by _count_added)."""
    last = job.predictions.aggregate(last=Max("line"))["last"] or 0
    total = BulkAnalysisJob.objects.values_list("total_images", flat=True).get(pk=job.pk)
    if total + adding > MAX_IMAGES:
        raise ValidationError(
            f"{what}: the job would have {total + adding:,} images; "
            f"a bulk analysis job takes at most {MAX_IMAGES:,}.",
            code="limit",
        )
    return last + 1


def _count_added(job: BulkAnalysisJob, added: int) -> None:
    """A CREATED job's image count, kept with the rows it counts (the Bulk analysis list reads it;
    queue() sets it again from the frozen manifest)."""
    BulkAnalysisJob.objects.filter(pk=job.pk).update(total_images=F("total_images") + added)
    job.total_images += added


def create_job(
    *, user: User, name: str, adapter: Adapter | None = None, min_confidence: float = 50.0
) -> BulkAnalysisJob:
    """A CREATED job with no images yet; add them with add_images (add_files / add_manifest / add_s3_prefix)."""
    validate_job_name(name)
    validate_confidence(min_confidence)
    if adapter is not None and not Adapter.objects.usable().filter(pk=adapter.pk).exists():
        raise ValidationError(
            f"Adapter: {adapter.name!r} is {adapter.get_status_display().lower()}; choose a trained "
            "adapter or the base model.",
            code="not_ready",
        )
    with transaction.atomic():
        job = BulkAnalysisJob.objects.create(
            name=name,
            adapter=adapter,
            adapter_arn=adapter.remote_arn if adapter else "",
            min_confidence=min_confidence,
            created_by=user,
        )
        job.output_prefix = f"{job.folder}/output"
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


def add_images(
    *,
    job: BulkAnalysisJob,
    source: str | None = None,
    s3_uri: str = "",
    manifest: tuple[str, bytes] | None = None,
    files: list[tuple[str, bytes]] | None = None,
) -> AddReport:
    """Images from the chosen source ("s3", "manifest", "computer"; None: whichever is given):
    an S3 prefix, a bulk input manifest (name, bytes), or at most UPLOAD_BATCH uploaded files."""
    if s3_uri and source in (None, "s3"):
        return add_s3_prefix(job=job, uri=s3_uri.strip())
    if manifest and source in (None, "manifest"):
        return add_manifest(job=job, data=manifest[1], name=manifest[0])
    if files:
        if len(files) > UPLOAD_BATCH:
            raise ValidationError(f"Images: send at most {UPLOAD_BATCH} images at a time.", code="limit")
        return add_files(job=job, files=files)
    return AddReport()


def _check_upload(data: bytes) -> images.CheckedImage:
    """An uploaded image through the one intake (console.lib.images), refused first in the words the
    bulk upload page has always used: its size, then whether Pillow reads it as a JPEG or PNG.
    ValueError with the reason."""
    if len(data) > MAX_STORED_BYTES:
        raise ValueError(f"is {len(data):,} bytes; the limit is {MAX_STORED_BYTES // (1024 * 1024)} MB")
    try:
        with PILImage.open(io.BytesIO(data)) as img:
            fmt = img.format
            img.verify()
    except Exception:  # noqa: BLE001 - Pillow raises many types for a bad file
        raise ValueError("is not a readable JPEG or PNG image") from None
    if fmt not in ("JPEG", "MPO", "PNG"):
        raise ValueError(f"is a {fmt} image; only JPEG and PNG are accepted")
    return images.check_image(data)


def add_files(*, job: BulkAnalysisJob, files: list[tuple[str, bytes]]) -> AddReport:
    """Store uploaded images (with a thumbnail each) as the job's next lines.

    A file that is not a JPEG or PNG within the limits is reported by name and skipped.
    """
    _require_created(job)
    report = AddReport()
    stored: list[tuple[str, str]] = []  # (file, thumbnail)
    try:
        for name, data in files:
            if not images.is_image_name(name):
                report.failed.append((name, "is not a .jpg, .jpeg or .png file"))
                continue
            try:
                checked = _check_upload(data)
            except ValueError as exc:  # InvalidImage is a ValueError too
                report.failed.append((name, str(exc)))
                continue
            stored.append(images.store_image(job.images_folder, images.safe_name(name), checked))
        with transaction.atomic():
            BulkAnalysisJob.objects.select_for_update().filter(pk=job.pk).first()
            first = _room(job, len(stored), "Images")
            Prediction.objects.bulk_create(
                Prediction(
                    job=job, line=first + i, source_ref=storage.uri_for(file), file=file, thumbnail=thumb
                )
                for i, (file, thumb) in enumerate(stored)
            )
            _count_added(job, len(stored))
    except BaseException:
        for file, thumb in stored:
            default_storage.delete(file)
            default_storage.delete(thumb)
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
        _count_added(job, len(refs))
    return AddReport(added=len(refs))


def add_manifest(*, job: BulkAnalysisJob, data: bytes, name: str) -> AddReport:
    """Add every line of a bulk input manifest (spec 2.1); refused whole if any line is bad.

    An image that cannot be read is found when it is analysed and reported in the job's
    summary, as AWS does.
    """
    try:
        lines = manifests.read_bulk_input(data, name=name)
    except manifests.ManifestError as exc:
        raise ValidationError(str(exc), code="invalid") from None
    # A key of this console's bucket is a storage name: no absolute path, no "..".
    bad = [
        manifests.LineError(line.line, f"{line.uri}: not a valid object key")
        for line in lines
        if line.bucket == storage.bucket() and (line.key.startswith("/") or ".." in line.key.split("/"))
    ]
    if bad:
        raise ValidationError(str(manifests.ManifestError(name, bad)), code="invalid")
    return _add_refs(job, [(line.bucket, line.key) for line in lines], f"Manifest {name}")


def add_s3_prefix(*, job: BulkAnalysisJob, uri: str) -> AddReport:
    """Add every .jpg/.jpeg/.png object under an s3://bucket/prefix/ (this console's bucket or S3)."""
    try:
        bucket, prefix = s3.parse_prefix(uri)
        keys = [key for key, _ in s3.list_prefix(bucket, prefix, limit=MAX_LISTED + 1)]
    except s3.S3Error as exc:  # the page's field is the S3 prefix: its name starts the message
        raise ValidationError(
            "S3 prefix: " + exc.message.removeprefix("S3 location: "), code="invalid"
        ) from None
    keys = [key for key in keys if images.is_image_name(key)]
    if not keys:
        raise ValidationError(
            f"S3 prefix: there are no .jpg, .jpeg or .png images under {uri}", code="invalid"
        )
    return _add_refs(job, [(bucket, key) for key in keys], f"S3 prefix {uri}")


# ---------------------------------------------------------------- starting a job


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
    recent = cast(
        list[float],  # seconds__isnull=False
        list(
            Prediction.objects.filter(state=Prediction.State.DONE, seconds__isnull=False)
            .order_by("-finished_at")
            .values_list("seconds", flat=True)[:ESTIMATE_SAMPLE]
        ),
    )
    per_image = statistics.median(recent) if recent else backend.default_seconds_per_image
    seen = timezone.now() - datetime.timedelta(minutes=10)
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


def start_job(*, user: User, job: BulkAnalysisJob) -> BulkAnalysisJob:
    """Freeze the input manifest and queue the job (CREATED -> QUEUED); it runs on commit."""
    rows = list(job.predictions.order_by("line").values_list("source_ref", flat=True))
    if not rows:
        raise ValidationError("Add at least one image before starting the analysis.", code="not_ready")
    name = storage.save(f"{job.folder}/input.manifest", manifests.write_bulk_input(rows).encode())
    try:
        with transaction.atomic():
            if not job.queue(input_manifest=name, total_images=len(rows)):
                raise ValidationError(f"Job {job.name!r} has already been started.", code="in_use")
            record(
                user,
                "bulk.start",
                job,
                project=job.adapter.project if job.adapter else None,
                images=len(rows),
            )
            transaction.on_commit(lambda: tasks.run_job.delay(job.pk))
    except BaseException:
        # Not with on_commit inside the block: the refusal rolls that block back, callback and all.
        default_storage.delete(name)
        raise
    return job
