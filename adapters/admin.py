from django.contrib import admin

from adapters.models import Adapter, DatasetCount, Image, ImageLabel


@admin.register(Adapter)
class AdapterAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "status", "base_model_version", "f1_score", "created_at"]
    list_filter = ["status", "test_data", "base_model_version"]
    search_fields = ["name", "project__name", "arn", "description"]
    list_select_related = ["project"]
    exclude = ["test_results"]


class ImageLabelInline(admin.TabularInline):
    model = ImageLabel
    extra = 0


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["original_name", "adapter", "split", "label_state", "format", "width", "height", "source"]
    list_filter = ["split", "label_state", "source", "format"]
    search_fields = ["original_name", "sha256", "adapter__name"]
    list_select_related = ["adapter"]
    raw_id_fields = ["adapter"]
    inlines = [ImageLabelInline]


@admin.register(ImageLabel)
class ImageLabelAdmin(admin.ModelAdmin):
    list_display = ["image", "name"]
    list_filter = ["name"]
    search_fields = ["image__original_name"]
    raw_id_fields = ["image"]


@admin.register(DatasetCount)
class DatasetCountAdmin(admin.ModelAdmin):
    """Read-only: the services keep these counters (DatasetCount.objects.recount rebuilds them)."""

    list_display = ["adapter", "split", "key", "count"]
    list_filter = ["split"]
    search_fields = ["adapter__name", "key"]
    list_select_related = ["adapter"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
