from django.contrib import admin

from exports.models import Export


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "filename", "status", "done", "total", "created_by"]
    list_filter = ["kind", "status"]
    search_fields = ["filename"]
    show_full_result_count = False  # no COUNT(*) over the table (console.lib.admin_lists)
    list_select_related = ["created_by"]
    ordering = ["-pk"]
    readonly_fields = [f.name for f in Export._meta.fields]
