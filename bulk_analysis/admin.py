from django.contrib import admin

from bulk_analysis.models import BulkAnalysisJob, Prediction


@admin.register(BulkAnalysisJob)
class BulkAnalysisJobAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "status",
        "adapter",
        "min_confidence",
        "total_images",
        "created_at",
        "completed_at",
    ]
    list_filter = ["status", "per_image_fallback"]
    search_fields = ["name", "job_id", "adapter__name"]
    list_select_related = ["adapter"]


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["job", "line", "source_ref", "state", "max_confidence", "error_code"]
    list_filter = ["state", "error_code"]
    search_fields = ["source_ref", "job__name"]
    list_select_related = ["job"]
    raw_id_fields = ["job"]
