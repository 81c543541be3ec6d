from django.conf import settings
from django.db import models
from django.utils import timezone

from console import arns, taxonomy
from console.validators import (
    validate_adapter_name,
    validate_confidence,
    validate_description,
    validate_kms_key_id,
    validate_tags,
)
from projects.models import Project


class AdapterQuerySet(models.QuerySet):
    def training(self):
        return self.filter(status=Adapter.Status.TRAINING_IN_PROGRESS)

    def usable(self):
        """Adapters DetectModerationLabels can use (DEPRECATED ones still answer)."""
        return self.filter(status__in=[Adapter.Status.TRAINING_COMPLETED, Adapter.Status.DEPRECATED])


class Adapter(models.Model):
    """A project version: a dataset being labeled (DRAFT), then a trained adapter."""

    class Status(models.TextChoices):
        DRAFT = "DRAFT", "Draft"  # the console's own state: the dataset is still being labeled
        TRAINING_IN_PROGRESS = "TRAINING_IN_PROGRESS", "Training in progress"
        TRAINING_COMPLETED = "TRAINING_COMPLETED", "Training completed"
        TRAINING_FAILED = "TRAINING_FAILED", "Training failed"
        DEPRECATED = "DEPRECATED", "Deprecated"
        EXPIRED = "EXPIRED", "Expired"
        DELETING = "DELETING", "Deleting"

    class TestData(models.TextChoices):
        AUTOSPLIT = "autosplit", "Autosplit"
        MANIFEST = "manifest", "Test manifest"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="adapters")
    name = models.CharField(max_length=255, validators=[validate_adapter_name])
    description = models.CharField(max_length=255, blank=True, validators=[validate_description])
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.DRAFT)
    status_message = models.TextField(blank=True)
    arn = models.CharField(max_length=2048, unique=True)
    backend_arn = models.CharField(max_length=2048, blank=True)  # AWS's ARN on the aws backend
    tags = models.JSONField(default=dict, blank=True, validators=[validate_tags])
    kms_key_id = models.CharField(max_length=2048, blank=True, validators=[validate_kms_key_id])
    confidence_threshold = models.FloatField(default=50.0, validators=[validate_confidence])
    test_data = models.CharField(max_length=16, choices=TestData.choices, default=TestData.AUTOSPLIT)
    copied_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    base_model_version = models.CharField(max_length=32, blank=True)
    # The frozen datasets: manifests written when training started (storage names).
    training_manifest = models.CharField(max_length=1024, blank=True)
    testing_manifest = models.CharField(max_length=1024, blank=True)
    evaluation = models.JSONField(null=True, blank=True)  # the evaluation document, spec 5.1
    f1_score = models.FloatField(null=True, blank=True)
    test_results = models.JSONField(default=list, blank=True)  # test output manifest lines, spec 2.4
    locations = models.JSONField(default=dict, blank=True)  # s3:// URIs of manifests and results
    task_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    training_started_at = models.DateTimeField(null=True, blank=True)
    training_ended_at = models.DateTimeField(null=True, blank=True)
    training_seconds = models.FloatField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # set when DEPRECATED
    # How many times training was enqueued for the current run: the stale-training check
    # re-enqueues a run whose worker died once, then fails it.
    training_attempts = models.PositiveSmallIntegerField(default=0)

    objects = AdapterQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="adapter_name_unique_in_project")
        ]

    def __str__(self) -> str:
        return f"{self.project.name}/{self.name}"

    @staticmethod
    def build_arn(project_name: str, name: str) -> str:
        return arns.adapter_arn(project_name, name, arns.now_ms())

    @property
    def remote_arn(self) -> str:
        return self.backend_arn or self.arn

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    def transition(self, from_statuses, to_status, **fields) -> bool:
        """Move to `to_status` only if the row is still in one of `from_statuses`.

        A conditional UPDATE, so two workers or two people cannot both win; returns
        whether this call did. The instance is refreshed with the new values.
        """
        updated = Adapter.objects.filter(pk=self.pk, status__in=list(from_statuses)).update(
            status=to_status, **fields
        )
        if updated:
            self.status = to_status
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(updated)

    def mark_completed(self, result) -> bool:
        """Store a finished training (a backend TrainingStatus); False if the row was not training."""
        now = timezone.now()
        seconds = result.training_seconds
        if seconds is None and self.training_started_at:
            seconds = round((now - self.training_started_at).total_seconds(), 3)
        return self.transition(
            [self.Status.TRAINING_IN_PROGRESS],
            self.Status.TRAINING_COMPLETED,
            status_message=result.message or "",
            evaluation=result.evaluation,
            f1_score=result.f1_score,
            test_results=result.test_results or [],
            locations={**self.locations, **(result.locations or {})},
            base_model_version=result.base_model_version or self.base_model_version,
            training_ended_at=now,
            training_seconds=seconds,
        )

    def mark_failed(self, message: str) -> bool:
        """TRAINING_IN_PROGRESS -> TRAINING_FAILED with the reason a person needs."""
        return self.transition(
            [self.Status.TRAINING_IN_PROGRESS],
            self.Status.TRAINING_FAILED,
            status_message=message[:2000],
            training_ended_at=timezone.now(),
        )


