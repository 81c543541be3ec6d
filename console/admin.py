from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from console.models import (
    AuditEntry,
    ImageEmbedding,
    LoginFailure,
    Notification,
    Profile,
    ProviderIdentity,
    WorkerHeartbeat,
)


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "blur_explicit"]
    list_filter = ["role", "blur_explicit"]
    search_fields = ["user__username", "user__email"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "level", "message", "read_at"]
    list_filter = ["level", "read_at"]
    search_fields = ["message", "user__username"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is written by the console and never edited."""

    list_display = ["created_at", "user", "action", "object_type", "object_id", "project_name"]
    list_filter = ["action", "object_type"]
    search_fields = ["project_name", "object_id", "user__username", "action"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ImageEmbedding)
class ImageEmbeddingAdmin(admin.ModelAdmin):
    list_display = ["sha256", "model_version", "created_at"]
    list_filter = ["model_version"]
    search_fields = ["sha256"]
    exclude = ["vector"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "seen_at"]


@admin.register(ProviderIdentity)
class ProviderIdentityAdmin(admin.ModelAdmin):
    """Who signs in through the OpenID Connect provider; deleting one unlinks the account."""

    list_display = ["user", "issuer", "subject", "created_at", "last_sign_in_at"]
    list_filter = ["issuer"]
    search_fields = ["user__username", "subject"]
    readonly_fields = ["user", "issuer", "subject", "created_at", "last_sign_in_at"]


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    list_display = ["at", "username", "ip"]
    search_fields = ["username", "ip"]
    date_hierarchy = "at"


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class ConsoleUserAdmin(UserAdmin):
    """Users with their console role, set where they are created."""

    inlines = [ProfileInline]
    list_display = [*UserAdmin.list_display, "console_role"]

    @admin.display(description="Role")
    def console_role(self, user):
        return Profile.for_user(user).get_role_display()
