from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from console.forms import OrganisationProtectionForm
from console.lib.admin_lists import ListAdmin, recent_values
from console.models import (
    AuditEntry,
    ImageEmbedding,
    Lease,
    LoginFailure,
    Notification,
    OrganisationProtection,
    Profile,
    ProviderIdentity,
    WorkerHeartbeat,
)


@admin.register(Profile)
class ProfileAdmin(ListAdmin):
    list_display = ["user", "role", "protection_mode"]
    list_filter = ["role", "protection_mode"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]


@admin.register(OrganisationProtection)
class OrganisationProtectionAdmin(ListAdmin):
    """The one row of organisation defaults (also on the console's Reviewer protection page)."""

    form = OrganisationProtectionForm
    list_display = ["__str__"]

    def has_add_permission(self, request):
        return not OrganisationProtection.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ListAdmin):
    list_display = ["created_at", "user", "level", "message", "read_at"]
    list_filter = [recent_values("level"), "read_at"]
    search_fields = ["message", "user__username"]
    list_select_related = ["user"]
    ordering = ["-pk"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ListAdmin):
    """Read-only: the audit trail is written by the console and never edited."""

    list_display = ["created_at", "user", "action", "object_type", "object_id", "project_name"]
    # No date_hierarchy: its year links come from a scan of every entry's date.
    list_filter = [recent_values("action"), recent_values("object_type", "object type"), "created_at"]
    search_fields = ["project_name", "object_id", "user__username", "action"]
    list_select_related = ["user"]
    ordering = ["-pk"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ImageEmbedding)
class ImageEmbeddingAdmin(ListAdmin):
    list_display = ["sha256", "model_version", "created_at"]
    list_filter = [recent_values("model_version", "model version")]
    search_fields = ["sha256"]
    ordering = ["-pk"]
    exclude = ["vector"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ListAdmin):
    list_display = ["hostname", "seen_at"]


@admin.register(Lease)
class LeaseAdmin(ListAdmin):
    """Work a worker holds now (console.leases); read-only: the workers write them."""

    list_display = ["key", "worker", "taken_at", "expires_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ProviderIdentity)
class ProviderIdentityAdmin(ListAdmin):
    """Who signs in through the OpenID Connect provider; deleting one unlinks the account."""

    list_display = ["user", "issuer", "subject", "created_at", "last_sign_in_at"]
    list_filter = [recent_values("issuer")]
    search_fields = ["user__username", "subject"]
    list_select_related = ["user"]
    readonly_fields = ["user", "issuer", "subject", "created_at", "last_sign_in_at"]


@admin.register(LoginFailure)
class LoginFailureAdmin(ListAdmin):
    list_display = ["at", "username", "ip"]
    search_fields = ["username", "ip"]
    list_filter = ["at"]
    ordering = ["-pk"]


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class ConsoleUserAdmin(UserAdmin, ListAdmin):
    """Users with their console role, set where they are created."""

    inlines = [ProfileInline]
    list_display = [*UserAdmin.list_display, "console_role"]
    list_select_related = ["profile"]

    @admin.display(description="Role")
    def console_role(self, user):
        profile = getattr(user, "profile", None)  # selected with the row; a user without one is a viewer
        return (profile or Profile(user=user)).get_role_display()


admin.site.unregister(Group)


@admin.register(Group)
class ConsoleGroupAdmin(GroupAdmin, ListAdmin):
    """Groups, listed as every other table (console.lib.admin_lists)."""
