"""What the compatible API keeps: access keys, and the requests that made resources."""

import base64
import hashlib

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import models


def _fernet():
    key = hashlib.sha256(("api-key-secrets:" + settings.SECRET_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


class ApiKey(models.Model):
    """An access key for the Rekognition-compatible API. The secret is stored encrypted:
    SigV4 needs the secret itself to check a signature, so it cannot be a one-way hash."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    access_key_id = models.CharField(max_length=32, unique=True)
    encrypted_secret = models.BinaryField()
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.access_key_id

    def set_secret(self, secret: str) -> None:
        self.encrypted_secret = _fernet().encrypt(secret.encode())

    @property
    def secret(self) -> str:
        return _fernet().decrypt(bytes(self.encrypted_secret)).decode()


class ApiRequest(models.Model):
    """An API call that made a resource (a media analysis job, a project version).

    It holds the ClientRequestToken and a digest of the parameters, for
    StartMediaAnalysisJob's idempotency, and the request fields the console's
    models have no column for (OutputConfig, KmsKeyId, the input manifests), so
    that Get/Describe echo them back as AWS does.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    operation = models.CharField(max_length=64)
    client_token = models.CharField(max_length=64, blank=True)
    params_sha256 = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=2048)  # JobId or ProjectVersionArn
    request = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "operation", "client_token"],
                condition=~models.Q(client_token=""),
                name="api_request_token_unique",
            )
        ]
        # Get/Describe look the request up by the resource it made.
        indexes = [
            models.Index(fields=["resource_id"], name="api_request_resource_idx"),
            # The admin's operation filter (rekognition_api/admin.py): one operation's, newest first.
            models.Index(fields=["operation", "id"], name="api_request_operation_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.resource_id}"
