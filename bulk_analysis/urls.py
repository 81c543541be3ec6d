from django.urls import path

from bulk_analysis import views

urlpatterns = [
    path("", views.list_jobs, name="bulk-list"),
    path("new/", views.new_job, name="bulk-new"),
    path("<int:pk>/", views.job_detail, name="bulk-detail"),
    path("<int:pk>/upload/", views.upload_images, name="bulk-upload"),
    path("<int:pk>/start/", views.start_job, name="bulk-start"),
    path("<int:pk>/cancel/", views.cancel_job, name="bulk-cancel"),
    path("<int:pk>/results.manifest", views.download_results, name="bulk-results"),
    path("<int:pk>/manifest-summary.json", views.download_summary, name="bulk-summary"),
    path("<int:pk>/images/<int:line>/", views.image, name="bulk-image"),
    path("<int:pk>/images/<int:line>/thumbnail/", views.thumbnail, name="bulk-thumbnail"),
]
