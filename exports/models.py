"""Exports: a download too large to write in a request, written by the worker."""

from django.conf import settings
from django.db import models

from console.transitions import GuardedTransitions


class Export(GuardedTransitions, models.Model):
    """One export: what it is of, how far the worker got, and the stored file once ready."""

    class Kind(models.TextChoices):
        ADAPTER_MANIFEST = "adapter_manifest", "Dataset manifest"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Ready"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    adapter = models.ForeignKey("adapters.Adapter", null=True, on_delete=models.CASCADE, related_name="+")
    split = models.CharField(max_length=8, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file = models.CharField(max_length=500, blank=True)  # a name in default storage
    filename = models.CharField(max_length=300)  # what the browser saves it as
    size = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.filename} ({self.status})"

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        return (
            100
            if self.status == self.Status.SUCCEEDED
            else int(100 * self.done / self.total)
            if self.total
            else 0
        )
