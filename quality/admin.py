from django.contrib import admin

from console.lib.admin_lists import ListAdmin
from quality.models import LabelCheck, LabelSuggestion, PreLabelRun, SuspectedLabelError


@admin.register(LabelCheck)
class LabelCheckAdmin(ListAdmin):
    list_display = ["created_at", "adapter", "status", "images", "done", "total", "created_by"]
    list_filter = ["status"]
    list_select_related = ["adapter__project", "created_by"]
    ordering = ["-pk"]
    readonly_fields = [f.name for f in LabelCheck._meta.fields]


@admin.register(PreLabelRun)
class PreLabelRunAdmin(ListAdmin):
    list_display = ["created_at", "adapter", "source_name", "status", "done", "total", "failed", "created_by"]
    list_filter = ["status"]
    search_fields = ["source_name"]
    list_select_related = ["adapter__project", "created_by"]
    ordering = ["-pk"]
    readonly_fields = [f.name for f in PreLabelRun._meta.fields]


@admin.register(SuspectedLabelError)
class SuspectedLabelErrorAdmin(ListAdmin):
    list_display = ["label_check", "image", "label", "given", "probability", "score", "fixed_at"]
    raw_id_fields = ["label_check", "image"]
    list_select_related = ["label_check", "image"]
    ordering = ["-pk"]
    readonly_fields = [f.name for f in SuspectedLabelError._meta.fields]


@admin.register(LabelSuggestion)
class LabelSuggestionAdmin(ListAdmin):
    list_display = ["run", "image", "labels", "confidence", "accepted_at", "accepted_by"]
    raw_id_fields = ["run", "image"]
    list_select_related = ["run", "image", "accepted_by"]
    ordering = ["-pk"]
    readonly_fields = [f.name for f in LabelSuggestion._meta.fields]