class ImageQuerySet(models.QuerySet):
    def unlabeled(self):
        return self.filter(label_state=Image.LabelState.UNLABELED)

    def labeled(self):
        return self.exclude(label_state=Image.LabelState.UNLABELED)

    def training(self):
        return self.filter(split=Image.Split.TRAIN)

    def testing(self):
        return self.filter(split=Image.Split.TEST)


class Image(models.Model):
    """A dataset item of an adapter: the stored file, its split and its labels.

    label_state keeps three states apart: not yet looked at, looked at and safe
    (no moderation label), and one or more labels (rows in ImageLabel).
    """

    class LabelState(models.TextChoices):
        UNLABELED = "unlabeled", "Unlabeled"
        SAFE = "safe", "Safe: no moderation label"
        LABELED = "labeled", "Labeled"

    class Split(models.TextChoices):
        TRAIN = "train", "Training"
        TEST = "test", "Test"

    class Source(models.TextChoices):
        UPLOAD = "upload", "Upload"
        MANIFEST = "manifest", "Manifest"
        S3 = "s3", "S3"
        VERIFICATION = "verification", "Verified prediction"
        COPY = "copy", "Copied from an adapter"

    adapter = models.ForeignKey(Adapter, on_delete=models.CASCADE, related_name="images")
    file = models.CharField(max_length=1024)  # storage name of the image
    thumbnail = models.CharField(max_length=1024, blank=True)  # storage name of a small JPEG
    original_name = models.CharField(max_length=1024)  # file name or source-ref, for messages
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    format = models.CharField(max_length=8)  # JPEG or PNG
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    source = models.CharField(max_length=16, choices=Source.choices)
    split = models.CharField(max_length=8, choices=Split.choices, default=Split.TRAIN)
    label_state = models.CharField(max_length=16, choices=LabelState.choices, default=LabelState.UNLABELED)
    created_at = models.DateTimeField(auto_now_add=True)
    labeled_at = models.DateTimeField(null=True, blank=True)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            # A duplicate within one dataset is skipped on import.
            models.UniqueConstraint(fields=["adapter", "split", "sha256"], name="image_unique_in_dataset"),
        ]
        indexes = [
            # The labeling grid: one adapter's split, filtered by label state, paginated by id.
            models.Index(fields=["adapter", "split", "label_state", "id"], name="image_grid_idx"),
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels.all()]


class ImageLabel(models.Model):
    """One moderation label on an image (top-level category, validated against the taxonomy)."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=128, choices=[(n, n) for n in taxonomy.TOP_LEVEL])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image", "name"], name="image_label_unique")]
        indexes = [
            # The label filter and its counts.
            models.Index(fields=["name", "image"], name="image_label_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from console.validators import validate_top_level_label

        validate_top_level_label(self.name)


def expiry_from(now=None):
    """AWS expires a deprecated adapter 60 to 90 days after a new base model; we use 60."""
    return (now or timezone.now()) + timezone.timedelta(days=60)
