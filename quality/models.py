"""Label quality: checks of an adapter's training labels, and the images they suspect."""

from django.conf import settings
from django.db import models

from console.transitions import GuardedTransitions


class WorkerRun(GuardedTransitions, models.Model):
    """What a label check and a pre-labeling run share: the row is the job's truth, the worker
    moves it QUEUED -> RUNNING -> DONE or FAILED and writes its progress (done of total) as it goes."""

    class Status(models.TextChoices):
        QUEUED = "QUEUED", "Queued"
        RUNNING = "RUNNING", "Running"
        DONE = "DONE", "Done"
        FAILED = "FAILED", "Failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=1000, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0


class LabelCheck(WorkerRun):
    """One "Find suspected label errors" run over an adapter's labeled training images; `done`
    and `total` count its steps."""

    adapter = models.ForeignKey("adapters.Adapter", on_delete=models.CASCADE, related_name="+")
    images = models.PositiveIntegerField(default=0)  # labeled training images checked
    # Its suspects, counted as they are written (DONE): the pages show it without a COUNT. A
    # suspect is deleted only with its check (dataset images are deleted with their adapter).
    found = models.PositiveIntegerField(default=0)

    class Meta(WorkerRun.Meta):
        indexes = [
            # The page: an adapter's latest check.
            models.Index(fields=["adapter", "-created_at"], name="labelcheck_adapter_idx"),
        ]

    def __str__(self) -> str:
        return f"Label check {self.pk} of adapter {self.adapter_id} ({self.status})"


class SuspectedLabelError(models.Model):
    """An image whose label the check doubts: it has `label` (given) and the model expects it
    not to, or the other way round. `score`: how strongly the model disagrees, 0-1."""

    label_check = models.ForeignKey(LabelCheck, on_delete=models.CASCADE, related_name="suspects")
    image = models.ForeignKey("adapters.Image", on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=128)
    given = models.BooleanField()
    probability = models.FloatField()  # the out-of-sample probability of the label, 0-1
    score = models.FloatField()
    # A one-click fix, and the token that undoes it (adapters.datasets.save_undo).
    fixed_at = models.DateTimeField(null=True, blank=True)
    undo_token = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-score", "pk"]
        indexes = [
            # The list page: one check's suspects, most disputed first.
            models.Index(fields=["label_check", "-score"], name="suspect_check_score_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.label} on image {self.image_id}"

    @property
    def expected(self) -> bool:
        return not self.given


class PreLabelRun(WorkerRun):
    """One "Pre-label with" run: a model (the base model, or a trained adapter of the project)
    suggests labels for every unlabeled training image of an adapter's dataset, under a lease
    (console.leases); `done` counts the images it has suggested labels for."""

    adapter = models.ForeignKey("adapters.Adapter", on_delete=models.CASCADE, related_name="+")
    # The model that suggests: None is the base model. Its name is kept for the page.
    source = models.ForeignKey(
        "adapters.Adapter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_name = models.CharField(max_length=255)
    source_arn = models.CharField(max_length=2048, blank=True)
    failed = models.PositiveIntegerField(default=0)  # images the model could not read
    attempts = models.PositiveIntegerField(default=0)  # workers lost while running it

    class Meta(WorkerRun.Meta):
        indexes = [
            # The grid: an adapter's latest run.
            models.Index(fields=["adapter", "-created_at"], name="prelabelrun_adapter_idx"),
        ]

    def __str__(self) -> str:
        return f"Pre-labeling {self.pk} of adapter {self.adapter_id} with {self.source_name} ({self.status})"


class LabelSuggestion(models.Model):
    """A model's suggested labels for one image: never a label (training reads ImageLabel only)
    until a person accepts it, when adapters.datasets.set_labels gives the image these labels.

    `labels`: the top-level labels suggested, [] for "no moderation label (safe)". `scores`: each
    top-level label's confidence (0-100) as the model answered. `confidence`: how sure the model is
    of the whole suggestion, 50-100: the least sure of its yes/no answers, label by label
    (max(p, 100 - p)); "most uncertain first" orders by it."""

    run = models.ForeignKey(PreLabelRun, on_delete=models.CASCADE, related_name="suggestions")
    # One suggestion per image: a later run replaces it.
    image = models.OneToOneField("adapters.Image", on_delete=models.CASCADE, related_name="label_suggestion")
    labels = models.JSONField(default=list)
    scores = models.JSONField(default=dict)
    confidence = models.FloatField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            # "Suggestions to review": most uncertain first; accepting: those at or above a confidence.
            models.Index(fields=["confidence", "image"], name="suggestion_confidence_idx"),
        ]

    def __str__(self) -> str:
        return f"Suggestion {self.labels or 'safe'} for image {self.image_id} ({self.confidence:.0f} %)"
