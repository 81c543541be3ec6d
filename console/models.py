from django.conf import settings
from django.db import models

from console.lib.protection import BLUR, MODES, Protection
from moderation import taxonomy


def _default_categories() -> list[str]:
    return list(taxonomy.PROTECTED_BY_DEFAULT)


class OrganisationProtection(models.Model):
    """Reviewer protection for everyone who keeps the organisation default: one row, set by an admin."""

    mode = models.CharField(max_length=16, choices=MODES, default=BLUR)
    categories = models.JSONField(default=_default_categories, blank=True)  # top-level names

    class Meta:
        verbose_name = verbose_name_plural = "organisation reviewer protection"

    def __str__(self) -> str:
        return f"{self.get_mode_display()}: {', '.join(self.categories) or 'no category'}"

    @classmethod
    def get(cls) -> "OrganisationProtection":
        """The one row; until an admin saves it, the defaults (unsaved): one query, no write."""
        return cls.objects.order_by("pk").first() or cls()


class Profile(models.Model):
    """A person's role in the console and their own settings."""

    class Role(models.TextChoices):
        VIEWER = "viewer", "Viewer"  # reads
        ANNOTATOR = "annotator", "Annotator"  # labels and verifies
        MANAGER = "manager", "Manager"  # trains, runs jobs, deletes
        ADMIN = "admin", "Admin"

    RANK = {Role.VIEWER: 0, Role.ANNOTATOR: 1, Role.MANAGER: 2, Role.ADMIN: 3}

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    # A new user can only read until someone with the admin role gives them more.
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    # Reviewer protection: "" keeps the organisation default; otherwise the person's own mode and
    # categories (top-level names).
    protection_mode = models.CharField(
        max_length=16, choices=MODES, blank=True, default="", verbose_name="reviewer protection"
    )
    protected_categories = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"

    def has_role(self, role: str) -> bool:
        if self.user.is_superuser:
            return True
        return self.RANK[self.role] >= self.RANK[role]

    def protection(self) -> Protection:
        """The reviewer protection in effect for this person: their own, or the organisation's."""
        if self.protection_mode:
            return Protection(self.protection_mode, frozenset(self.protected_categories))
        org = OrganisationProtection.get()
        return Protection(org.mode, frozenset(org.categories))

    @classmethod
    def for_user(cls, user) -> "Profile":
        profile, _ = cls.objects.get_or_create(user=user)
        return profile


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    message = models.CharField(max_length=500)
    link = models.CharField(max_length=500, blank=True)
    level = models.CharField(max_length=16, default="info")  # info, success, error
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "read_at"], name="notification_unread_idx"),
            # A person's newest first (the notifications page), without sorting all of theirs.
            models.Index(fields=["user", "-created_at"], name="notification_newest_idx"),
            # The admin's filters (console/admin.py): one level's, newest first; read or not.
            models.Index(fields=["level", "id"], name="notification_level_idx"),
            models.Index(fields=["read_at"], name="notification_read_idx"),
        ]

    def __str__(self) -> str:
        return self.message


class AuditEntry(models.Model):
    """Who changed what and when. Written by services; read-only in the admin and the console."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=64)  # e.g. "image.label", "adapter.train", "apikey.create"
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    project = models.ForeignKey("projects.Project", null=True, blank=True, on_delete=models.SET_NULL)
    project_name = models.CharField(max_length=255, blank=True)  # kept after the project is deleted
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # A project's entries newest first (the audit log's project filter).
            models.Index(fields=["project_name", "-created_at"], name="audit_project_newest_idx"),
            # One object's entries newest first (leases.recovery_notes on every job and adapter page:
            # without it the page walked the whole audit table by date).
            models.Index(fields=["object_type", "object_id", "-created_at"], name="audit_object_newest_idx"),
            # The admin's action filter (console/admin.py): one action's entries, newest first.
            models.Index(fields=["action", "id"], name="audit_action_idx"),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M} {self.user} {self.action} {self.object_type} {self.object_id}"
        )


def record(user, action: str, obj, *, project=None, **detail) -> AuditEntry:
    """Write one audit entry for a change a person made."""
    return AuditEntry.objects.create(
        user=user if getattr(user, "is_authenticated", False) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        project=project,
        project_name=project.name if project else "",
        detail=detail,
    )


class ImageEmbedding(models.Model):
    """What the base model saw in an image: computed once per image content and model version."""

    sha256 = models.CharField(max_length=64)
    model_version = models.CharField(max_length=32)
    vector = models.BinaryField()  # float32 little-endian
    base_labels = models.JSONField(default=list)  # the base model's labels at every confidence
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sha256", "model_version"], name="embedding_unique_version")
        ]
        indexes = [
            # The admin's model version filter (console/admin.py): one version's, newest first.
            models.Index(fields=["model_version", "id"], name="embedding_version_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.sha256[:12]} @ {self.model_version}"


class WorkerHeartbeat(models.Model):
    """Written by the heartbeat task: the shell shows whether a worker is answering."""

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.hostname


class Lease(models.Model):
    """Who is running a piece of work (a bulk unit, a training) and until when: the worker renews
    it while it works; one that is not renewed in time is taken over (console.leases)."""

    key = models.CharField(max_length=100, unique=True)  # "bulk:<job>:<first>-<last>", "training:<adapter>"
    worker = models.CharField(max_length=255)  # the Celery node name and process id
    taken_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key} ({self.worker})"


class LoginFailure(models.Model):
    """A failed sign-in, counted to slow down password guessing (see console.views.login)."""

    username = models.CharField(max_length=150)
    ip = models.GenericIPAddressField(null=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The limit counts recent failures by user name and by address.
        indexes = [
            models.Index(fields=["username", "at"]),
            models.Index(fields=["ip", "at"]),
            models.Index(fields=["at"], name="loginfailure_at_idx"),  # the admin's date filter
        ]

    def __str__(self) -> str:
        return f"{self.username} from {self.ip} at {self.at}"


class ProviderIdentity(models.Model):
    """A console user who signs in through an OpenID Connect provider: who the provider says
    they are (issuer and subject, never the e-mail, which a provider account may share with a
    local account)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "provider identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="provider_identity_unique_subject")
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
