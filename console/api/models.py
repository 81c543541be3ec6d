"""What the compatible API keeps that the console's own rows do not.

Defined here, registered under the ``console`` app (console/models.py imports it).
"""

from django.conf import settings
from django.db import models


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
        app_label = "console"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "operation", "client_token"],
                condition=~models.Q(client_token=""),
                name="api_request_token_unique",
            )
        ]
        # Get/Describe look the request up by the resource it made.
        indexes = [models.Index(fields=["resource_id"], name="api_request_resource_idx")]

    def __str__(self) -> str:
        return f"{self.operation} {self.resource_id}"
