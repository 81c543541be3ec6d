from django.contrib import admin

from console.lib.admin_lists import ListAdmin
from webhooks.models import Delivery, Webhook


@admin.register(Webhook)
class WebhookAdmin(ListAdmin):
    list_display = ["url", "active", "created_by", "created_at"]
    list_filter = ["active"]
    search_fields = ["url"]
    list_select_related = ["created_by"]
    exclude = ["encrypted_secret"]


@admin.register(Delivery)
class DeliveryAdmin(ListAdmin):
    list_display = ["created_at", "webhook", "event", "status", "attempts", "response_code"]
    list_filter = ["status", "event"]
    search_fields = ["webhook__url", "uuid"]
    list_select_related = ["webhook"]
    ordering = ["-pk"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
