from django.contrib import admin

from bulk_analysis.models import BulkAnalysisJob, Prediction
from console.lib.admin_lists import ListAdmin, recent_values


@admin.register(BulkAnalysisJob)
class BulkAnalysisJobAdmin(ListAdmin):
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
    list_select_related = ["adapter__project"]
    exclude = ["histograms"]
    raw_id_fields = ["adapter", "created_by"]  # no select listing every adapter


@admin.register(Prediction)
class PredictionAdmin(ListAdmin):
    list_display = ["job", "line", "source_ref", "state", "max_confidence", "error_code"]
    list_filter = ["state", recent_values("error_code", "error code")]
    search_fields = ["source_ref", "job__name"]
    list_select_related = ["job"]
    ordering = ["-pk"]  # not the model's "line": that sorts every job's predictions
    raw_id_fields = ["job"]
