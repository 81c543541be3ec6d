from django.contrib import admin

from exports.models import Export


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "filename", "status", "done", "total", "created_by"]
    list_filter = ["kind", "status"]
    search_fields = ["filename"]
    readonly_fields = [f.name for f in Export._meta.fields]
