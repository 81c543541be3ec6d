from django.contrib import admin

from console.lib.admin_lists import ListAdmin, recent_values
from rekognition_api.models import ApiKey, ApiRequest
from rekognition_api.operations import OPERATIONS


@admin.register(ApiKey)
class ApiKeyAdmin(ListAdmin):
    list_display = ["access_key_id", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["access_key_id", "user__username", "name"]
    list_select_related = ["user"]
    exclude = ["encrypted_secret"]
    readonly_fields = ["access_key_id", "created_at", "last_used_at"]


@admin.register(ApiRequest)
class ApiRequestAdmin(ListAdmin):
    list_display = ["created_at", "user", "operation", "resource_id"]
    list_filter = [recent_values("operation", known=sorted(OPERATIONS))]
    search_fields = ["resource_id", "client_token", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    ordering = ["-pk"]
