from django.conf import settings
from django.db import models

from console import arns
from console.validators import validate_description, validate_project_name, validate_tags


class Project(models.Model):
    class Status(models.TextChoices):
        CREATING = "CREATING"
        CREATED = "CREATED"
        DELETING = "DELETING"

    FEATURE = "CONTENT_MODERATION"

    name = models.CharField(max_length=255, unique=True, validators=[validate_project_name])
    description = models.CharField(max_length=255, blank=True, validators=[validate_description])
    auto_update = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    arn = models.CharField(max_length=2048, unique=True)
    # The ARN the aws backend gave the project, when it is not ours.
    backend_arn = models.CharField(max_length=2048, blank=True)
    tags = models.JSONField(default=dict, blank=True, validators=[validate_tags])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def build_arn(cls, name: str) -> str:
        return arns.project_arn(name, arns.now_ms())

    @property
    def remote_arn(self) -> str:
        return self.backend_arn or self.arn

    @property
    def auto_update_value(self) -> str:
        return "ENABLED" if self.auto_update else "DISABLED"
