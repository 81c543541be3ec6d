from django.contrib import admin

from adapters.models import Adapter, DatasetCount, Image, ImageLabel
from console.lib.admin_lists import ListAdmin, recent_values


@admin.register(Adapter)
class AdapterAdmin(ListAdmin):
    list_display = ["name", "project", "status", "base_model_version", "f1_score", "created_at"]
    list_filter = ["status", "test_data", recent_values("base_model_version", "base model version")]
    search_fields = ["name", "project__name", "arn", "description"]
    list_select_related = ["project"]
    exclude = ["test_results"]
    raw_id_fields = ["project", "copied_from", "created_by"]  # no select listing every adapter


class ImageLabelInline(admin.TabularInline):
    model = ImageLabel
    extra = 0


@admin.register(Image)
class ImageAdmin(ListAdmin):
    list_display = ["original_name", "adapter", "split", "label_state", "format", "width", "height", "source"]
    list_filter = ["split", "label_state", "source"]  # each leads an index (the table grows)
    search_fields = ["original_name", "sha256", "adapter__name"]
    list_select_related = ["adapter__project"]  # an adapter's name is its project's and its own
    ordering = ["-pk"]
    raw_id_fields = ["adapter"]
    inlines = [ImageLabelInline]


@admin.register(ImageLabel)
class ImageLabelAdmin(ListAdmin):
    list_display = ["image", "name"]
    list_filter = ["name"]
    search_fields = ["image__original_name"]
    raw_id_fields = ["image"]
    list_select_related = ["image"]
    ordering = ["-pk"]


@admin.register(DatasetCount)
class DatasetCountAdmin(ListAdmin):
    """Read-only: the services keep these counters (DatasetCount.objects.recount rebuilds them)."""

    list_display = ["adapter", "split", "key", "count"]
    list_filter = ["split"]
    search_fields = ["adapter__name", "key"]
    list_select_related = ["adapter__project"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
