from django.contrib import admin

from console.lib.admin_lists import ListAdmin
from exports.models import Export


@admin.register(Export)
class ExportAdmin(ListAdmin):
    list_display = ["created_at", "kind", "filename", "status", "done", "total", "created_by"]
    list_filter = ["kind", "status"]
    search_fields = ["filename"]
    list_select_related = ["created_by"]
    ordering = ["-pk"]
    readonly_fields = [f.name for f in Export._meta.fields]
