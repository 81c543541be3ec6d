from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models
from django.utils import timezone

from adapters.models import Adapter
from bulk_analysis import histograms
from console.backends.base import BackendError
from console.lib import images, s3, storage
from console.transitions import GuardedTransitions
from console.validators import validate_confidence, validate_job_name
from moderation import manifests
from moderation.engine import MAX_STORED_BYTES


class BulkAnalysisJob(GuardedTransitions, models.Model):
    """A bulk analysis job. Its states and the verbs that move it (each a guarded conditional
    UPDATE that returns whether this call made the move, so two workers cannot both):

        CREATED --queue--> QUEUED --start_running--> IN_PROGRESS --succeed--> SUCCEEDED
        QUEUED or IN_PROGRESS --fail--> FAILED

    bulk_analysis.services queues a job; bulk_analysis.runner runs, finishes and fails it.
    """

    class Status(models.TextChoices):
        CREATED = "CREATED", "Created"
        QUEUED = "QUEUED", "Queued"
        IN_PROGRESS = "IN_PROGRESS", "In progress"
        SUCCEEDED = "SUCCEEDED", "Succeeded"
        FAILED = "FAILED", "Failed"

    RUNNING = (Status.CREATED, Status.QUEUED, Status.IN_PROGRESS)

    job_id = models.CharField(max_length=64, unique=True, default=uuid.uuid4)  # JobId in the API
    name = models.CharField(max_length=64, validators=[validate_job_name])
    adapter = models.ForeignKey(
        Adapter, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    adapter_arn = models.CharField(max_length=2048, blank=True)  # kept if the adapter is deleted
    min_confidence = models.FloatField(default=50.0, validators=[validate_confidence])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    status_message = models.TextField(blank=True)
    failure_code = models.CharField(max_length=32, blank=True)  # FailureDetails.Code
    backend_job_id = models.CharField(max_length=128, blank=True)  # AWS's JobId on the aws backend
    # True when the aws backend refused bulk analysis and the job ran image by image.
    per_image_fallback = models.BooleanField(default=False)
    base_model_version = models.CharField(max_length=32, blank=True)
    input_manifest = models.CharField(max_length=1024, blank=True)  # storage names
    output_manifest = models.CharField(max_length=1024, blank=True)
    summary = models.CharField(max_length=1024, blank=True)
    output_prefix = models.CharField(max_length=800, blank=True)
    total_images = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The predictions' confidences binned at 0.1 (bulk_analysis.histograms), stored when the job
    # finishes: the results and verify pages count from these, not from 50,000 rows.
    histograms = models.JSONField(null=True, blank=True)
    BIG_COLUMNS = ("histograms",)  # up to ~45 KB: left out of the admin's lists (ListAdmin)
    # Images that matched each hash bank, {bank name: count}, written when the job finishes.
    bank_counts = models.JSONField(default=dict, blank=True)
    # Analysed images flagged at the job's minimum confidence, stored with the histograms when it
    # finishes (the Bulk analysis list shows it without counting the predictions).
    flagged_images = models.PositiveIntegerField(null=True, blank=True)
    # Images analysed and images failed so far, moved in the same transaction as each row's state
    # (bulk_analysis.runner): a running job's progress reads these, not a COUNT of its predictions.
    done_images = models.PositiveIntegerField(default=0)
    failed_images = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_running(self) -> bool:
        return self.status in self.RUNNING

    @property
    def folder(self) -> str:
        """Where the job's files are stored: its images, thumbnails, input manifest and results."""
        return f"bulk-analysis/{self.pk}"

    @property
    def images_folder(self) -> str:
        """The folder of its images and, under it, their thumbnails (console.lib.images.keys)."""
        return f"{self.folder}/images"

    def queue(self, *, input_manifest: str, total_images: int) -> bool:
        """CREATED -> QUEUED, with its input manifest frozen."""
        return self.transition(
            [self.Status.CREATED],
            self.Status.QUEUED,
            total_images=total_images,
            input_manifest=input_manifest,
        )

    def start_running(self) -> bool:
        """QUEUED -> IN_PROGRESS."""
        return self.transition([self.Status.QUEUED], self.Status.IN_PROGRESS, started_at=timezone.now())

    def succeed(
        self, *, output_manifest: str, summary: str, histograms: dict[str, Any], message: str = ""
    ) -> bool:
        """IN_PROGRESS -> SUCCEEDED, with its results manifest, summary and histograms."""
        return self.transition(
            [self.Status.IN_PROGRESS],
            self.Status.SUCCEEDED,
            completed_at=timezone.now(),
            output_manifest=output_manifest,
            summary=summary,
            histograms=histograms,
            flagged_images=self.flagged_in(histograms),
            failure_code="",
            status_message=message,
        )

    def fail(
        self,
        code: str,
        message: str,
        *,
        output_manifest: str = "",
        summary: str = "",
        histograms: dict[str, Any] | None = None,
    ) -> bool:
        """QUEUED or IN_PROGRESS -> FAILED, with FailureDetails' code and message; the results
        when it ran to the end and not one image could be analysed (none yet otherwise)."""
        return self.transition(
            [self.Status.QUEUED, self.Status.IN_PROGRESS],
            self.Status.FAILED,
            completed_at=timezone.now(),
            output_manifest=output_manifest,
            summary=summary,
            histograms=histograms,
            flagged_images=self.flagged_in(histograms),
            failure_code=code[:32],
            status_message=message,
        )

    def flagged_in(self, binned: dict[str, Any] | None) -> int | None:
        """Analysed images flagged at the job's minimum confidence, by its histograms (as the
        job's page counts them at its threshold); None without histograms."""
        if binned is None:
            return None
        return histograms.at_least(binned["max"], self.clamp_threshold(self.min_confidence))

    def clamp_threshold(self, value) -> float:
        """A threshold asked for in a request: never below the job's minimum confidence (its
        predictions hold nothing under it), on the 0.1 grid its histograms count exactly."""
        try:
            threshold = float(value)
        except (TypeError, ValueError):
            threshold = self.min_confidence
        return round(min(100.0, max(self.min_confidence, threshold)), 1)


class PredictionQuerySet(models.QuerySet):
    def histograms(self) -> dict[str, Any]:
        """These predictions' confidences binned at 0.1 (bulk_analysis.histograms)."""
        rows = self.order_by().values_list("state", "max_confidence", "top_labels")
        return histograms.build(rows.iterator(chunk_size=2000))


class Prediction(models.Model):
    """One image of a job (one input manifest line) and what the backend returned for it."""

    class State(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    job = models.ForeignKey(BulkAnalysisJob, on_delete=models.CASCADE, related_name="predictions")
    line = models.PositiveIntegerField()  # 1-based line of the input manifest
    source_ref = models.CharField(max_length=1100)
    file = models.CharField(max_length=1024, blank=True)  # storage name, when the file is ours
    thumbnail = models.CharField(max_length=1024, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    response = models.JSONField(null=True, blank=True)  # the DetectModerationLabels response
    # Highest confidence per top-level label, for the threshold slider and the filters.
    top_labels = models.JSONField(default=dict, blank=True)
    max_confidence = models.FloatField(default=0.0)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Wall time of this image's analysis: the measured per-image time behind the start page's estimate.
    seconds = models.FloatField(null=True, blank=True)
    # The image's content (its PDQ hash is hashbanks.models.ImageHash's), the hash banks it matched
    # (hashbanks.services.BankMatch.as_json, already applied to `response`), and its group of
    # near-duplicates in the job: the line of the group's first image (None: no near-duplicate).
    sha256 = models.CharField(max_length=64, blank=True)
    bank_matches = models.JSONField(default=list, blank=True)
    duplicate_group = models.PositiveIntegerField(null=True, blank=True)

    objects = PredictionQuerySet.as_manager()

    class Meta:
        ordering = ["line"]
        constraints = [
            # Exactly one result per image: workers upsert on (job, line).
            models.UniqueConstraint(fields=["job", "line"], name="prediction_unique_line"),
        ]
        indexes = [
            # The job's pending units, and the results grid's flagged, unflagged and failed tabs:
            # filtered by state and paged in line order straight off the index (no sort of
            # every flagged row of the job; bulk_analysis.queries.filtered_predictions).
            models.Index(fields=["job", "state", "line"], name="prediction_state_line_idx"),
            # "Least sure first" (verification.models.in_order): the confidences at and above the
            # threshold upward and those below it downward, ties by line, each read straight
            # off an index up to the page asked for (a job's images without a label all tie).
            models.Index(fields=["job", "max_confidence", "line"], name="prediction_conf_line_idx"),
            models.Index(fields=["job", "-max_confidence", "line"], name="prediction_conf_down_idx"),
            # The verify page's near-duplicate groups: a group's size, and its images.
            models.Index(fields=["job", "duplicate_group"], name="prediction_duplicates_idx"),
            # The admin's filters (bulk_analysis/admin.py): one state's or error's, newest first.
            models.Index(fields=["state", "id"], name="prediction_admin_state_idx"),
            models.Index(fields=["error_code", "id"], name="prediction_admin_error_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job.name} line {self.line}"

    def read_image(self, reader: s3.Reader | None = None) -> bytes:
        """The bytes of its image, from this console's storage or from S3; BackendError if unreadable."""
        if self.file:
            return storage.read_ref(storage.ref_for(self.file), max_bytes=MAX_STORED_BYTES)
        bucket, key = manifests.parse_s3_uri(self.source_ref)
        try:
            return (reader or s3.Reader()).read(bucket, key, max_bytes=MAX_STORED_BYTES)
        except s3.S3Error as exc:
            raise BackendError(exc.code, exc.message) from None

    def ensure_thumbnail(self, *, reader: s3.Reader | None = None) -> str:
        """The storage name of its thumbnail, made (once) from its image if missing.

        BackendError if the image cannot be read, InvalidImage if it is not one.
        """
        if self.thumbnail:
            return self.thumbnail
        checked = images.check_image(self.read_image(reader))
        name = images.store_thumbnail(self.job.images_folder, str(self.line), checked)
        if Prediction.objects.filter(pk=self.pk, thumbnail="").update(thumbnail=name):
            self.thumbnail = name
        else:  # made at the same time by someone else: keep theirs
            default_storage.delete(name)
            self.refresh_from_db(fields=["thumbnail"])
        return self.thumbnail
