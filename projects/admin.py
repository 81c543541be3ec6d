from django.contrib import admin

from console.lib.admin_lists import ListAdmin
from projects.models import Project


@admin.register(Project)
class ProjectAdmin(ListAdmin):
    list_display = ["name", "status", "auto_update", "created_by", "created_at"]
    list_filter = ["status", "auto_update"]
    search_fields = ["name", "description", "arn"]
    list_select_related = ["created_by"]
