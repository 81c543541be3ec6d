from django.contrib import admin

from projects.models import Project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "auto_update", "created_by", "created_at"]
    show_full_result_count = False  # no COUNT(*) over the table (console.lib.admin_lists)
    list_filter = ["status", "auto_update"]
    search_fields = ["name", "description", "arn"]
    list_select_related = ["created_by"]
