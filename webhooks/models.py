"""Webhooks: URLs a manager registers for events, and each delivery to them."""

import base64
import hashlib
import uuid

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import models


def _fernet():
    key = hashlib.sha256(("webhook-secrets:" + settings.SECRET_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


class Event(models.TextChoices):
    ADAPTER_TRAINING_COMPLETED = "adapter.training_completed", "Adapter training completed"
    ADAPTER_TRAINING_FAILED = "adapter.training_failed", "Adapter training failed"
    ADAPTER_DEPRECATED = "adapter.deprecated", "Adapter deprecated"
    BULK_JOB_SUCCEEDED = "bulk_job.succeeded", "Bulk analysis job succeeded"
    BULK_JOB_FAILED = "bulk_job.failed", "Bulk analysis job failed"
    TEST = "webhook.test", "Test event"  # the "Send test event" button; nobody subscribes to it


SUBSCRIBABLE = [(value, label) for value, label in Event.choices if value != Event.TEST]


class Webhook(models.Model):
    """A URL that gets a signed JSON POST for each of its events. The secret is stored encrypted:
    the console needs it itself to sign, so it cannot be a one-way hash."""

    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)  # Event values
    active = models.BooleanField(default=True)
    encrypted_secret = models.BinaryField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url

    def set_secret(self, secret: str) -> None:
        self.encrypted_secret = _fernet().encrypt(secret.encode())

    @property
    def secret(self) -> str:
        return _fernet().decrypt(bytes(self.encrypted_secret)).decode()

    def event_labels(self) -> list[str]:
        return [Event(e).label for e in self.events if e in Event.values]


class Delivery(models.Model):
    """One event sent to one webhook: the exact body (retries send the same bytes, so the same
    signature) and the last attempt's outcome."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=64, choices=Event.choices)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=200, blank=True)  # transport.EXCERPT_BYTES at most
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # The webhook's page lists its deliveries, newest first.
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_recent_idx"),
            # The admin's filters (webhooks/admin.py): one status's or event's, newest first.
            models.Index(fields=["status", "id"], name="delivery_status_idx"),
            models.Index(fields=["event", "id"], name="delivery_event_idx"),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook_id} ({self.status})"
