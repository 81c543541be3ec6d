from django.contrib import admin

from quality.models import LabelCheck, PreLabelRun


@admin.register(LabelCheck)
class LabelCheckAdmin(admin.ModelAdmin):
    list_display = ["created_at", "adapter", "status", "images", "done", "total", "created_by"]
    list_filter = ["status"]
    show_full_result_count = False  # no COUNT(*) over the table (console.lib.admin_lists)
    list_select_related = ["adapter__project", "created_by"]
    ordering = ["-pk"]
    readonly_fields = [f.name for f in LabelCheck._meta.fields]


@admin.register(PreLabelRun)
class PreLabelRunAdmin(admin.ModelAdmin):
    list_display = ["created_at", "adapter", "source_name", "status", "done", "total", "failed", "created_by"]
    list_filter = ["status"]
    search_fields = ["source_name"]
    show_full_result_count = False  # no COUNT(*) over the table (console.lib.admin_lists)
    list_select_related = ["adapter__project", "created_by"]
    ordering = ["-pk"]
    readonly_fields = [f.name for f in PreLabelRun._meta.fields]
