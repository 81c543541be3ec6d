from django.urls import path

from bulk_analysis import views

urlpatterns = [
    path("", views.list_jobs, name="bulk-list"),
]
