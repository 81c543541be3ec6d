from django.contrib import admin

from projects.models import Project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "auto_update", "created_by", "created_at"]
    list_filter = ["status", "auto_update"]
    search_fields = ["name", "description", "arn"]
