from django.contrib import admin

from quality.models import LabelCheck, LabelSuggestion, PreLabelRun, SuspectedLabelError


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


@admin.register(SuspectedLabelError)
class SuspectedLabelErrorAdmin(admin.ModelAdmin):
    list_display = ["label_check", "image", "label", "given", "probability", "score", "fixed_at"]
    show_full_result_count = False  # no COUNT(*) over the table (console.lib.admin_lists)
    raw_id_fields = ["label_check", "image"]
    list_select_related = ["label_check", "image"]
    ordering = ["-pk"]
    readonly_fields = [f.name for f in SuspectedLabelError._meta.fields]


@admin.register(LabelSuggestion)
class LabelSuggestionAdmin(admin.ModelAdmin):
    list_display = ["run", "image", "labels", "confidence", "accepted_at", "accepted_by"]
    show_full_result_count = False  # no COUNT(*) over the table (console.lib.admin_lists)
    raw_id_fields = ["run", "image"]
    list_select_related = ["run", "image", "accepted_by"]
    ordering = ["-pk"]
    readonly_fields = [f.name for f in LabelSuggestion._meta.fields]
