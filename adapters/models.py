from collections import Counter

from django.conf import settings
from django.db import models
from django.db.models import Count, F
from django.utils import timezone

from console import arns
from console.transitions import GuardedTransitions
from console.validators import (
    validate_adapter_name,
    validate_confidence,
    validate_description,
    validate_kms_key_id,
    validate_tags,
    validate_top_level_label,
)
from moderation import taxonomy


class AdapterQuerySet(models.QuerySet):
    def training(self):
        return self.filter(status=Adapter.Status.TRAINING_IN_PROGRESS)

    def usable(self):
        """Adapters DetectModerationLabels can use (DEPRECATED ones still answer)."""
        return self.filter(status__in=[Adapter.Status.TRAINING_COMPLETED, Adapter.Status.DEPRECATED])


class Adapter(GuardedTransitions, models.Model):
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

    # By name: adapters sits below projects and does not import it.
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="adapters")
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
    BIG_COLUMNS = ("test_results", "evaluation")  # a line per test image: left out of the admin's lists
    locations = models.JSONField(default=dict, blank=True)  # s3:// URIs of manifests and results
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
            # The admin's filters across every dataset, newest first.
            models.Index(fields=["split", "id"], name="image_split_idx"),
            models.Index(fields=["label_state", "id"], name="image_label_state_idx"),
            models.Index(fields=["source", "id"], name="image_source_idx"),
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
        validate_top_level_label(self.name)


# A counter key: ("state", label_state) -> "state:safe", ("label", name) -> "label:Alcohol".
def count_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def tally(images) -> Counter:
    """Counter deltas for images given as (adapter_id, split, label_state, label names): +1 each."""
    delta: Counter = Counter()
    for adapter_id, split, state, labels in images:
        delta[(adapter_id, split, count_key("state", state))] += 1
        for name in labels:
            delta[(adapter_id, split, count_key("label", name))] += 1
    return delta


class DatasetCountQuerySet(models.QuerySet):
    def tally_rows(self, *, image_ids=None, adapter=None) -> Counter:
        """The counts of some images as they are in the database now (ids, or a whole adapter).

        Two grouped queries over just those images: what a service reads before and after it
        changes them, to move the counters by the difference.
        """
        images = Image.objects.order_by()
        labels = ImageLabel.objects.order_by()
        if image_ids is not None:
            images, labels = images.filter(pk__in=image_ids), labels.filter(image_id__in=image_ids)
        if adapter is not None:
            images, labels = images.filter(adapter=adapter), labels.filter(image__adapter=adapter)
        out: Counter = Counter()
        for adapter_id, split, state, n in images.values_list("adapter_id", "split", "label_state").annotate(
            n=Count("pk")
        ):
            out[(adapter_id, split, count_key("state", state))] += n
        for adapter_id, split, name, n in labels.values_list(
            "image__adapter_id", "image__split", "name"
        ).annotate(n=Count("pk")):
            out[(adapter_id, split, count_key("label", name))] += n
        return out

    def add(self, delta: Counter) -> None:
        """Move the counters by `delta` ({(adapter_id, split, key): n}): F() increments, so two
        transactions changing the same dataset both count. Call inside the change's transaction."""
        delta = {k: n for k, n in delta.items() if n}
        if not delta:
            return
        self.bulk_create(
            [DatasetCount(adapter_id=a, split=s, key=k, count=0) for a, s, k in delta], ignore_conflicts=True
        )
        for (adapter_id, split, key), n in delta.items():
            self.filter(adapter_id=adapter_id, split=split, key=key).update(count=F("count") + n)

    def recount(self, adapter) -> None:
        """Rebuild an adapter's counters from its rows (for data written around the services)."""
        self.filter(adapter=adapter).delete()
        self.add(self.tally_rows(adapter=adapter))

    def of(self, adapter) -> dict[tuple[str, str], int]:
        """{(split, key): count} of an adapter, in one query."""
        return {(s, k): n for s, k, n in self.filter(adapter=adapter).values_list("split", "key", "count")}


class DatasetCount(models.Model):
    """A running count of an adapter's dataset, per split: images in a label state
    ("state:unlabeled") or with a label ("label:Alcohol").

    The labeling page's facets, pagination and training blockers read these instead of
    counting the dataset's rows (which costs in proportion to its size). The services that
    change a dataset (adapters.datasets: imports, set_labels, copy_dataset; verification's
    train_from_verification) move them in the same transaction, by the change over the
    affected images only. Deleting the adapter deletes its counters.
    """

    adapter = models.ForeignKey(Adapter, on_delete=models.CASCADE, related_name="counts")
    split = models.CharField(max_length=8, choices=Image.Split.choices)
    key = models.CharField(max_length=140)
    count = models.IntegerField(default=0)

    objects = DatasetCountQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["adapter", "split", "key"], name="dataset_count_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.adapter_id} {self.split} {self.key}: {self.count}"


def expiry_from(now=None):
    """AWS expires a deprecated adapter 60 to 90 days after a new base model; we use 60."""
    return (now or timezone.now()) + timezone.timedelta(days=60)
