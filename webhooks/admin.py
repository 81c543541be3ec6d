from django.contrib import admin

from webhooks.models import Delivery, Webhook


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["url", "active", "created_by", "created_at"]
    list_filter = ["active"]
    search_fields = ["url"]
    exclude = ["encrypted_secret"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "webhook", "event", "status", "attempts", "response_code"]
    list_filter = ["status", "event"]
    search_fields = ["webhook__url", "uuid"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
